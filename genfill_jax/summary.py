"""`--mode=summary`: parameter counts and a per-layer overview of the three models.

Everything is computed with `jax.eval_shape`, so even the 136M-parameter seed
models are summarised without allocating their weights.
"""

import jax
import ml_collections

from genfill_jax import models

# In the order data flows through them.
_BLOCK_TYPES = {
    "downscalers_": "DownScale", "res_blocks_": "Res", "upscalers_": "Upscale",
    # The full-resolution branch on a network's input pixels (pixel_features).
    "pixel_conv": "Conv 3x3", "pixel_prelu": "PReLU",
    # The nonlinear head on the joined full-resolution features (head_layers).
    "head_conv": "Conv 3x3", "head_prelu": "PReLU",
    "final_conv": "Conv 3x3",
    "blend_conv": "Conv 3x3",  # The filler's per-pixel weights of its first guesses.
}


def _flow_order(layer: str) -> tuple[int, int, int]:
  stack = layer.rstrip("0123456789")
  index = int(layer[len(stack):] or 0)
  rank = list(_BLOCK_TYPES).index(stack)
  if stack.endswith("_prelu"):  # pixel_conv0, pixel_prelu0, pixel_conv1, ...
    return rank - 1, index, 1
  return rank, index, 0


def _layer_rows(model, image_size: int) -> list[tuple[str, str, str, int]]:
  """(layer name, block type, output shape, parameters) for each top-level layer."""
  inputs = models.example_inputs(model, image_size)

  def init_and_capture():
    variables = model.init(jax.random.key(0), *inputs)
    _, state = model.apply(variables, *inputs, capture_intermediates=True)
    return variables, state["intermediates"]

  variables, intermediates = jax.eval_shape(init_and_capture)
  rows = []
  for name in sorted(variables["params"], key=_flow_order):
    params = variables["params"][name]
    outputs = intermediates[name]["__call__"][0]
    block = _BLOCK_TYPES[name.rstrip("0123456789")]
    shape = "x".join(str(dim) for dim in outputs.shape[1:])
    count = sum(leaf.size for leaf in jax.tree.leaves(params))
    rows.append((name, block, shape, count))
  return rows


def format_model_summary(name: str, model, image_size: int) -> str:
  """A short table for one model: its layers, their outputs and parameters."""
  rows = _layer_rows(model, image_size)
  total = models.count_params(models.abstract_variables(model, image_size))
  lines = [
      f"{name}: {total:,} parameters (k={model.num_downscales}, "
      f"r={model.num_res_blocks}, base_width={model.base_width}, "
      f"norm={model.norm_pattern})"
  ]
  lines.append(f"  {'layer':<14} {'block':<10} {'output (HxWxC)':<16} {'parameters':>12}")
  for layer, block, shape, count in rows:
    lines.append(f"  {layer:<14} {block:<10} {shape:<16} {count:>12,}")
  return "\n".join(lines)


def summarize(config: ml_collections.ConfigDict) -> str:
  """The summary of all three models at `config.data.image_size`."""
  networks = models.create_models(config)
  size = config.data.image_size
  sections = [f"Models at {size}x{size} px (batch of 1 shown; NHWC)."]
  for name, model in networks._asdict().items():
    sections.append(format_model_summary(name, model, size))
  return "\n\n".join(sections)
