"""Colour augmentation of training crops and the synthetic smooth colour images."""

import numpy as np
import pytest
import skimage.data
import torch

from configs import tiny
from genfill_jax import config_checks, runs
from genfill_jax.data import colour, datasets, sources


def _luminance(image_hwc: np.ndarray) -> np.ndarray:
  return image_hwc.astype(np.float64) @ colour.LUMINANCE


def _chroma(image_hwc: np.ndarray) -> np.ndarray:
  """Per-pixel spread between the channels (0 for gray)."""
  return image_hwc.max(-1).astype(np.int16) - image_hwc.min(-1)


def _hwc(tensor: torch.Tensor) -> np.ndarray:
  return tensor.permute(1, 2, 0).numpy()


def _chw(image: np.ndarray) -> torch.Tensor:
  return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


def test_the_hue_matrix_keeps_luminance_and_gray_and_turns_hue_by_the_angle():
  rng = np.random.default_rng(0)
  rgb = rng.uniform(0, 255, (100, 3))
  for angle, saturation in ((0.7, 1.0), (-2.0, 1.4), (np.pi, 0.5)):
    matrix = colour.hue_saturation_matrix(angle, saturation)
    np.testing.assert_allclose(rgb @ matrix.T @ colour.LUMINANCE, rgb @ colour.LUMINANCE,
                               atol=1e-9)
    np.testing.assert_allclose(matrix @ np.full(3, 90.0), np.full(3, 90.0), atol=1e-9)
  identity = colour.hue_saturation_matrix(0.0, 1.0)
  np.testing.assert_allclose(identity, np.eye(3), atol=1e-12)
  # A third of a turn applied three times is the identity; half a turn twice, too.
  third = colour.hue_saturation_matrix(2 * np.pi / 3, 1.0)
  np.testing.assert_allclose(third @ third @ third, np.eye(3), atol=1e-9)
  half = colour.hue_saturation_matrix(np.pi, 1.0)
  np.testing.assert_allclose(half @ half, np.eye(3), atol=1e-9)
  assert np.abs(half - np.eye(3)).max() > 0.5  # and half a turn alone is no identity
  # Saturation 0 makes every colour its gray.
  gray = rgb @ colour.hue_saturation_matrix(1.0, 0.0).T
  np.testing.assert_allclose(gray, np.repeat((rgb @ colour.LUMINANCE)[:, None], 3, 1),
                             atol=1e-9)


def test_hue_rotation_changes_colour_crops_and_leaves_gray_ones_alone():
  colourful = colour.smooth_colour_field(0, size=64)  # saturated colour everywhere
  camera = np.repeat(skimage.data.camera()[:64, :64, None], 3, axis=-1)
  torch.manual_seed(0)
  rotate = colour.RandomHueRotation(0.5, saturation=1.5)
  turned = [_hwc(rotate(_chw(colourful))) for _ in range(4)]
  for image in turned:
    assert image.dtype == np.uint8 and image.shape == colourful.shape
    # Luminance is kept up to rounding and clipping at the gamut's edge.
    assert np.median(np.abs(_luminance(image) - _luminance(colourful))) < 1.0
  # The colours did change (by a random angle: some crops a little, some a lot).
  assert max(np.abs(image.astype(int) - colourful).mean() for image in turned) > 20
  assert not np.array_equal(turned[0], turned[1])  # a new angle for every crop
  np.testing.assert_array_equal(_hwc(rotate(_chw(camera))), camera)


def test_gray_tint_recolours_gray_crops_only_as_a_duotone_of_their_levels():
  camera = np.repeat(skimage.data.camera()[:64, :64, None], 3, axis=-1)
  astronaut = skimage.data.astronaut()[:64, :64]
  torch.manual_seed(0)
  always = colour.RandomGrayTint(1.0)
  tinted = _hwc(always(_chw(camera)))
  assert _chroma(tinted).mean() > 10  # now coloured
  # A duotone: each channel is an increasing affine function of the gray level.
  level = camera[..., 0].astype(np.float64).ravel()
  for channel in range(3):
    values = tinted[..., channel].astype(np.float64).ravel()
    slope, offset = np.polyfit(level, values, 1)
    assert np.abs(values - (slope * level + offset)).max() <= 1.0
  # Brighter gray stays brighter: the light colour has the higher luminance.
  # (Two colours of about equal luminance give a slope near 0, up to rounding.)
  slopes = [np.polyfit(level, _luminance(_hwc(always(_chw(camera)))).ravel(), 1)[0]
            for _ in range(20)]
  assert min(slopes) > -0.05 and np.median(slopes) > 0.1
  np.testing.assert_array_equal(_hwc(always(_chw(astronaut))), astronaut)
  # Gray means every pixel's channels within GRAY_TOLERANCE levels of each other.
  almost_gray, barely_colour = camera.copy(), camera.copy()
  almost_gray[0, 0, 0] = min(255, int(camera[0, 0, 0]) + colour.GRAY_TOLERANCE)
  barely_colour[0, 0, 0] = min(255, int(camera[0, 0, 0]) + colour.GRAY_TOLERANCE + 1)
  assert _chroma(_hwc(always(_chw(almost_gray)))).mean() > 10
  np.testing.assert_array_equal(_hwc(always(_chw(barely_colour))), barely_colour)
  never = colour.RandomGrayTint(0.0)
  np.testing.assert_array_equal(_hwc(never(_chw(camera))), camera)


