"""Refuses, before anything compiles, a config that cannot work; errors name the field."""

import ml_collections
from etils import epath

from genfill_jax.data import corruption, holes, loader
from genfill_jax.models import blocks, networks
from genfill_jax.train_step import RECIPES


class ConfigError(ValueError):
  """A config field with an unusable value; the message is one line naming the field."""


def _check_positive(config: ml_collections.ConfigDict) -> None:
  for field in ("num_train_steps", "log_every_steps", "eval_every_steps",
                "checkpoint_every_steps", "keep_checkpoints"):
    if config.train[field] <= 0:
      raise ConfigError(f"config.train.{field} must be positive, got {config.train[field]}")
  if config.eval.num_examples <= 0:
    raise ConfigError(f"config.eval.num_examples must be positive, got {config.eval.num_examples}")


def _check_choice(field: str, value, choices) -> None:
  if value not in choices:
    raise ConfigError(f"config.{field} must be one of {tuple(choices)}, got {value!r}")


def _check_names(config: ml_collections.ConfigDict) -> None:
  _check_choice("train.recipe", config.train.recipe, RECIPES)
  _check_choice("train.filler_condition", config.train.filler_condition,
                ("true_mask", "predicted"))
  _check_choice("holes.corruption", config.holes.corruption, corruption.MODES)
  _check_choice("holes.predictor_corruption", config.holes.predictor_corruption,
                corruption.MODES)
  _check_choice("hole_predictor.output_resolution", config.hole_predictor.output_resolution,
                networks.HOLE_PREDICTOR_OUTPUTS)
  pixel_features = config.hole_predictor.get("pixel_features", 0)
  if pixel_features < 0 or (pixel_features
                            and config.hole_predictor.output_resolution != "full"):
    raise ConfigError(f"config.hole_predictor.pixel_features={pixel_features} must be 0, "
                      f"or positive with output_resolution='full'")
  _check_choice("filler.hole_map_input", config.filler.hole_map_input, networks.HOLE_MAP_INPUTS)
  _check_choice("filler.hole_fill", config.filler.hole_fill, networks.HOLE_FILLS)
  for family in config.holes.weights:
    _check_choice(f"holes.weights[{family!r}]", family, holes.FAMILIES)
  if sum(config.holes.weights.values()) <= 0 or min(config.holes.weights.values()) < 0:
    raise ConfigError(f"config.holes.weights must be >= 0 with a positive sum, got "
                      f"{dict(config.holes.weights)}")
  for family in config.eval.families:
    _check_choice("eval.families", family, holes.FAMILIES)


def _check_image_size(config: ml_collections.ConfigDict) -> None:
  size = config.data.image_size
  needs = {
      "hole_predictor": blocks.required_multiple(
          config.hole_predictor.num_downscales,
          config.hole_predictor.output_resolution == "full"),
      "filler": blocks.required_multiple(config.filler.num_downscales, True),
      "discriminator": blocks.required_multiple(config.discriminator.num_downscales, False),
  }
  multiple = max(needs.values())
  if size <= 0 or size % multiple:
    model = max(needs, key=needs.get)
    raise ConfigError(
        f"config.data.image_size={size} must be a positive multiple of {multiple} "
        f"(config.{model}.num_downscales={config[model].num_downscales} needs it)")


def _check_data(config: ml_collections.ConfigDict) -> None:
  data = config.data
  _check_choice("data.source", data.source, ("builtin", "folder"))
  if data.source == "folder":
    for field in ("train_dir", "test_dir"):
      if not data[field] or not epath.Path(data[field]).is_dir():
        raise ConfigError(f"config.data.{field}={data[field]!r} is not a directory "
                          f"(data.source='folder' reads images from it)")


def validate_config(config: ml_collections.ConfigDict, device_count: int) -> None:
  """Raises ConfigError naming the first unusable field of `config`."""
  _check_positive(config)
  _check_names(config)
  _check_image_size(config)
  _check_data(config)
  try:
    loader.check_batch_size(config.data.batch_size, device_count)
  except ValueError as error:
    raise ConfigError(str(error)) from None
