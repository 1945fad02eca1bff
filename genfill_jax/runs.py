"""A run directory: the config it trained with (<workdir>/config.json) and its checkpoints.

`restore_run(workdir)` is the one way to get a trained run back, for
evaluation, inpainting, the web page and the tests.
"""

import json
from typing import NamedTuple

import ml_collections
from etils import epath

from genfill_jax import checkpoint, config_checks, errors, gan_state, parallel


class RunNotFoundError(errors.UserError, FileNotFoundError):
  """A workdir that holds no run (no config.json) or not the checkpoint asked for."""


class RunMismatchError(errors.UserError, ValueError):
  """A checkpoint whose arrays do not fit the models the config asks for."""


class Run(NamedTuple):
  """A restored run: its config and the game at one checkpoint."""

  config: ml_collections.ConfigDict
  state: gan_state.GanState


def config_path(workdir: str) -> epath.Path:
  """Where a run's config lives: <workdir>/config.json."""
  return epath.Path(workdir) / "config.json"


def save_config(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Writes `config` to <workdir>/config.json (training does, on process 0)."""
  config_path(workdir).write_text(config.to_json_best_effort(indent=2))


# Fields renamed since earlier runs wrote their config.json: old -> new.
_RENAMED_FIELDS = {
    "train.gan_start_step": "train.filler_start_step",
    "train.hole_predictor_steps": "train.hole_predictor_end_step",
}
# Fields added since, with the value that reproduces what earlier runs did.
_ADDED_FIELDS = {
    "compute_dtype": "float32",
    "platform": "",
    "data.reduced_decoding": False,
    "data.large_image_size": 0,
    "data.large_batch_size": 4,
    "data.large_crop_every": 2,
    "data.large_crops_train_hole_predictor": True,
    "data.validation_dir": "",
    "data.train_crop_scale": (),
    "data.hue_rotation": 0.0,
    "data.saturation_scale": 1.0,
    "data.gray_tint_probability": 0.0,
    "data.train_crop_area_sampling": "uniform",
    "data.builtin_validation_photos": ("stereo_motorcycle_left", "stereo_motorcycle_right"),
    "eval.split": "test",
    "eval.lpips_nets": (),
    "loss.perceptual": 0.0,
    "loss.perceptual_fraction": 1.0,
    "loss.perceptual_stages": 3,
    "loss.style": 0.0,
    "loss.style_window": 0,
    "hole_predictor.threshold": 0.5,
    "hole_predictor.dilation": 0,
    "hole_predictor.grow_threshold": 0.0,
    "hole_predictor.pixel_features": 0,
    "hole_predictor.head_layers": 0,
    "filler.harmonic_iterations": 200,
    "filler.harmonic_solver": "jacobi",
    "filler.harmonic_tolerance": 1e-3,
    "filler.res_block": "conv",
    "filler.opencv_guesses": (),
    "filler.pixel_features": 0,
    "filler.head_layers": 0,
    "filler.pixel_reach": 0,
    "filler.upsampling": "shuffle",
    "filler.downsampling": "patch",
    "hole_predictor.downsampling": "patch",
    "discriminator.downsampling": "patch",
    "filler.stem_features": 0,
    "holes.gray_noise_fraction": 0.0,
    "train.discriminator_augmentation": (),
    "hole_predictor.test_time_flips": False,
    "filler.test_time_flips": "none",
    # Inference settings do not change what a run learned: earlier runs get
    # configs/default.py's.
    "inference.strategy": "crop",
    "inference.size_limit": 256,
    "inference.crop_margin": 0.5,
    "inference.crop_min_margin": 16,
}


def migrate_config(stored: dict) -> dict:
  """A config.json of any earlier run, in the fields of today's code (a new dict)."""
  migrated = json.loads(json.dumps(stored))
  for old, new in _RENAMED_FIELDS.items():
    old_section, old_name = old.split(".")
    new_section, new_name = new.split(".")
    if old_name in migrated.get(old_section, {}):
      migrated[new_section][new_name] = migrated[old_section].pop(old_name)
  for field, value in _ADDED_FIELDS.items():
    *sections, name = field.split(".")
    node = migrated
    for section in sections:
      node = node.setdefault(section, {})
    node.setdefault(name, value)
  return migrated


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run was trained with, migrated; RunNotFoundError if `workdir` is no run."""
  path = config_path(workdir)
  if not path.is_file():
    raise RunNotFoundError(
        f"{path} not found: {workdir!r} is not a genfill_jax run directory "
        f"(training writes config.json there)")
  config = ml_collections.ConfigDict(migrate_config(json.loads(path.read_text())))
  config_checks.check_for_inference(config)
  return config


# What the models compute: a checkpoint evaluated with other values of these is
# another model than the one that trained.
MODEL_SECTIONS = ("compute_dtype", "hole_predictor", "filler", "discriminator", "holes")
# The fields of those sections that act only when a trained run is used: other
# values use the same weights another way (blind mode's mask, test-time flips).
TEST_TIME_FIELDS = ("hole_predictor.test_time_flips", "hole_predictor.threshold",
                    "hole_predictor.dilation", "hole_predictor.grow_threshold",
                    "filler.test_time_flips")


def model_differences(stored: ml_collections.ConfigDict, config: ml_collections.ConfigDict,
                      test_time: bool | None = None) -> list[str]:
  """'<field>: run <stored value>, now <value>' for each field of `MODEL_SECTIONS`
  where `config` differs from the run's `stored` config: every such field, or with
  `test_time` True only `TEST_TIME_FIELDS`, with False all but those."""
  def flat(node, prefix=""):
    if isinstance(node, dict):
      return {name: value for key, child in node.items()
              for name, value in flat(child, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}
  before, now = (flat({section: json.loads(c.to_json_best_effort()).get(section)
                       for section in MODEL_SECTIONS}) for c in (stored, config))
  return [f"{field}: run {before.get(field)!r}, now {now.get(field)!r}"
          for field in sorted(set(before) | set(now))
          if before.get(field) != now.get(field)
          and (test_time is None or (field in TEST_TIME_FIELDS) == test_time)]


def restore_run(workdir: str, step: int | None = None,
                config: ml_collections.ConfigDict | None = None, mesh=None) -> Run:
  """Restores checkpoint `step` (default the latest) of the run in `workdir`.

  config: the run's own (config.json) unless given; evaluation passes the
  command line's, which may evaluate at another image size. mesh: where the
  state is replicated (default: all devices).
  """
  config = load_config(workdir) if config is None else config
  mesh = parallel.create_mesh() if mesh is None else mesh
  manager = checkpoint.create_manager(workdir, keep=1, read_only=True)
  try:
    state = checkpoint.restore(manager, gan_state.abstract_gan_state(config, mesh), step)
  except FileNotFoundError as error:
    raise RunNotFoundError(str(error)) from error
  except ValueError as error:  # Orbax: a stored array of another shape than asked for
    differences = model_differences(load_config(workdir), config)
    if not differences:  # not the user's settings: keep the traceback
      raise
    raise RunMismatchError(
        f"the checkpoint in {workdir} does not fit the models of this config "
        f"({str(error).split('. ')[0]}); model settings that differ from its "
        f"config.json: {'; '.join(differences)}") from error
  finally:
    manager.close()
  return Run(config, state)


def with_overrides(config: ml_collections.ConfigDict,
                   overrides: dict) -> ml_collections.ConfigDict:
  """A copy of a run's config with some fields ({"section.name": value}) changed,
  checked for inference; unknown fields are a ConfigError."""
  changed = ml_collections.ConfigDict(config.to_dict())
  for field, value in overrides.items():
    *sections, name = field.split(".")
    node = changed
    for section in sections:
      node = node.get(section)
      if not isinstance(node, ml_collections.ConfigDict):
        break
    if not isinstance(node, ml_collections.ConfigDict) or name not in node:
      raise config_checks.ConfigError(f"config.{field} does not exist; cannot override it")
    node[name] = value
  config_checks.check_for_inference(changed)
  return changed

