"""Pixel value conversions, one pair per range.

Images are stored as uint8 [0, 255], the networks see signed floats [-1, 1]
and the metrics see floats [0, 1]. NumPy only (the data workers import this
module without JAX); the functions work on JAX arrays too, through their
methods, under `jax.jit` included.
"""

from typing import NamedTuple

import numpy as np


def uint8_to_signed(image):
  """uint8 [0, 255] -> float32 [-1, 1]."""
  return image.astype(np.float32) / 127.5 - 1


def signed_to_uint8(image: np.ndarray) -> np.ndarray:
  """float [-1, 1] -> uint8, rounded half to even; values outside [-1, 1] are clipped."""
  return np.clip(np.rint((image + 1) * 127.5), 0, 255).astype(np.uint8)


def signed_to_unit_interval(image):
  """float [-1, 1] -> float [0, 1]."""
  return (image + 1) / 2


def uint8_to_unit_interval(image):
  """uint8 [0, 255] -> float32 [0, 1]."""
  return image.astype(np.float32) / 255


class SignedBatch(NamedTuple):
  """A batch as the networks see it: float32 images in [-1, 1], float32 masks (1 = hole)."""

  image: object  # the clean image
  filler_input: object  # holes.corruption applied: what the filler (and D's condition) sees
  predictor_input: object  # holes.predictor_corruption applied: what the hole predictor sees
  mask: object  # (N, H, W, 1)


def to_signed_batch(batch) -> SignedBatch:
  """A loader batch (uint8 images, bool mask) as the networks see it."""
  return SignedBatch(
      image=uint8_to_signed(batch["image"]),
      filler_input=uint8_to_signed(batch["filler_input"]),
      predictor_input=uint8_to_signed(batch["predictor_input"]),
      mask=batch["mask"].astype(np.float32),
  )
