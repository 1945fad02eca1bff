"""Colour for a mostly gray training set: hue rotation, tints of gray crops, smooth colour fields.

The built-in training photos are mostly gray (10 of 14), and a filler trained
on them paints a dotted pattern into smooth saturated colour that a harmonic
fill gets right (README, "A probe of smooth, saturated colour"). The two
transforms here run on a training crop (CHW uint8 torch tensors, drawing from
torch's generator as torchvision's transforms do, so `datasets.apply_transform`
makes them depend on the example's seed alone); `smooth_colour_field` makes the
synthetic 'smooth_colour_<k>' built-in images.
"""

import numpy as np
import torch

# RGB <-> YIQ (NTSC): Y is luminance, I and Q the two colour axes. A rotation of
# (I, Q) turns hue and keeps luminance; a scale of (I, Q) changes saturation.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)
LUMINANCE = _RGB_TO_YIQ[0]
# A crop whose channels differ by at most this (of 255) anywhere counts as gray.
GRAY_TOLERANCE = 2


def hue_saturation_matrix(angle: float, saturation: float) -> np.ndarray:
  """The 3x3 RGB matrix that turns hue by `angle` radians and scales saturation.

  Luminance is kept exactly (before clipping to the colour range): gray pixels
  map to themselves for any angle.
  """
  cos, sin = np.cos(angle), np.sin(angle)
  turn = np.array([[1, 0, 0],
                   [0, saturation * cos, -saturation * sin],
                   [0, saturation * sin, saturation * cos]])
  return _YIQ_TO_RGB @ turn @ _RGB_TO_YIQ


def _apply_rgb_matrix(image: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
  """A 3x3 colour matrix on a CHW uint8 tensor; rounded and clipped to uint8."""
  pixels = image.reshape(3, -1).to(torch.float32)
  mixed = torch.from_numpy(matrix.astype(np.float32)) @ pixels
  return mixed.round().clamp(0, 255).to(torch.uint8).reshape(image.shape)


def _uniform(low: float, high: float) -> float:
  return torch.empty(()).uniform_(low, high).item()


class RandomHueRotation:
  """Turns the hue of the whole crop by a random angle, keeping its luminance (up to clipping).

  turns: the angle is uniform in +-turns of a full circle (0.5: any hue).
  saturation: the crop's saturation is scaled by a factor log-uniform in
  [1 / saturation, saturation] (1: unchanged).
  """

  def __init__(self, turns: float, saturation: float = 1.0):
    self.turns = turns
    self.saturation = saturation

  def __call__(self, image: torch.Tensor) -> torch.Tensor:
    angle = 2 * np.pi * _uniform(-self.turns, self.turns)
    scale = np.exp(_uniform(-np.log(self.saturation), np.log(self.saturation)))
    return _apply_rgb_matrix(image, hue_saturation_matrix(angle, scale))


def random_tint_colours() -> tuple[np.ndarray, np.ndarray]:
  """Two random RGB colours in [0, 255], the darker first (by luminance)."""
  colours = [np.array([_uniform(0, 255) for _ in range(3)]) for _ in range(2)]
  return tuple(sorted(colours, key=lambda colour: float(LUMINANCE @ colour)))


class RandomGrayTint:
  """Recolours a gray crop, with `probability`, as a duotone of two random colours.

  Black becomes the darker colour, white the brighter one, gray levels lie in
  between. Colour crops are left alone. Smooth gray regions become smooth saturated
  colour, which the built-in colour photos have little of.
  """

  def __init__(self, probability: float):
    self.probability = probability

  def __call__(self, image: torch.Tensor) -> torch.Tensor:
    # Every crop makes the same draws, tinted or not, so that the number of draws
    # per example is fixed whatever the crops look like.
    tint = _uniform(0, 1) < self.probability
    dark, light = random_tint_colours()
    spread = int((image.amax(dim=0).to(torch.int16) - image.amin(dim=0)).max())
    if not tint or spread > GRAY_TOLERANCE:
      return image
    level = image[:1].to(torch.float32) / 255  # (1, H, W): gray, so any channel
    dark = torch.from_numpy(dark.astype(np.float32))[:, None, None]
    light = torch.from_numpy(light.astype(np.float32))[:, None, None]
    return (dark + level * (light - dark)).round().clamp(0, 255).to(torch.uint8)


def _smooth_field(rng: np.random.Generator, size: int, waves: int,
                  max_cycles: float) -> np.ndarray:
  """A sum of `waves` random plane waves of at most `max_cycles` per image, in [0, 1]."""
  coordinates = np.linspace(0, 1, size, endpoint=False)
  y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
  field = np.zeros((size, size))
  for _ in range(waves):
    cycles = rng.uniform(0.2, max_cycles)
    direction = rng.uniform(0, 2 * np.pi)
    phase = rng.uniform(0, 2 * np.pi)
    field += rng.uniform(0.3, 1) * np.cos(
        2 * np.pi * cycles * (x * np.cos(direction) + y * np.sin(direction)) + phase)
  return (field - field.min()) / max(field.max() - field.min(), 1e-9)


def smooth_colour_field(seed: int, size: int = 512) -> np.ndarray:
  """A synthetic image of smooth, saturated colour (size x size x 3, uint8).

  Hue, saturation and value vary as independent smooth fields (a few random
  plane waves each), so that every crop is a smooth gradient through vivid
  colours, as sky, a colour wheel or a painted wall are. The same seed gives
  the same image.
  """
  import skimage.color  # a slow import, needed only here

  rng = np.random.default_rng([seed, 0x5EED])
  hue = (_smooth_field(rng, size, 4, 2.0) * rng.uniform(0.5, 2.0) + rng.uniform()) % 1
  saturation = 0.35 + 0.65 * _smooth_field(rng, size, 3, 1.5)
  value = 0.35 + 0.65 * _smooth_field(rng, size, 3, 1.5)
  rgb = skimage.color.hsv2rgb(np.stack([hue, saturation, value], axis=-1))
  return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
