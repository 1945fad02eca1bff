"""genFill's networks built from a config, plus helpers to initialise them."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from genfill_jax.models.blocks import DownScale, Res, Upscale, pixel_shuffle
from genfill_jax.models.networks import Discriminator, Filler, HolePredictor, resize_hole_map

__all__ = [
    "DownScale", "Res", "Upscale", "pixel_shuffle", "HolePredictor", "Filler",
    "Discriminator", "Models", "create_models", "example_inputs",
    "abstract_variables", "count_params", "resize_hole_map", "COMPUTE_DTYPES",
]

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
COMPUTE_DTYPES = tuple(_DTYPES)  # the choices of config.compute_dtype


class Models(NamedTuple):
  """The three networks of one config."""

  hole_predictor: HolePredictor
  filler: Filler
  discriminator: Discriminator


def _common(model_config: ml_collections.ConfigDict, dtype: Any,
            batch_norm_axis_name: str | None) -> dict:
  return dict(
      batch_norm_axis_name=batch_norm_axis_name,
      num_downscales=model_config.num_downscales,
      num_res_blocks=model_config.num_res_blocks,
      base_width=model_config.base_width,
      norm_pattern=model_config.norm_pattern,
      downsampling=model_config.downsampling,
      dtype=dtype,
  )


def create_models(config: ml_collections.ConfigDict,
                  batch_norm_axis_name: str | None = None) -> Models:
  """Builds the three modules from `config.hole_predictor`, `.filler`, `.discriminator`.

  batch_norm_axis_name: the mapped device axis, for batch statistics over all
  devices when training data-parallel; None elsewhere.
  """
  dtype = _DTYPES[config.compute_dtype]
  return Models(
      hole_predictor=HolePredictor(
          output_resolution=config.hole_predictor.output_resolution,
          pixel_features=config.hole_predictor.pixel_features,
          head_layers=config.hole_predictor.head_layers,
          **_common(config.hole_predictor, dtype, batch_norm_axis_name),
      ),
      filler=Filler(
          hole_map_input=config.filler.hole_map_input,
          hole_fill=config.filler.hole_fill,
          harmonic_solver=config.filler.harmonic_solver,
          harmonic_iterations=config.filler.harmonic_iterations,
          harmonic_tolerance=config.filler.harmonic_tolerance,
          res_block=config.filler.res_block,
          opencv_guesses=tuple(config.filler.opencv_guesses),
          pixel_features=config.filler.pixel_features,
          head_layers=config.filler.head_layers,
          pixel_reach=config.filler.pixel_reach,
          upsampling=config.filler.upsampling,
          stem_features=config.filler.stem_features,
          **_common(config.filler, dtype, batch_norm_axis_name),
      ),
      discriminator=Discriminator(**_common(config.discriminator, dtype, batch_norm_axis_name)),
  )


def example_inputs(model: Any, image_size: int, batch_size: int = 1) -> tuple:
  """Zero inputs of the right shapes for `model.init` / `model.apply`."""
  image = jnp.zeros((batch_size, image_size, image_size, 3), jnp.float32)
  if isinstance(model, Filler):
    hole_map = jnp.zeros((batch_size, image_size, image_size, 1), jnp.float32)
    return image, hole_map
  if isinstance(model, Discriminator):
    return image, image
  return (image,)


def abstract_variables(model: Any, image_size: int) -> dict:
  """The variables of `model` as ShapeDtypeStructs; nothing is allocated."""
  inputs = example_inputs(model, image_size)
  return jax.eval_shape(lambda: model.init(jax.random.key(0), *inputs))


def count_params(variables: dict) -> int:
  """Number of trainable parameters (the 'params' collection only)."""
  return sum(int(x.size) for x in jax.tree.leaves(variables["params"]))
