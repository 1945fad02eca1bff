"""Hole generators and corruption: statistics, determinism, formulas."""

import numpy as np
import pytest

from genfill_jax.data import corruption, holes


def _masks(family, size, count=200, seed=0, **params):
  rng = np.random.default_rng(seed)
  return np.stack([holes.generate(rng, family, size, size, params) for _ in range(count)])


def test_blocks_are_whole_cells_with_the_given_probability():
  masks = _masks("blocks", 64, blocks=dict(cell_size=16, probability=0.2), count=500)
  cells = masks[:, ::16, ::16]
  # Every cell is uniformly hole or not.
  assert np.array_equal(np.repeat(np.repeat(cells, 16, 1), 16, 2), masks)
  assert abs(cells.mean() - 0.2) < 0.02  # 8000 cells: std of the mean is 0.0045


def test_boxes_respect_count_size_and_margin():
  rng = np.random.default_rng(1)
  for _ in range(200):
    mask = holes.box(rng, 256, 256, max_boxes=1, margin=10, min_size=30, max_size=100)
    rows, cols = np.nonzero(mask)
    assert rows.min() >= 10 and cols.min() >= 10 and rows.max() < 246 and cols.max() < 246
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert 30 <= height <= 100 and 30 <= width <= 100
    assert mask.sum() == height * width  # one solid rectangle


@pytest.mark.parametrize("preset,low,high", [
    ("thin", 0.05, 0.45), ("medium", 0.05, 0.45), ("thick", 0.10, 0.55)])
def test_stroke_presets_cover_plausible_fractions(preset, low, high):
  fractions = _masks(preset, 128).mean(axis=(1, 2))
  assert low < fractions.mean() < high
  assert fractions.max() > fractions.min() + 0.1  # varied, not one fixed shape


def test_stroke_widths_scale_with_resolution():
  """Parameters are pixels at 256 px: the covered fraction hardly depends on size."""
  for preset in ("thin", "thick"):
    small = _masks(preset, 64, count=300).mean()
    large = _masks(preset, 256, count=300).mean()
    assert abs(small - large) < 0.35 * large, preset


def test_generators_are_pure_functions_of_the_seed():
  for family in holes.FAMILIES:
    first = _masks(family, 64, count=5, seed=7)
    assert np.array_equal(first, _masks(family, 64, count=5, seed=7)), family
    assert not np.array_equal(first, _masks(family, 64, count=5, seed=8)), family


def test_mixed_follows_weights_and_redraws_big_masks():
  rng = np.random.default_rng(3)
  weights = dict(blocks=0.0, box=0.0, thin=0.25, medium=0.0, thick=0.75)
  drawn = [holes.mixed(rng, 64, 64, weights=weights, max_fraction=0.3) for _ in range(400)]
  families = [family for _, family in drawn]
  assert set(families) == {"thin", "thick"}
  assert 0.65 < families.count("thick") / len(families) < 0.85
  fractions = np.array([mask.mean() for mask, _ in drawn])
  assert fractions.max() <= 0.3 and fractions.min() > 0


def test_unknown_family_and_impossible_fraction_are_refused():
  rng = np.random.default_rng(0)
  with pytest.raises(ValueError, match="unknown hole family 'circles'"):
    holes.generate(rng, "circles", 64, 64, {})
  with pytest.raises(ValueError, match="holes.max_fraction"):
    holes.redrawn(rng, "blocks", 64, 64, dict(blocks=dict(cell_size=8, probability=1.0)),
                  max_fraction=0.5, max_attempts=3)


def _image_and_mask(seed=0, size=32):
  rng = np.random.default_rng(seed)
  image = rng.uniform(-1, 1, (size, size, 3)).astype(np.float32)
  return image, rng.random((size, size)) < 0.3


def test_seed_corruption_is_the_original_formula():
  image, mask = _image_and_mask()
  actual = corruption.corrupt(np.random.default_rng(5), image, mask, "seed",
                              noise_intensity=1.0, additional_noise_intensity=0.2)
  draws = np.random.default_rng(5)
  multiplier = mask * 1.0 + draws.uniform(-1, 1, mask.shape) * 0.2
  noise = draws.uniform(-1, 1, image.shape) * multiplier[..., None]
  np.testing.assert_allclose(actual, (image + noise) / 2, atol=1e-6)


def test_zeros_and_noise_leave_known_pixels_alone():
  image, mask = _image_and_mask()
  zeroed = corruption.corrupt(None, image, mask, "zeros")
  assert np.all(zeroed[mask] == 0) and np.array_equal(zeroed[~mask], image[~mask])
  noisy = corruption.corrupt(np.random.default_rng(0), image, mask, "noise",
                             noise_intensity=0.5)
  assert np.array_equal(noisy[~mask], image[~mask])
  assert np.abs(noisy[mask]).max() <= 0.5 and noisy[mask].std() > 0.2
  faint = corruption.corrupt(np.random.default_rng(0), image, mask, "noise",
                             additional_noise_intensity=0.05)
  assert 0 < np.abs(faint[~mask] - np.clip(image[~mask], -1, 1)).max() <= 0.05 + 1e-6
