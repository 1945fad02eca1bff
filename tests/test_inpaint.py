"""Evaluation and inpainting from the checkpoints of a tiny trained run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from genfill_jax import evaluate, inpaint, inpaint_files, models, runs
from genfill_jax.inpaint import Inpainter

import xla_flags
from helpers import tiny_config
from synthetic import photo as _photo

ROOT = Path(__file__).resolve().parents[1]
ALL_FAMILIES = ("blocks", "box", "thin", "medium", "thick")


@pytest.fixture
def run(tiny_trained_run):
  return tiny_trained_run


def _main(*args, device_count=8):
  return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=300, env=xla_flags.environment(device_count))


def _mask(height, width):
  mask = np.zeros((height, width), bool)
  mask[height // 4: height // 2, width // 3: width // 2] = True
  return mask


def _save(array, path):
  Image.fromarray(array).save(path)
  return path


def test_eval_on_another_device_count_writes_every_family_and_method(run):
  overrides = ["--config.train.num_train_steps=2",
               f"--config.eval.families=({','.join(repr(f) for f in ALL_FAMILIES)},)"]
  result = _main("--config=configs/tiny.py", f"--workdir={run}", "--mode=eval", *overrides,
                 device_count=2)  # trained on 8 devices
  assert result.returncode == 0, result.stderr
  written = json.loads((run / "eval" / "step_2_validation" / "metrics.json").read_text())
  assert written["step"] == 2
  assert set(written["results"]) == set(ALL_FAMILIES)
  for family in ALL_FAMILIES:
    methods = written["results"][family]
    assert set(methods) == set(evaluate.METHODS) | {"hole_predictor"}
    for method in evaluate.METHODS:
      assert np.isfinite(methods[method]["psnr"]) and 0 <= methods[method]["ssim"] <= 1
    assert 0 <= methods["hole_predictor"]["iou"] <= 1
  for family in ALL_FAMILIES:
    grid = np.asarray(Image.open(run / "eval" / "step_2_validation" / f"preview_{family}.png"))
    assert grid.shape == (4 * 32, 7 * 32, 3)  # 4 examples x 7 columns of 32 px
  assert "navier_stokes" in result.stdout and "hole predictor" in result.stdout


def test_evaluations_of_other_sizes_or_images_get_their_own_folders(tmp_path):
  trained = tiny_config()
  runs.save_config(trained, str(tmp_path))

  def folder(**changes):
    config = tiny_config()
    for field, value in changes.items():
      section, name = field.split("__")
      config[section][name] = value
    return evaluate.evaluation_dir(str(tmp_path), 7, config).name

  assert folder() == "step_7_validation"
  assert folder(eval__split="test") == "step_7_test"
  assert folder(data__image_size=64) == "step_7_validation_64px"
  assert folder(data__builtin_validation_photos=("colorwheel",)) == "step_7_validation_colorwheel"
  assert (folder(data__image_size=64, data__builtin_validation_photos=("camera@0.75:1",))
          == "step_7_validation_64px_camera-0-75-1")
  probe = folder(data__source="folder", data__validation_dir="gs://bucket/probes/wheel/")
  assert probe == "step_7_validation_wheel"
  packed = folder(data__source="packed", data__validation_dir="/data/packed_validation")
  assert packed == "step_7_validation_packed_validation"
  many = folder(data__builtin_validation_photos=tuple(f"smooth_colour_{k}" for k in range(9)))
  assert many.startswith("step_7_validation_smooth_colour_0+smooth_colour_1+")
  assert len(many) == len("step_7_validation_") + 40
  assert many != folder(data__builtin_validation_photos=tuple(
      f"smooth_colour_{k}" for k in range(10)))
  # The test split compares with the run's own test photos, not its validation ones.
  assert folder(eval__split="test", data__builtin_test_photos=("rocket",)) == "step_7_test_rocket"


def test_the_api_keeps_known_pixels_at_any_size_and_compiles_once_per_shape(run):
  inpainter = Inpainter.from_workdir(str(run))
  assert inpainter.step == 2
  image = _photo(37, 50, seed=0)  # not a multiple of 8: padded and cropped back
  mask = _mask(37, 50)
  result, used = inpainter(image, mask)
  assert result.shape == image.shape and result.dtype == np.uint8
  np.testing.assert_array_equal(used, mask)
  np.testing.assert_array_equal(result[~mask], image[~mask])
  assert np.any(result[mask] != image[mask])  # the holes were painted

  again, _ = inpainter(_photo(37, 50, seed=1), mask)
  assert inpainter._fill._cache_size() == 1  # same shape: no new compilation
  assert again.shape == (37, 50, 3)

  blind_result, found = inpainter(image)
  assert found.shape == (37, 50) and found.dtype == bool
  np.testing.assert_array_equal(blind_result[~found], image[~found])


def test_bucket_sides_pad_at_most_a_quarter_and_are_multiples():
  sides = [inpaint.bucket_side(side, 16) for side in range(1, 5000)]
  assert sides[:64] == [16] * 16 + [32] * 16 + [48] * 16 + [64] * 16
  assert all(side % 16 == 0 and side >= wanted for wanted, side in enumerate(sides, 1))
  assert all(side <= 1.25 * wanted for wanted, side in enumerate(sides, 1) if wanted > 64)
  # 16-64, then 80-112, four per octave from 128 to 3584, 4096 and 5120.
  assert len(set(sides)) == 4 + 3 + 4 * 5 + 2


def test_a_mixed_size_folder_compiles_one_program_per_bucket(run):
  inpainter = Inpainter.from_workdir(str(run), overrides={"inference.strategy": "original"})
  sizes = [(33, 45), (37, 47), (40, 41), (70, 90), (75, 81), (65, 95), (100, 130)]
  for seed, (height, width) in enumerate(sizes):
    image, mask = _photo(height, width, seed=seed), _mask(height, width)
    result, _ = inpainter(image, mask)
    np.testing.assert_array_equal(result[~mask], image[~mask])
  buckets = {tuple(inpaint.bucket_side(side, inpainter._multiple) for side in size)
             for size in sizes}
  assert inpainter._fill._cache_size() == len(buckets) == 3


@pytest.mark.parametrize("strategy", ["original", "resize", "crop"])
def test_every_strategy_keeps_known_pixels_through_the_inpainter(run, strategy):
  inpainter = Inpainter.from_workdir(str(run), overrides={
      "inference.size_limit": 32, "filler.harmonic_solver": "multigrid"})
  image, mask = _photo(45, 150, seed=3), _mask(45, 150)
  mask[30:40, 120:140] = True  # a second group, far from the first
  result, _ = inpainter(image, mask, strategy)
  np.testing.assert_array_equal(result[~mask], image[~mask])
  assert np.mean(np.any(result[mask] != image[mask], axis=-1)) > 0.9


def test_overriding_a_field_that_does_not_exist_is_refused(run):
  with pytest.raises(ValueError, match="config.inference.tiles does not exist"):
    Inpainter.from_workdir(str(run), overrides={"inference.tiles": 1})
  with pytest.raises(ValueError, match="inference.strategy"):
    Inpainter.from_workdir(str(run), overrides={"inference.strategy": "tiles"})


_SECOND_START = """
import sys, jax
import numpy as np
from genfill_jax import inpaint
from synthetic import photo
inpaint.enable_compilation_cache(sys.argv[2])
hits = []
jax.monitoring.register_event_listener(
    lambda event, **_: hits.append(event) if event.endswith("cache_hits") else None)