def test_training_crops_get_the_colour_changes_and_evaluation_does_not():
  config = tiny.get_config()
  config.data.color_jitter = 0.0
  config.data.horizontal_flip = False
  config.data.gray_tint_probability = 1.0
  camera = np.repeat(skimage.data.camera()[..., None], 3, axis=-1)
  train = datasets.build_transform(config.data, train=True)
  evaluation = datasets.build_transform(config.data, train=False)
  crops = [datasets.apply_transform(train, camera, seed) for seed in range(4)]
  assert all(_chroma(crop).mean() > 5 for crop in crops)
  np.testing.assert_array_equal(crops[2], datasets.apply_transform(train, camera, 2))
  assert _chroma(datasets.apply_transform(evaluation, camera, 0)).max() == 0
  # The crop-aware path (decoded sources) gets exactly the same examples.
  np.testing.assert_array_equal(
      datasets.crop_aware_example(lambda at_least: camera, train, 3, 32, True), crops[3])
  # The hue rotation: a colour photo's crops keep their luminance and change hue,
  # against the same crops without it.
  astronaut = skimage.data.astronaut()
  config.data.gray_tint_probability = 0.0
  plain = datasets.build_transform(config.data, train=True)
  config.data.hue_rotation, config.data.saturation_scale = 0.5, 1.5
  turned = datasets.build_transform(config.data, train=True)
  for seed in range(4):
    before = datasets.apply_transform(plain, astronaut, seed)
    after = datasets.apply_transform(turned, astronaut, seed)
    np.testing.assert_array_equal(
        after, datasets.crop_aware_example(lambda at_least: astronaut, turned, seed, 32, True))
    assert np.median(np.abs(_luminance(after) - _luminance(before))) < 1.0
    assert np.abs(after.astype(int) - before).mean() > 1
  assert _chroma(datasets.apply_transform(evaluation, astronaut, 0)).mean() > 0


def test_smooth_colour_images_and_the_colour_wheel_are_built_in_images():
  field = colour.smooth_colour_field(3, size=256)
  assert field.shape == (256, 256, 3) and field.dtype == np.uint8
  np.testing.assert_array_equal(field, colour.smooth_colour_field(3, size=256))
  assert not np.array_equal(field, colour.smooth_colour_field(4, size=256))
  assert _chroma(field).mean() > 60  # saturated
  # Smooth: neighbouring pixels differ by a few levels, far less than a photo's texture.
  step = np.abs(np.diff(field.astype(np.int16), axis=1))
  assert np.percentile(step, 99) <= 6
  source = sources.BuiltinSource(["smooth_colour_3", "smooth_colour_3@0:0.5", "colorwheel"])
  np.testing.assert_array_equal(source.load(0), colour.smooth_colour_field(3))
  assert source.load(1).shape == (512, 256, 3)
  np.testing.assert_array_equal(source.load(2), skimage.data.colorwheel())  # the probe
  for bad in ("smooth_colour", "smooth_colour_x", "colour_3", "smooth_colour_03"):
    with pytest.raises(ValueError, match="built-in photo"):
      sources.parse_builtin_name(bad)


def test_colour_settings_are_checked_and_older_runs_keep_them_off(tmp_path):
  for field, value in (("hue_rotation", -0.1), ("hue_rotation", 0.6),
                       ("saturation_scale", 0.5), ("gray_tint_probability", 1.5)):
    config = tiny.get_config()
    config.data[field] = value
    with pytest.raises(config_checks.ConfigError, match=f"data.{field}"):
      config_checks.check_for_training(config, device_count=1)
  config = tiny.get_config()
  for field in ("hue_rotation", "saturation_scale", "gray_tint_probability"):
    del config.data[field]
  runs.save_config(config, str(tmp_path))
  loaded = runs.load_config(str(tmp_path))
  assert (loaded.data.hue_rotation, loaded.data.saturation_scale,
          loaded.data.gray_tint_probability) == (0.0, 1.0, 0.0)
