"""Config checks: every unusable field is refused by name, before anything is written or
compiled; old runs' config.json files are migrated."""

import json
import shutil

import jax
import pytest

from configs import default
from genfill_jax import config_checks, inpaint, runs, train

from helpers import recorded_compiles, tiny_config

BAD_FIELDS = [
    ("train.num_train_steps", 0, "config.train.num_train_steps=0 must be positive"),
    ("train.checkpoint_every_steps", -5,
     "config.train.checkpoint_every_steps=-5 must be positive"),
    ("train.recipe", "magic", "config.train.recipe='magic' must be one of"),
    ("data.batch_size", 12, "config.data.batch_size=12 must be a positive multiple of the "
                            "device count \\(8\\)"),
    ("data.image_size", 36, "config.data.image_size=36 must be a positive multiple of 8"),
    ("holes.corruption", "fog", "config.holes.corruption='fog' must be one of"),
    ("holes.weights", {"blocks": 1.0, "clouds": 1.0},
     "config.holes.weights\\['clouds'\\]='clouds' must be one of"),
    ("eval.families", ("box", "clouds"), "config.eval.families='clouds' must be one of"),
    ("eval.num_examples", 12, "config.eval.num_examples=12 must be a positive multiple of "
                              "config.data.batch_size=8"),
    ("data.source", "folder", "config.data.validation_dir='' is not a directory"),
    ("data.builtin_train_photos", ("astronaut", "selfie"),
     "config.data.builtin_train_photos=\\('astronaut', 'selfie'\\) cannot be used: 'selfie' "
     "is not a built-in photo"),
    ("data.builtin_train_photos", ("camera@0.5:0.25",),
     "config.data.builtin_train_photos=\\('camera@0.5:0.25',\\) cannot be used: "
     "'camera@0.5:0.25': the band of columns must be start:stop with 0 <= start < stop <= 1"),
    ("data.builtin_train_photos", ("camera", "coffee@0:0.5"),
     "config.data.builtin_test_photos=\\('coffee',\\) shares pixels of \\['coffee'\\] with "
     "config.data.builtin_train_photos"),
    ("hole_predictor.pixel_features", -1, "config.hole_predictor.pixel_features=-1 must be"),
    ("hole_predictor.head_layers", -1, "config.hole_predictor.head_layers=-1 must be"),
    ("filler.pixel_features", -1, "config.filler.pixel_features=-1 must be"),
    ("filler.head_layers", -2, "config.filler.head_layers=-2 must be"),
    ("filler.pixel_reach", 4, "config.filler.pixel_reach=4 limits the full-resolution"),
    ("compute_dtype", "float16", "config.compute_dtype='float16' must be one of"),
    ("filler.norm_pattern", "odd", "config.filler.norm_pattern='odd' must be one of"),
    ("filler.hole_map_input", "side", "config.filler.hole_map_input='side' must be one of"),
    ("filler.test_time_flips", "up_down",
     "config.filler.test_time_flips='up_down' must be one of"),
    ("hole_predictor.output_resolution", "half",
     "config.hole_predictor.output_resolution='half' must be one of"),
    ("data.crop", "center", "config.data.crop='center' must be one of"),
    ("data.crop_scale", (0.5, 0.2), "config.data.crop_scale=\\(0.5, 0.2\\) must be"),
    ("data.train_crop_scale", (0.0, 1.0), "config.data.train_crop_scale=\\(0.0, 1.0\\) must be"),
    ("data.train_crop_area_sampling", "normal",
     "config.data.train_crop_area_sampling='normal' must be one of"),
    ("optim.filler.schedule", "linear", "config.optim.filler.schedule='linear' must be one of"),
    ("optim.discriminator.b1", 1.0, "config.optim.discriminator.b1=1.0 must be in \\[0, 1\\)"),
    ("train.ema_decay", 1.5, "config.train.ema_decay=1.5 must be in \\[0, 1\\]"),
    ("loss.l1_hole", -1.0, "config.loss.l1_hole=-1.0 must be >= 0"),
    ("loss.perceptual_fraction", 0.0,
     "config.loss.perceptual_fraction=0.0 must be in \\(0, 1\\]"),
    ("loss.perceptual_fraction", 1.5,
     "config.loss.perceptual_fraction=1.5 must be in \\(0, 1\\]"),
    ("loss.style_window", 6, "config.loss.style_window=6 must be a multiple of 4"),
    ("loss.style_window", 24, "config.loss.style_window=24 must divide data.image_size=32"),
    ("holes.max_fraction", 0.0, "config.holes.max_fraction=0.0 must be in \\(0, 1\\]"),
    ("holes.gray_noise_fraction", 1.5,
     "config.holes.gray_noise_fraction=1.5 must be in \\[0, 1\\]"),
    ("hole_predictor.grow_threshold", 0.3,
     "config.hole_predictor.grow_threshold=0.3 must be 0 \\(off\\) or in \\(0, "),
    ("filler.opencv_guesses", ("photoshop",),
     "config.filler.opencv_guesses=\\('photoshop',\\) must name distinct methods among"),
    ("filler.opencv_guesses", ("telea", "telea"),
     "config.filler.opencv_guesses=\\('telea', 'telea'\\) must name distinct methods"),
]


