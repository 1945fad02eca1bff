"""Importing original PyTorch state dicts: keys, shapes and error messages."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from configs import seed
from genfill_jax import models, torch_import, torch_reference

KEYS_FILE = Path(__file__).parent / "data" / "original_state_dict_keys.txt"


def _original_listing():
  """{model heading: {key: shape}} from the original's recorded state dicts."""
  listing, current = {}, None
  for line in KEYS_FILE.read_text().splitlines():
    heading = re.match(r"## (\w+)\(", line)
    if heading:
      current = listing.setdefault(heading.group(1), {})
    elif current is not None and line.strip():
      key, shape = line.split(" ", 1)
      current[key] = [int(dim) for dim in re.findall(r"\d+", shape)]
  return listing


def _seed_references():
  with torch.device("meta"):  # shapes only: nothing is allocated
    return {
        "Filler": torch_reference.FillerModel(4, 12),
        "Discriminator": torch_reference.Discriminator(4, 12),
        "HolePredictor": torch_reference.HolePredictorModel(4, 2),
    }


def test_reference_has_exactly_the_original_keys_and_shapes():
  listing = _original_listing()
  for name, reference in _seed_references().items():
    actual = {key: list(value.shape) for key, value in reference.state_dict().items()}
    assert actual == listing[name], name


def test_every_original_key_maps_to_a_flax_variable_of_the_same_size():
  listing = _original_listing()
  built = models.create_models(seed.get_config())
  pairs = {"HolePredictor": built.hole_predictor, "Filler": built.filler,
           "Discriminator": built.discriminator}
  for name, model in pairs.items():
    variables = models.abstract_variables(model, 128)
    sizes = {}
    for collection, tree in variables.items():
      for path, leaf in _flatten(tree):
        sizes[torch_import.torch_key(collection, path)] = int(np.prod(leaf.shape))
    expected = {key: int(np.prod(shape)) for key, shape in listing[name].items()
                if not key.endswith("num_batches_tracked")}
    assert sizes == expected, name


def _flatten(tree, prefix=()):
  for key, value in tree.items():
    if isinstance(value, dict):
      yield from _flatten(value, prefix + (key,))
    else:
      yield prefix + (key,), value


def _small_pair():
  reference = torch_reference.FillerModel(2, 2, base_width=4)
  return reference, models.Filler(2, 2, base_width=4)


def test_import_converts_layouts_and_statistics():
  reference, flax_model = _small_pair()
  torch_reference.randomise_buffers_and_slopes(reference, torch.Generator().manual_seed(0))
  variables = torch_import.import_model(reference.state_dict(), flax_model)
  kernel = variables["params"]["downscalers_0"]["conv"]["kernel"]
  np.testing.assert_array_equal(
      kernel, reference.downscalers[0].conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
  assert variables["params"]["res_blocks_1"]["prelu2"]["negative_slope"].shape == ()
  assert float(variables["params"]["res_blocks_1"]["prelu2"]["negative_slope"]) == (
      pytest.approx(float(reference.resBlocks[1].relu2.weight.detach())))
  np.testing.assert_array_equal(
      variables["batch_stats"]["upscalers_0"]["norm"]["var"],
      reference.upscalers[0].normBlock.running_var.numpy())


def test_missing_key_is_named():
  reference, flax_model = _small_pair()
  state = reference.state_dict()
  del state["resBlocks.1.conv2.weight"]
  with pytest.raises(torch_import.StateDictMismatchError,
                     match=r"missing key 'resBlocks\.1\.conv2\.weight'"):
    torch_import.import_model(state, flax_model)


def test_unexpected_key_is_named():
  reference, flax_model = _small_pair()
  state = reference.state_dict()
  state["attention.weight"] = torch.zeros(3)
  with pytest.raises(torch_import.StateDictMismatchError,
                     match=r"unexpected key 'attention\.weight'"):
    torch_import.import_model(state, flax_model)


def test_misshaped_key_is_named():
  reference, flax_model = _small_pair()
  state = reference.state_dict()
  state["finalConv.weight"] = torch.zeros(3, 8, 3, 3)
  with pytest.raises(torch_import.StateDictMismatchError,
                     match=r"key 'finalConv\.weight' has shape \[3, 8, 3, 3\]"):
    torch_import.import_model(state, flax_model)


def test_batch_norm_counters_are_optional_but_only_beside_their_norm():
  reference, flax_model = _small_pair()
  state = reference.state_dict()
  del state["downscalers.0.normBlock.num_batches_tracked"]
  torch_import.import_model(state, flax_model)  # as PyTorch allows
  state["downscalers.1.normBlock.num_batches_tracked"] = torch.tensor(3)
  with pytest.raises(torch_import.StateDictMismatchError,
                     match=r"unexpected key 'downscalers\.1\.normBlock"):
    torch_import.import_model(state, flax_model)


def test_state_dict_file_round_trip(tmp_path):
  reference, flax_model = _small_pair()
  path = tmp_path / "filler.pt"
  torch.save(reference.state_dict(), path)
  variables = torch_import.import_model(torch_import.load_torch_state_dict(str(path)),
                                        flax_model)
  np.testing.assert_array_equal(
      variables["params"]["final_conv"]["bias"], reference.finalConv.bias.detach().numpy())
