"""High-resolution strategies (genfill_jax/strategies.py) with a stand-in model."""

import numpy as np
import pytest

from genfill_jax import strategies

HOLE_MARK = np.array([255, 0, 255], np.uint8)  # what the photo holds under its holes
PAINT = np.array([50, 60, 70], np.uint8)  # what the stand-in model paints


def _photo_and_mask(height, width, seed):
  rng = np.random.default_rng(seed)
  photo = rng.integers(0, 100, (height, width, 3), dtype=np.uint8)
  mask = np.zeros((height, width), bool)
  mask[height // 5:height // 5 + max(1, height // 10), width // 10:width // 2] = True  # a band
  mask[-max(2, height // 8):, -max(2, width // 9):] = True  # a corner far from it
  mask[:, width * 3 // 4] = True  # a 1-pixel stroke across the photo
  photo[mask] = HOLE_MARK
  return photo, mask


class StandInModel:
  """Paints every hole pixel PAINT; records the sizes it was run at."""

  def __init__(self):
    self.sizes = []

  def __call__(self, image, mask):
    assert image.shape[:2] == mask.shape and mask.dtype == bool
    # Hole content never leaks into what the model is told is known.
    assert not np.any(np.all(image[~mask] == HOLE_MARK, axis=-1))
    self.sizes.append(mask.shape)
    return np.where(mask[..., None], PAINT, image)


@pytest.mark.parametrize("strategy", strategies.STRATEGIES)
@pytest.mark.parametrize("height,width", [(37, 53), (300, 120), (513, 700)])
def test_each_strategy_keeps_known_pixels_and_fills_every_hole(strategy, height, width):
  photo, mask = _photo_and_mask(height, width, seed=height)
  model = StandInModel()
  result = strategies.inpaint_with_strategy(model, photo, mask, strategy, limit=64,
                                            margin_fraction=0.5, min_margin=8)
  assert result.shape == photo.shape and result.dtype == np.uint8
  np.testing.assert_array_equal(result[~mask], photo[~mask])
  # Every hole pixel is painted: none keeps the photo's hole content.
  assert not np.any(result[mask][:, 0] > 200)
  largest_side = max(max(size) for size in model.sizes)
  if strategy == "original":
    assert model.sizes == [(height, width)]
  else:
    assert largest_side <= 64


def test_resize_scales_the_longest_side_to_the_limit_and_keeps_the_aspect_ratio():
  photo, mask = _photo_and_mask(400, 1000, seed=0)
  model = StandInModel()
  strategies.inpaint_resized(model, photo, mask, limit=100)
  assert model.sizes == [(40, 100)]
  small_photo, small_mask = _photo_and_mask(50, 80, seed=0)
  strategies.inpaint_resized(model, small_photo, small_mask, limit=100)
  assert model.sizes[-1] == (50, 80)  # already under the limit: its own size


def test_crop_fills_each_far_apart_hole_group_in_its_own_crop():
  photo = np.zeros((400, 600, 3), np.uint8)
  mask = np.zeros((400, 600), bool)
  mask[20:30, 20:60] = True
  mask[350:360, 500:540] = True
  mask[33:36, 20:60] = True  # within the join distance of the first: same group
  groups = strategies.hole_groups(mask, join=8)
  assert len(groups) == 2
  np.testing.assert_array_equal(groups[0] | groups[1], mask)
  rows, columns = strategies.crop_box(groups[0], margin_fraction=0.5, min_margin=8)
  assert (rows, columns) == (slice(0, 56), slice(0, 80))  # 40 px wide: margin 20
  model = StandInModel()
  strategies.inpaint_cropped(model, photo, mask, limit=64, margin_fraction=0.5, min_margin=8)
  assert model.sizes == [(45, 64), (40, 64)]  # 56 x 80 and 50 x 80 crops, scaled 0.8


def test_crop_fills_holes_spread_over_the_photo_as_one_resized_photo():
  photo = np.zeros((200, 300, 3), np.uint8)
  mask = np.zeros((200, 300), bool)
  mask[::40, :] = True  # five strokes across the photo: their crops overlap
  model = StandInModel()
  strategies.inpaint_cropped(model, photo, mask, limit=100, margin_fraction=0.5, min_margin=8)
  assert model.sizes == [(67, 100)]


def test_an_unknown_strategy_is_refused_by_name():
  photo, mask = _photo_and_mask(40, 40, seed=0)
  with pytest.raises(ValueError, match="unknown high-resolution strategy 'tiles'"):
    strategies.inpaint_with_strategy(StandInModel(), photo, mask, "tiles", 64, 0.5, 8)