@pytest.mark.parametrize("field", ["pixel_features", "head_layers"])
def test_full_resolution_layers_need_full_resolution_outputs(field):
  config = tiny_config()
  config.hole_predictor.output_resolution = "cells"
  config.hole_predictor.pixel_features = config.hole_predictor.head_layers = 0
  config_checks.check_for_inference(config)
  config.hole_predictor[field] = 1
  with pytest.raises(config_checks.ConfigError,
                     match=f"^config.hole_predictor.{field}=1 must be 0, or positive with "
                           "output_resolution='full'"):
    config_checks.check_for_inference(config)


@pytest.mark.parametrize("large,message", [
    ((36, 8, 2), "config.data.large_image_size=36 must be a positive multiple of"),
    ((40, 8, 2), "config.data.large_image_size=40 must be a multiple of "
                 "config.holes.blocks.cell_size=16"),
    ((64, 16, 2), "config.data.large_batch_size=16 must be a positive multiple of the "
                  "device count \\(8\\) and at most config.data.batch_size=8"),
    ((64, 4, 2), "config.data.large_batch_size=4 must be a positive multiple of"),
    ((64, 8, 0), "config.data.large_crop_every=0 must be positive"),
])
def test_bad_multi_scale_settings_are_refused_by_name(large, message):
  config = tiny_config()
  config.holes.blocks.cell_size = 16
  (config.data.large_image_size, config.data.large_batch_size,
   config.data.large_crop_every) = large
  with pytest.raises(config_checks.ConfigError, match=f"^{message}"):
    config_checks.check_for_training(config, jax.device_count())


def _set(config, field, value):
  *sections, name = field.split(".")
  node = config
  for section in sections:
    node = node[section]
  node[name] = value


@pytest.mark.parametrize("field,value,message", BAD_FIELDS)
def test_a_bad_field_is_refused_by_name(field, value, message):
  config = tiny_config()
  _set(config, field, value)
  with pytest.raises(config_checks.ConfigError, match=f"^{message}"):
    config_checks.check_for_training(config, jax.device_count())


def test_a_style_window_must_divide_the_large_training_size_too():
  config = tiny_config()
  config.data.large_image_size, config.data.large_batch_size = 48, 8
  config.loss.style_window = 32
  with pytest.raises(config_checks.ConfigError,
                     match="^config.loss.style_window=32 must divide data.large_image_size=48"):
    config_checks.check_for_training(config, jax.device_count())
  config.loss.style_window = 16
  config_checks.check_for_training(config, jax.device_count())