inpainter = inpaint.Inpainter.from_workdir(sys.argv[1])
mask = np.zeros((40, 50), bool)
mask[10:20, 10:30] = True
inpainter(photo(40, 50, seed=0), mask, "original")
print("cache hits", len(hits))
"""


def test_a_second_start_reuses_the_compiled_programs(run, tmp_path):
  cache = tmp_path / "cache"
  command = [sys.executable, "-c", _SECOND_START, str(run), str(cache)]
  environment = {**xla_flags.environment(1), "PYTHONPATH": os.pathsep.join(sys.path)}
  first = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
  assert "cache hits 0" in first.stdout and any(cache.iterdir())
  second = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
  hits = int(second.stdout.split("cache hits")[1])
  assert hits >= 2  # at least the filler's program and restoring the run's state


def test_the_api_refuses_wrong_arrays(run):
  inpainter = Inpainter.from_workdir(str(run))
  with pytest.raises(ValueError, match="uint8 \\(H, W, 3\\)"):
    inpainter(np.zeros((8, 8), np.uint8))
  with pytest.raises(ValueError, match="does not match the image"):
    inpainter(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9), bool))


def test_inpaint_cli_on_folders_with_and_without_masks(run, tmp_path):
  images, masks = tmp_path / "images", tmp_path / "masks"
  images.mkdir()
  masks.mkdir()
  originals = {"a": _photo(40, 40, 0), "b": _photo(24, 61, 1)}
  for name, array in originals.items():
    _save(array, images / f"{name}.png")
    _save(_mask(*array.shape[:2]).astype(np.uint8) * 255, masks / f"{name}.png")
  (images / "notes.txt").write_text("not an image, and not an image extension: ignored")

  result = _main(f"--workdir={run}", "--mode=inpaint", f"--input={images}",
                 f"--output={tmp_path / 'given'}", f"--mask={masks}", "--strategy=resize",
                 "--filler_flips=none", f"--compilation_cache={tmp_path / 'cache'}")
  assert result.returncode == 0, result.stderr
  assert any((tmp_path / "cache").iterdir())  # the programs were kept for the next start
  assert sorted(p.name for p in (tmp_path / "given").iterdir()) == ["a.png", "b.png"]
  for name, original in originals.items():
    filled = np.asarray(Image.open(tmp_path / "given" / f"{name}.png"))
    known = ~_mask(*original.shape[:2])
    np.testing.assert_array_equal(filled[known], original[known])

  result = _main(f"--workdir={run}", "--mode=inpaint", f"--input={images}",
                 f"--output={tmp_path / 'blind'}", "--compilation_cache=")
  assert result.returncode == 0, result.stderr
  assert sorted(p.name for p in (tmp_path / "blind").iterdir()) == [
      "a.png", "a_mask.png", "b.png", "b_mask.png"]
  for name, original in originals.items():
    found = np.asarray(Image.open(tmp_path / "blind" / f"{name}_mask.png")) > 127
    filled = np.asarray(Image.open(tmp_path / "blind" / f"{name}.png"))
    assert found.shape == original.shape[:2]
    np.testing.assert_array_equal(filled[~found], original[~found])


def test_inpaint_cli_bad_input_exits_2_with_one_line(run, tmp_path):
  image = _save(_photo(32, 32, 0), tmp_path / "photo.png")
  output = tmp_path / "out"
  result = _main(f"--workdir={tmp_path / 'no_run'}", "--mode=inpaint", f"--input={image}",
                 f"--output={output}")
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith("error: ") and "config.json" in lines[-1]
  assert not output.exists()


def _bad_cases(run, tmp_path):
  image = _save(_photo(32, 32, 0), tmp_path / "photo.png")
  small_mask = _save(np.zeros((16, 32), np.uint8), tmp_path / "small_mask.png")
  text = tmp_path / "fake.png"
  text.write_text("this is not a PNG")
  empty = tmp_path / "empty"
  empty.mkdir()
  checkpointless = tmp_path / "checkpointless"
  checkpointless.mkdir()
  (checkpointless / "config.json").write_text((run / "config.json").read_text())
  return {
      "mask size": (dict(input_path=image, mask_path=small_mask), "small_mask.png",
                    "expected the size of photo.png, 32x32"),
      "not an image": (dict(input_path=text), "fake.png", "not a readable image"),
      "empty folder": (dict(input_path=empty), "empty", "holds no images"),
      "no checkpoint": (dict(input_path=image, workdir=checkpointless), "checkpointless",
                        "no checkpoint"),
  }


@pytest.mark.parametrize("case", ["mask size", "not an image", "empty folder", "no checkpoint"])
def test_bad_inputs_name_the_file_and_write_nothing(run, tmp_path, case):
  arguments, names, expected = _bad_cases(run, tmp_path)[case]
  output = tmp_path / "out"
  output.mkdir()
  (output / "earlier.png").write_bytes(b"kept")
  with pytest.raises(inpaint_files.InputError) as error:
    inpaint_files.inpaint_files(
        str(arguments.pop("workdir", run)), str(arguments.pop("input_path")), str(output),
        **{key: str(value) for key, value in arguments.items()})
  message = str(error.value)
  assert names in message and expected in message and "\n" not in message
  assert [p.name for p in output.iterdir()] == ["earlier.png"]


def _hostile_files(folder: Path) -> dict[str, tuple[Path, tuple[int, int] | None]]:
  """name -> (file, expected (H, W) of the result, or None if it must be refused)."""
  files = {}
  sixteen = (np.arange(12 * 20, dtype=np.uint16).reshape(12, 20) * 270)
  files["16-bit gray PNG"] = (_save(sixteen, folder / "sixteen.png"), (12, 20))
  Image.new("CMYK", (20, 12), (10, 200, 30, 5)).save(folder / "cmyk.jpg")
  files["CMYK JPEG"] = (folder / "cmyk.jpg", (12, 20))
  exif = Image.Exif()
  exif[0x0112] = 6  # orientation: rotate 90 degrees to display
  Image.fromarray(_photo(12, 20, 3)).save(folder / "rotated.jpg", exif=exif)
  files["EXIF-rotated JPEG"] = (folder / "rotated.jpg", (20, 12))
  files["1 x 1 image"] = (_save(_photo(1, 1, 4), folder / "dot.png"), (1, 1))
  rgba = np.concatenate([_photo(12, 20, 5), np.full((12, 20, 1), 128, np.uint8)], axis=-1)
  files["RGBA with alpha"] = (_save(rgba, folder / "alpha.png"), (12, 20))
  (folder / "empty.png").write_bytes(b"")
  files["zero-byte file"] = (folder / "empty.png", None)
  return files


def test_rerunning_into_the_same_folder_replaces_the_results(run, tmp_path):
  # A finished file is replaced whole; the second run used to stop with a traceback.
  image, output = tmp_path / "photo.png", tmp_path / "out"
  Image.fromarray(_photo(40, 48, seed=2)).save(image)
  inpaint_files.inpaint_files(str(run), str(image), str(output))
  (output / "photo.png").write_bytes(b"stale")
  inpaint_files.inpaint_files(str(run), str(image), str(output))
  assert np.asarray(Image.open(output / "photo.png")).shape == (40, 48, 3)
  assert sorted(path.name for path in output.iterdir()) == ["photo.png", "photo_mask.png"]


@pytest.mark.parametrize("case", ["16-bit gray PNG", "CMYK JPEG", "EXIF-rotated JPEG",
                                  "1 x 1 image", "RGBA with alpha", "zero-byte file"])
def test_hostile_images_work_or_are_refused(run, tmp_path, case):
  path, expected = _hostile_files(tmp_path)[case]
  output = tmp_path / "out"
  if expected is None:
    with pytest.raises(inpaint_files.InputError, match=f"{path.name}: not a readable image"):
      inpaint_files.inpaint_files(str(run), str(path), str(output))
    assert not output.exists()
    return
  inpaint_files.inpaint_files(str(run), str(path), str(output))
  result = np.asarray(Image.open(output / f"{path.stem}.png"))
  found = np.asarray(Image.open(output / f"{path.stem}_mask.png")) > 127
  assert result.shape == (*expected, 3) and found.shape == expected
  source = inpaint_files.read_image(path)
  np.testing.assert_array_equal(result[~found], source[~found])


def test_hostile_pixel_values_are_converted_sensibly(tmp_path):
  files = _hostile_files(tmp_path)
  sixteen = inpaint_files.read_image(files["16-bit gray PNG"][0])
  expected = (np.arange(12 * 20).reshape(12, 20) * 270) >> 8
  np.testing.assert_array_equal(sixteen[..., 0], expected)  # the top byte, not clipped
  alpha = inpaint_files.read_image(files["RGBA with alpha"][0])
  # Half-transparent over white: halfway between the colour and 255.
  colour = _photo(12, 20, 5).astype(int)
  assert np.abs(alpha.astype(int) - (colour + 255) / 2).max() <= 1.5


def test_an_image_over_the_pixel_limit_is_refused(run, tmp_path):
  image = _save(_photo(40, 50, 0), tmp_path / "big.png")
  with pytest.raises(inpaint_files.InputError, match="big.png: 50x40 pixels is over the limit"):
    inpaint_files.inpaint_files(str(run), str(image), str(tmp_path / "out"), max_pixels=1000)
  assert not (tmp_path / "out").exists()


def test_blind_holes_are_thresholded_then_dilated(monkeypatch):
  probabilities = np.zeros((1, 9, 9, 1), np.float32)
  probabilities[0, 4, 4] = 0.9  # a hole
  probabilities[0, 1, 1] = 0.4  # below the default threshold
  monkeypatch.setattr(inpaint, "predict_holes", lambda config, variables, image: probabilities)
  config = tiny_config()
  config.hole_predictor.test_time_flips = False
  config.hole_predictor.threshold = 0.5
  found = np.asarray(inpaint.find_holes(config, {}, np.zeros((1, 9, 9, 3))))[0, ..., 0]
  assert found.sum() == 1 and found[4, 4] == 1
  config.hole_predictor.threshold = 0.3
  config.hole_predictor.dilation = 1
  found = np.asarray(inpaint.find_holes(config, {}, np.zeros((1, 9, 9, 3))))[0, ..., 0]
  expected = np.zeros((9, 9))
  expected[3:6, 3:6] = expected[0:3, 0:3] = 1  # each found pixel grown to 3 x 3
  np.testing.assert_array_equal(found, expected)


def test_blind_holes_grow_into_weaker_pixels_only_where_they_connect(monkeypatch):
  probabilities = np.zeros((1, 7, 9, 1), np.float32)
  probabilities[0, 1, 1] = 0.9  # a hole
  probabilities[0, 2, 2:6] = 0.2  # a weak stroke touching it diagonally: grows all along
  probabilities[0, 5, 5:8] = 0.2  # a weak stroke apart from any hole: stays known
  probabilities[0, 3, 6] = 0.05  # touches the grown stroke, but below grow_threshold
  monkeypatch.setattr(inpaint, "predict_holes", lambda config, variables, image: probabilities)
  config = tiny_config()
  config.hole_predictor.test_time_flips = False
  config.hole_predictor.threshold = 0.5
  config.hole_predictor.grow_threshold = 0.1
  found = np.asarray(inpaint.find_holes(config, {}, np.zeros((1, 7, 9, 3))))[0, ..., 0]
  expected = np.zeros((7, 9))
  expected[1, 1] = 1
  expected[2, 2:6] = 1
  np.testing.assert_array_equal(found, expected)
  config.hole_predictor.grow_threshold = 0.0  # off: the threshold alone
  found = np.asarray(inpaint.find_holes(config, {}, np.zeros((1, 7, 9, 3))))[0, ..., 0]
  assert found.sum() == 1 and found[1, 1] == 1


def test_flip_averaged_holes_are_the_mean_of_the_four_flipped_predictions(monkeypatch):
  # A predictor that only sees the top-left corner: its four flipped answers differ.
  def corner_only(config, variables, image):
    probabilities = np.zeros(image.shape[:3] + (1,), np.float32)
    probabilities[:, 0, 0] = np.asarray(image)[:, 0, 0, :1]
    return probabilities
  monkeypatch.setattr(inpaint, "predict_holes", corner_only)
  config = tiny_config()
  config.hole_predictor.test_time_flips = True
  image = np.zeros((1, 5, 6, 3), np.float32)
  image[0, 0, 0] = image[0, -1, -1] = 1.0  # seen in the identity and the double flip
  image[0, 0, -1] = 0.8  # seen in the left-right flip only
  config.hole_predictor.threshold = 0.2
  found = np.asarray(inpaint.find_holes(config, {}, image))[0, ..., 0]
  expected = np.zeros((5, 6))
  expected[0, 0] = expected[-1, -1] = 1  # 1/4 each > 0.2
  expected[0, -1] = 0  # 0.8/4 = 0.2, not above
  np.testing.assert_array_equal(found, expected)
  config.hole_predictor.threshold = 0.19
  found = np.asarray(inpaint.find_holes(config, {}, image))[0, ..., 0]
  assert found[0, -1] == 1 and found.sum() == 3


def _filler_with_random_correction(config):
  """Variables of the config's filler with every parameter random: its correction
  head (zero at initialisation) paints, and no layer is symmetric."""
  filler = models.create_models(config).filler
  variables = filler.init(jax.random.key(0), *models.example_inputs(filler, 16))
  leaves, treedef = jax.tree.flatten(variables["params"])
  keys = jax.random.split(jax.random.key(1), len(leaves))
  params = jax.tree.unflatten(treedef, [
      0.3 * jax.random.normal(key, leaf.shape) for key, leaf in zip(keys, leaves, strict=True)])
  return {**variables, "params": params}


def test_flip_averaged_fills_are_the_mean_of_the_flipped_fills_and_flip_equivariant():
  config = tiny_config()
  variables = _filler_with_random_correction(config)
  rng = np.random.default_rng(0)
  image = rng.uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
  holes = np.zeros((1, 16, 16, 1), np.float32)
  holes[0, 3:9, 2:7] = 1.0  # off-centre: its mirror is another hole
  corrupted = image * (1 - holes)

  def fill(flips, flip_axes=()):
    config.filler.test_time_flips = flips
    inputs = [np.flip(array, flip_axes) if flip_axes else array
              for array in (corrupted, holes, image)]
    return np.asarray(inpaint.fill(config, variables, *inputs))

  once, mirrored = fill("none"), np.flip(fill("none", (2,)), 2)
  assert np.abs(once - mirrored).max() > 1e-2  # the filler alone is not symmetric
  np.testing.assert_allclose(fill("left_right"), (once + mirrored) / 2, atol=1e-5)
  # Averaged over its flips, a fill of the mirrored image is the mirrored fill.
  np.testing.assert_allclose(np.flip(fill("left_right", (2,)), 2), fill("left_right"),
                             atol=1e-5)
  for axes in ((1,), (1, 2)):
    np.testing.assert_allclose(np.flip(fill("all", axes), axes), fill("all"), atol=1e-5)
  known = holes[..., 0] == 0
  np.testing.assert_array_equal(fill("all")[known], image[known])  # known pixels kept
