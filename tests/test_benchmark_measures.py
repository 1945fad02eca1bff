"""The measures the benchmarks report: smoothness and roughness
and per-photo means (benchmarks/common.py)."""

import numpy as np
import pytest

from benchmarks import common


def _ramp_and_checkerboard(size=16, amplitude=0.1):
  y, x = np.mgrid[:size, :size].astype(np.float32)
  ramp = np.repeat(((x + 2 * y) / (3 * size))[None, ..., None], 3, axis=-1)
  checkerboard = np.repeat((amplitude * (-1.0) ** (x + y))[None, ..., None], 3, axis=-1)
  return ramp, checkerboard


def test_a_linear_correction_is_smooth_and_grain_is_rough():
  ramp, checkerboard = _ramp_and_checkerboard()
  mask = np.zeros((1, 16, 16, 1), bool)
  mask[:, 4:12, 4:12] = True
  # A linear function has a zero Laplacian: a harmonic-like correction is not rough.
  assert common.hole_roughness(ramp, mask)[0] < 1e-6
  # A +-a checkerboard has |Laplacian| 8a at every pixel.
  np.testing.assert_allclose(common.hole_roughness(checkerboard, mask),
                             [0.8], rtol=1e-5)
  # Only hole pixels count.
  assert common.hole_roughness(checkerboard, np.zeros_like(mask))[0] == 0


def test_smoothness_grows_with_detail():
  ramp, checkerboard = _ramp_and_checkerboard()
  flat = np.full_like(ramp, 0.5)
  values = common.smoothness(np.concatenate([flat, ramp, ramp + checkerboard]))
  assert values[0] == 0
  assert 0 < values[1] < values[2]


def test_overrides_set_literal_and_string_values_and_refuse_unknown_fields():
  config = common.load_config("configs/default.py")
  common.apply_overrides(config, ["loss.perceptual_fraction=0.25", "filler.res_block=conv",
                                  "data.crop_scale=(0.1, 1.0)"])
  assert config.loss.perceptual_fraction == 0.25
  assert config.filler.res_block == "conv"
  assert tuple(config.data.crop_scale) == (0.1, 1.0)
  with pytest.raises(ValueError, match="no field 'loss.perceptual_weight'"):
    common.apply_overrides(config, ["loss.perceptual_weight=1"])
  with pytest.raises(ValueError, match="no section 'losses'"):
    common.apply_overrides(config, ["losses.perceptual=1"])
  with pytest.raises(ValueError, match="expected 'section.field=value'"):
    common.apply_overrides(config, ["loss.perceptual"])


def test_per_photo_means_group_examples_as_evaluation_crops_them():
  # Evaluation goes round the photos: examples 0, 3, 6 come from photo 0, and so on.
  values = np.array([1.0, 10.0, 100.0, 3.0, 20.0, 300.0, 5.0])
  np.testing.assert_allclose(common.per_photo_means(values, 3), [3.0, 15.0, 200.0])