def test_the_shipped_configs_pass():
  from configs import ablation_original_recipe, default, gpu, seed, tiny, tpu

  # Each on the device counts it is meant for, up to one example per device
  # where every batch allows it (default's multi-scale batch of 4 does not).
  for module, device_counts in ((default, (1, 2, 4)), (seed, (1, 16)), (tiny, (1, 8)),
                                (ablation_original_recipe, (1, 16)), (tpu, (4, 8, 128)),
                                (gpu, (1,))):
    for device_count in device_counts:
      config_checks.check_for_training(module.get_config(), device_count)


def test_the_default_multi_scale_batch_is_refused_on_eight_devices():
  from configs import default

  with pytest.raises(config_checks.ConfigError, match="data.large_batch_size=4"):
    config_checks.check_for_training(default.get_config(), 8)


def test_training_refuses_before_writing_or_compiling_anything(tmp_path):
  config = tiny_config()
  config.optim.filler.schedule = "linear"
  with recorded_compiles() as compiles, pytest.raises(config_checks.ConfigError,
                                                     match="config.optim.filler.schedule"):
    train.train_and_evaluate(config, str(tmp_path / "run"))
  assert compiles == []
  assert not (tmp_path / "run").exists()


def _as_written_by_an_earlier_version(workdir):
  """Rewrites config.json in the fields of earlier runs (before the renames, and
  without the fields added since, where their value was the default then)."""
  path = workdir / "config.json"
  stored = json.loads(path.read_text())
  stored["train"]["gan_start_step"] = stored["train"].pop("filler_start_step")
  stored["train"]["hole_predictor_steps"] = stored["train"].pop("hole_predictor_end_step")
  assert stored.pop("compute_dtype") == "float32"
  assert stored["filler"].pop("harmonic_solver") == "multigrid"  # configs/tiny.py's
  del stored["filler"]["harmonic_tolerance"], stored["filler"]["harmonic_iterations"]
  for network in ("hole_predictor", "discriminator"):  # configs/tiny.py's: the original's
    assert stored[network].pop("downsampling") == "patch"
  del stored["inference"]
  path.write_text(json.dumps(stored))
  return stored


def test_opencv_guesses_need_a_first_guess_to_join():
  config = tiny_config()
  config.filler.hole_fill = "none"
  with pytest.raises(config_checks.ConfigError,
                     match="config.filler.opencv_guesses=\\('navier_stokes',\\) needs a first"):
    config_checks.check_for_inference(config)
  config.filler.opencv_guesses = ()
  config_checks.check_for_inference(config)


def test_an_earlier_runs_config_is_migrated(tmp_path, tiny_trained_run):
  workdir = tmp_path / "old_run"
  shutil.copytree(tiny_trained_run, workdir)
  stored = _as_written_by_an_earlier_version(workdir)
  # Earlier fillers had no OpenCV guesses (this run's checkpoint has them, so the
  # restore test below keeps the field).
  del stored["filler"]["opencv_guesses"]
  del stored["holes"]["gray_noise_fraction"]
  del stored["hole_predictor"]["grow_threshold"]
  del stored["hole_predictor"]["head_layers"]
  del stored["filler"]["pixel_features"]
  del stored["filler"]["head_layers"]
  for field in ("large_image_size", "large_batch_size", "large_crop_every",
                "large_crops_train_hole_predictor", "train_crop_scale",
                "train_crop_area_sampling"):
    del stored["data"][field]
  (workdir / "config.json").write_text(json.dumps(stored))
  config = runs.load_config(str(workdir))
  assert config.train.filler_start_step == stored["train"]["gan_start_step"]
  assert config.train.hole_predictor_end_step == stored["train"]["hole_predictor_steps"]
  assert config.compute_dtype == "float32" and config.filler.harmonic_iterations == 200
  assert config.filler.harmonic_solver == "jacobi"  # what earlier runs' fillers started from
  assert config.filler.opencv_guesses == ()
  assert config.holes.gray_noise_fraction == 0.0  # colour noise, as they trained
  assert config.hole_predictor.grow_threshold == 0.0  # holes not grown, as they found them
  assert config.hole_predictor.head_layers == 0  # the final conv alone, as they trained
  assert config.filler.pixel_features == config.filler.head_layers == 0  # likewise
  assert config.hole_predictor.downsampling == config.discriminator.downsampling == "patch"
  assert config.data.large_image_size == 0  # one training size, as they trained
  # Multi-scale runs before the flag trained the hole predictor on every step.
  assert config.data.large_crops_train_hole_predictor
  # Training crops as evaluation's, area uniform: torchvision's draw, as they trained.
  assert config.data.train_crop_scale == () and config.data.train_crop_area_sampling == "uniform"
  assert config.inference == default.get_config().inference  # inference: today's settings
  assert "gan_start_step" not in config.train


