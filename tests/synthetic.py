"""Synthetic test images shared by the test modules."""

import numpy as np


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
  """A uint8 (H, W, 3) image: smooth colours plus texture, like a photo, not flat noise."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width]
  base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200
  return np.clip(base + rng.integers(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
