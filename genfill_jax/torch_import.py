"""Original genFill PyTorch weights -> Flax variables.

The original's state-dict keys (listed in `tests/data/original_state_dict_keys.txt`)
map one to one onto our Flax variables:

  downscalers.{i}.conv1.weight        params/downscalers_{i}/conv/kernel
  downscalers.{i}.relu.weight         params/downscalers_{i}/prelu/negative_slope
  downscalers.{i}.normBlock.weight    params/downscalers_{i}/norm/scale
  downscalers.{i}.normBlock.running_mean  batch_stats/downscalers_{i}/norm/mean
  resBlocks.{i}.conv{1,2}, relu{1,2}, norm{1,2}   res_blocks_{i}/conv{n}, prelu{n}, norm{n}
  upscalers.{i}.conv1, relu, normBlock            upscalers_{i}/conv, prelu, norm
  finalConv                                       final_conv

Conv kernels go from PyTorch's (out, in, kh, kw) to Flax's (kh, kw, in, out),
PReLU slopes from shape [1] to a scalar. `num_batches_tracked` is accepted and
ignored (and may be absent, as PyTorch itself allows).
"""

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from genfill_jax import models

_STACKS = {"downscalers": "downscalers", "res_blocks": "resBlocks", "upscalers": "upscalers"}
_LAYERS = {
    "conv": "conv1", "prelu": "relu", "norm": "normBlock",
    "conv1": "conv1", "conv2": "conv2", "prelu1": "relu1", "prelu2": "relu2",
    "norm1": "norm1", "norm2": "norm2",
}
_LEAVES = {
    ("params", "kernel"): "weight",
    ("params", "bias"): "bias",
    ("params", "negative_slope"): "weight",
    ("params", "scale"): "weight",
    ("batch_stats", "mean"): "running_mean",
    ("batch_stats", "var"): "running_var",
}
_IGNORED_SUFFIX = ".num_batches_tracked"


class StateDictMismatchError(KeyError):
  """A state dict does not fit the Flax model: missing, unexpected or mis-shaped keys."""

  def __str__(self) -> str:
    return str(self.args[0])


def torch_key(collection: str, path: tuple[str, ...]) -> str:
  """The original PyTorch state-dict key for a Flax variable path."""
  *modules, leaf = path
  parts = []
  for module in modules:
    stack, _, index = module.rpartition("_")
    if stack in _STACKS and index.isdigit():
      parts += [_STACKS[stack], index]
    elif module == "final_conv":
      parts.append("finalConv")
    elif module in _LAYERS:
      parts.append(_LAYERS[module])
    else:
      raise ValueError(f"no PyTorch name for Flax module {module!r} in {path}")
  parts.append(_LEAVES[(collection, leaf)])
  return ".".join(parts)


def _to_flax(leaf: str, value: np.ndarray) -> np.ndarray:
  if leaf == "kernel":
    return value.transpose(2, 3, 1, 0)
  if leaf == "negative_slope":
    return value.reshape(())
  return value


def _to_numpy(value: Any) -> np.ndarray:
  if hasattr(value, "detach"):  # a torch.Tensor; torch itself is not needed here
    value = value.detach().cpu().numpy()
  # A copy: torch shares memory with its parameters and updates buffers in place.
  return np.array(value, dtype=np.float32, copy=True)


def convert_state_dict(
    state_dict: Mapping[str, Any], reference_variables: Mapping[str, Any]
) -> dict:
  """Converts an original genFill state dict to Flax variables.

  Args:
    state_dict: PyTorch key -> tensor (or array), with the original's key names.
    reference_variables: the Flax variables the result must match, e.g. from
      `genfill_jax.models.abstract_variables`; only their shapes are used.

  Returns:
    {'params': ..., 'batch_stats': ...} with the structure of the reference.

  Raises:
    StateDictMismatchError: naming every missing, unexpected or mis-shaped key.
  """
  problems, used = [], set()

  def convert(collection, key_path, reference):
    path = tuple(entry.key for entry in key_path)
    name = torch_key(collection, path)
    used.add(name)
    if name not in state_dict:
      problems.append(f"missing key {name!r} (for {collection}/{'/'.join(path)})")
      return None
    value = _to_flax(path[-1], _to_numpy(state_dict[name]))
    if value.shape != tuple(reference.shape):
      problems.append(
          f"key {name!r} has shape {list(_to_numpy(state_dict[name]).shape)}, "
          f"which does not fit {collection}/{'/'.join(path)} {tuple(reference.shape)}"
      )
      return None
    return value

  result = {
      collection: jax.tree_util.tree_map_with_path(
          lambda key_path, ref, c=collection: convert(c, key_path, ref),
          reference_variables[collection],
      )
      for collection in reference_variables
  }
  norm_prefixes = {key.rsplit(".", 1)[0] for key in used if key.endswith("running_mean")}
  for key in state_dict:
    if key in used:
      continue
    if key.endswith(_IGNORED_SUFFIX) and key[: -len(_IGNORED_SUFFIX)] in norm_prefixes:
      continue
    problems.append(f"unexpected key {key!r}")
  if problems:
    raise StateDictMismatchError(
        f"state dict does not match the model ({len(problems)} problem(s)): "
        + "; ".join(problems)
    )
  return result


def import_model(state_dict: Mapping[str, Any], model: Any) -> dict:
  """Flax variables for `model` (a genfill_jax module) from an original state dict."""
  # Parameter shapes do not depend on the image size; any valid size will do.
  smallest_size = 2 ** (model.num_downscales + 1)
  return convert_state_dict(state_dict, models.abstract_variables(model, smallest_size))


def load_torch_state_dict(path: str) -> dict:
  """Reads a PyTorch state-dict file (`torch.save(model.state_dict(), path)`)."""
  import torch  # pylint: disable=g-import-not-at-top  # only needed for files

  return torch.load(path, map_location="cpu", weights_only=True)