def test_an_earlier_run_still_restores_for_inpainting(tmp_path, tiny_trained_run):
  workdir = tmp_path / "old_run"
  shutil.copytree(tiny_trained_run, workdir)
  _as_written_by_an_earlier_version(workdir)
  assert inpaint.Inpainter.from_workdir(str(workdir)).step == 2


def test_a_folder_that_is_not_a_run_is_a_user_error(tmp_path):
  with pytest.raises(runs.RunNotFoundError, match="is not a genfill_jax run directory"):
    runs.restore_run(str(tmp_path))


def test_a_checkpoint_of_other_models_is_a_user_error_naming_the_differences(
    tiny_trained_run):
  config = runs.load_config(str(tiny_trained_run))
  config.filler.base_width *= 2
  with pytest.raises(runs.RunMismatchError, match=(
      "does not fit the models of this config .*filler.base_width: run 4, now 8")):
    runs.restore_run(str(tiny_trained_run), config=config)


def test_model_differences_name_each_changed_model_field_and_ignore_the_rest():
  stored = tiny_config()
  config = tiny_config()
  config.filler.harmonic_solver = "jacobi"
  config.hole_predictor.threshold = 0.7
  config.eval.split = "test"  # not a model setting
  config.data.image_size = 128  # nor this: evaluating at another size is allowed
  assert runs.model_differences(stored, config) == [
      "filler.harmonic_solver: run 'conjugate_gradient', now 'jacobi'",
      "hole_predictor.threshold: run 0.3, now 0.7"]
  assert runs.model_differences(stored, tiny_config()) == []
  # --mode=eval warns of the first kind and notes the second (same weights).
  assert runs.model_differences(stored, config, test_time=False) == [
      "filler.harmonic_solver: run 'conjugate_gradient', now 'jacobi'"]
  assert runs.model_differences(stored, config, test_time=True) == [
      "hole_predictor.threshold: run 0.3, now 0.7"]
  for field in runs.TEST_TIME_FIELDS:  # each names a field of the configs
    section, name = field.split(".")
    assert name in stored[section], field


def test_evaluation_refuses_photos_the_run_trained_on():
  trained = tiny_config()  # trains on the whole of astronaut and camera
  config = tiny_config()
  config.eval.split = "validation"
  config.data.builtin_validation_photos = ("stereo_motorcycle_left", "camera@0.75:1")
  with pytest.raises(config_checks.ConfigError,
                     match="config.data.builtin_validation_photos=.* shares pixels of "
                           "\\['camera'\\] with the photos this run trained on .*"
                           "--config.data.builtin_validation_photos="
                           "\"\\('stereo_motorcycle_left',\\)\""):
    config_checks.check_run_never_saw_evaluation_photos(trained, config)
  trained.data.builtin_train_photos = ("astronaut", "camera@0:0.75")
  config_checks.check_run_never_saw_evaluation_photos(trained, config)  # disjoint: fine
