"""Hole generators: seeded NumPy functions returning bool masks, True = hole.

Every generator is a pure function of (rng, height, width, parameters). The
stroke and box parameters follow LaMa's mask generators; they are given in
pixels at 256 px and scaled to the working resolution.
"""

from collections.abc import Mapping

import cv2
import numpy as np

REFERENCE_RESOLUTION = 256  # LaMa's parameters are in pixels at this size.

# LaMa's presets: strokes, plus boxes with some probability (medium, thick).
STROKE_PRESETS = {
    "thin": dict(min_strokes=4, max_strokes=50, max_width=10, max_length=40,
                 box_probability=0.0, margin=0, min_size=0, max_size=0, max_boxes=0),
    "medium": dict(min_strokes=4, max_strokes=5, max_width=50, max_length=100,
                   box_probability=0.3, margin=0, min_size=10, max_size=50, max_boxes=5),
    "thick": dict(min_strokes=1, max_strokes=5, max_width=100, max_length=200,
                  box_probability=0.3, margin=10, min_size=30, max_size=150, max_boxes=3),
}
FAMILIES = ("blocks", "box", "thin", "medium", "thick")


def _scale(pixels_at_256: float, height: int, width: int) -> int:
  return int(round(pixels_at_256 * min(height, width) / REFERENCE_RESOLUTION))


def blocks(rng: np.random.Generator, height: int, width: int, *, cell_size: int = 16,
           probability: float = 0.2) -> np.ndarray:
  """The original's holes: a grid of cell_size x cell_size cells, each a hole with `probability`."""
  if height % cell_size or width % cell_size:
    raise ValueError(f"blocks: {height}x{width} is not divisible by cell_size={cell_size}")
  cells = rng.random((height // cell_size, width // cell_size)) < probability
  return np.repeat(np.repeat(cells, cell_size, axis=0), cell_size, axis=1)


def box(rng: np.random.Generator, height: int, width: int, *, max_boxes: int = 3,
        margin: int = 10, min_size: int = 30, max_size: int = 150) -> np.ndarray:
  """1..max_boxes axis-aligned rectangles, sides in [min_size, max_size], `margin` from the border.

  Sizes are pixels at 256 px, scaled to (height, width).
  """
  mask = np.zeros((height, width), bool)
  margin = _scale(margin, height, width)
  low = max(1, _scale(min_size, height, width))
  high = _scale(max_size, height, width)
  for _ in range(rng.integers(1, max_boxes + 1)):
    box_height = _random_side(rng, height, low, high, margin)
    box_width = _random_side(rng, width, low, high, margin)
    top = int(rng.integers(margin, max(margin, height - margin - box_height) + 1))
    left = int(rng.integers(margin, max(margin, width - margin - box_width) + 1))
    mask[top:top + box_height, left:left + box_width] = True
  return mask


def _random_side(rng, extent: int, low: int, high: int, margin: int) -> int:
  """A side length in [low, high], shortened to fit inside the margins."""
  high = max(low, min(high, extent - 2 * margin))
  return int(rng.integers(low, high + 1))


def strokes(rng: np.random.Generator, height: int, width: int, *, min_strokes: int,
            max_strokes: int, max_width: int, max_length: int, box_probability: float = 0.0,
            margin: int = 0, min_size: int = 0, max_size: int = 0,
            max_boxes: int = 0) -> np.ndarray:
  """LaMa-style free-form brush strokes, optionally with boxes (see STROKE_PRESETS).

  Each stroke starts at a random point and has 1-5 segments; each segment turns
  by an angle from {0.01, 1.01, 2.01, 3.01} rad (mirrored on alternate
  segments), is 10 + U{0..max_length} long and 5 + U{0..max_width} wide, all in
  pixels at 256 px.
  """
  canvas = np.zeros((height, width), np.uint8)
  for _ in range(rng.integers(min_strokes, max_strokes + 1)):
    x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
    for segment in range(rng.integers(1, 6)):
      angle = 0.01 + rng.integers(0, 4)
      if segment % 2:
        angle = 2 * np.pi - angle
      length = _scale(10 + rng.integers(0, max_length + 1), height, width)
      brush = max(1, _scale(5 + rng.integers(0, max_width + 1), height, width))
      end_x = int(np.clip(x + length * np.sin(angle), 0, width - 1))
      end_y = int(np.clip(y + length * np.cos(angle), 0, height - 1))
      cv2.line(canvas, (x, y), (end_x, end_y), 1, brush)
      x, y = end_x, end_y
  mask = canvas.astype(bool)
  if box_probability and rng.random() < box_probability:
    mask |= box(rng, height, width, max_boxes=max_boxes, margin=margin,
                min_size=min_size, max_size=max_size)
  return mask


def generate(rng: np.random.Generator, family: str, height: int, width: int,
             params: Mapping) -> np.ndarray:
  """One mask of a named family: 'blocks', 'box', or a stroke preset (thin, medium, thick)."""
  if family == "blocks":
    return blocks(rng, height, width, **params.get("blocks", {}))
  if family == "box":
    return box(rng, height, width, **params.get("box", {}))
  if family in STROKE_PRESETS:
    return strokes(rng, height, width, **STROKE_PRESETS[family])
  raise ValueError(f"unknown hole family {family!r}; expected one of {FAMILIES}")


def mixed(rng: np.random.Generator, height: int, width: int, *,
          weights: Mapping[str, float], params: Mapping = None,
          max_fraction: float = 0.5, max_attempts: int = 100) -> tuple[np.ndarray, str]:
  """A mask from a family chosen per example by `weights`; returns (mask, family).

  Masks covering more than `max_fraction` of the image, or nothing, are redrawn
  (from the same family).
  """
  names = [name for name, weight in weights.items() if weight > 0]
  if not names:
    raise ValueError(f"holes.weights gives no family a positive weight: {dict(weights)}")
  probabilities = np.array([weights[name] for name in names], float)
  family = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
  return redrawn(rng, family, height, width, params or {}, max_fraction, max_attempts), family


def redrawn(rng: np.random.Generator, family: str, height: int, width: int, params: Mapping,
            max_fraction: float = 0.5, max_attempts: int = 100) -> np.ndarray:
  """A mask of `family` with 0 < hole fraction <= max_fraction, redrawing as needed."""
  for _ in range(max_attempts):
    mask = generate(rng, family, height, width, params)
    if 0 < mask.mean() <= max_fraction:
      return mask
  raise ValueError(
      f"hole family {family!r} drew no mask covering between 0 and {max_fraction:.0%} of "
      f"a {height}x{width} image in {max_attempts} attempts; check holes.max_fraction "
      f"and the family's parameters"
  )
