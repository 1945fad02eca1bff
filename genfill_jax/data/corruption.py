"""How a hole looks to the model: zeros, noise, or the original's formula.

All functions take and return float32 images in [-1, 1], HWC, and a bool mask
(H, W), True = hole.
"""

import numpy as np

MODES = ("zeros", "noise", "seed")


def zeros(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """Hole pixels set to 0 (mid-grey); the filler is told where the holes are."""
  return np.where(mask[..., None], np.float32(0), image)


def noise(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, *,
          noise_intensity: float = 1.0, additional_noise_intensity: float = 0.0,
          gray: bool = False) -> np.ndarray:
  """Hole pixels replaced by U(-1, 1) * noise_intensity; faint noise elsewhere.

  Outside the holes, U(-1, 1) * additional_noise_intensity is added (0 keeps
  the known pixels clean). This is the blind case the hole predictor learns.
  gray: the hole noise has one value per pixel for all channels (the same
  draws as colour noise, its first channel), so colour does not give it away.
  """
  shape = image.shape
  in_holes = rng.uniform(-1, 1, shape).astype(np.float32) * noise_intensity
  if gray:
    in_holes = np.repeat(in_holes[..., :1], shape[-1], axis=-1)
  outside = image
  if additional_noise_intensity:
    outside = image + rng.uniform(-1, 1, shape).astype(np.float32) * additional_noise_intensity
  return np.clip(np.where(mask[..., None], in_holes, outside), -1, 1)


def seed(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, *,
         noise_intensity: float = 1.0, additional_noise_intensity: float = 0.2) -> np.ndarray:
  """The original's formula: (image + noise) / 2, with noise everywhere.

  multiplier = mask * noise_intensity + U(-1, 1) * additional_noise_intensity
  (one draw per pixel), noise = U(-1, 1) (per pixel and channel) * multiplier.
  Not clipped: values may leave [-1, 1] slightly, as in the original.
  """
  height, width, channels = image.shape
  multiplier = (mask.astype(np.float32) * noise_intensity
                + rng.uniform(-1, 1, (height, width)).astype(np.float32)
                * additional_noise_intensity)
  noise_values = rng.uniform(-1, 1, (height, width, channels)).astype(np.float32)
  return (image + noise_values * multiplier[..., None]) / 2


def corrupt(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, mode: str,
            noise_intensity: float = 1.0, additional_noise_intensity: float = 0.0,
            gray_noise: bool = False) -> np.ndarray:
  """Applies corruption `mode` ('zeros', 'noise' or 'seed') to an image in [-1, 1].

  gray_noise: 'noise' puts gray noise in the holes (`noise`'s `gray`).
  """
  if mode == "zeros":
    return zeros(image, mask)
  if mode == "noise":
    return noise(rng, image, mask, noise_intensity=noise_intensity,
                 additional_noise_intensity=additional_noise_intensity, gray=gray_noise)
  if mode == "seed":
    return seed(rng, image, mask, noise_intensity=noise_intensity,
                additional_noise_intensity=additional_noise_intensity)
  raise ValueError(f"unknown corruption {mode!r}; expected one of {MODES}")
