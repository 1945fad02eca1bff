"""Synthetic 'dead leaves' images: opaque shapes at every scale, occluding one another.

A dead-leaves image is a stack of shapes dropped one over another, their sizes
drawn from a power law (density ~ r^-3), so that it has occlusion edges, corners
and T-junctions at every scale and about the 1/f^2 power spectrum of natural
photos (Lee, Mumford and Huang, 2001; Achddou et al., 2021, train restoration
networks on them). The built-in photos are mostly gray textures and documents:
these give the filler coloured regions whose edges cross its holes, the content
on which OpenCV's Navier-Stokes fill, which continues edges, beats it.

Each shape is a disk, an ellipse or a rotated rectangle, painted in one of the
image's few muted colours (a palette, as a scene has, so that some edges are
faint) with a small jitter, a linear shading across it and a fine 1/f grain,
so that a leaf is not a flat plate. The same seed gives the same image.
"""

import colorsys

import numpy as np
import scipy.ndimage

# Shapes are drawn front to back until this share of the image is covered.
_COVERAGE = 0.999
_MAX_SHAPES = 100_000
_SHAPES = ("disk", "ellipse", "rectangle")
_PALETTE_SIZE = 8


def power_law_radii(rng: np.random.Generator, count: int, min_radius: float,
                    max_radius: float) -> np.ndarray:
  """`count` radii with density proportional to r^-3 on [min_radius, max_radius].

  Inverse transform sampling: the CDF is (a^-2 - r^-2) / (a^-2 - b^-2).
  """
  low, high = min_radius ** -2.0, max_radius ** -2.0
  return (low - rng.uniform(size=count) * (low - high)) ** -0.5


def _grain(rng: np.random.Generator, size: int) -> np.ndarray:
  """A (size, size) field of 1/f noise (amplitude ~ 1/f), unit standard deviation."""
  frequencies = np.fft.fftfreq(size)
  radial = np.hypot(*np.meshgrid(frequencies, frequencies, indexing="ij"))
  radial[0, 0] = np.inf  # no mean
  spectrum = np.fft.fft2(rng.standard_normal((size, size))) / np.maximum(radial, 1.0 / size)
  field = np.real(np.fft.ifft2(spectrum))
  return field / field.std()


def _palette(rng: np.random.Generator, count: int) -> np.ndarray:
  """(count, 3) colours in [0, 1]: any hue, mostly muted saturation, a wide range of value."""
  return np.array([colorsys.hsv_to_rgb(rng.uniform(), 0.85 * rng.uniform() ** 1.5,
                                       rng.uniform(0.08, 0.95)) for _ in range(count)])


def _shape_mask(kind: str, dy: np.ndarray, dx: np.ndarray, radius: float,
                aspect: float, angle: float) -> np.ndarray:
  """Whether each offset (dy, dx) from the shape's centre lies inside the shape."""
  if kind == "disk":
    return dy ** 2 + dx ** 2 <= radius ** 2
  along = dx * np.cos(angle) + dy * np.sin(angle)
  across = -dx * np.sin(angle) + dy * np.cos(angle)
  if kind == "ellipse":
    return (along / radius) ** 2 + (across / (radius * aspect)) ** 2 <= 1
  return (np.abs(along) <= radius) & (np.abs(across) <= radius * aspect)


def dead_leaves_image(seed: int, size: int = 512, min_radius: float = 4.0,
                      max_radius: float | None = None) -> np.ndarray:
  """A synthetic dead-leaves image (size x size x 3, uint8); see the module docstring.

  Args:
    seed: the same seed gives the same image.
    size: side in pixels.
    min_radius, max_radius: the range of the shapes' radii in pixels (default
      max: a third of the side).
  """
  rng = np.random.default_rng([seed, 0xDEAD1EAF])
  max_radius = max_radius or size / 3
  grain = _grain(rng, size)
  palette = _palette(rng, _PALETTE_SIZE)
  image = np.empty((size, size, 3), np.float32)
  covered = np.zeros((size, size), bool)
  radii = power_law_radii(rng, _MAX_SHAPES, min_radius, max_radius)
  for index, radius in enumerate(radii):
    if index % 256 == 0 and covered.mean() >= _COVERAGE:
      break
    centre_y, centre_x = rng.uniform(-radius, size + radius, 2)
    top, left = max(int(centre_y - radius), 0), max(int(centre_x - radius), 0)
    bottom = min(int(centre_y + radius) + 1, size)
    right = min(int(centre_x + radius) + 1, size)
    window = (slice(top, bottom), slice(left, right))
    if top >= bottom or left >= right or covered[window].all():
      continue
    dy, dx = np.mgrid[top:bottom, left:right].astype(np.float32)
    dy, dx = dy - centre_y, dx - centre_x
    inside = _shape_mask(_SHAPES[rng.integers(len(_SHAPES))], dy, dx, radius,
                         rng.uniform(0.25, 1.0), rng.uniform(0, np.pi))
    paint = inside & ~covered[window]
    if not paint.any():
      continue
    # A linear shading across the leaf and a grain of its own strength.
    slope = rng.normal(size=2) * rng.uniform(0, 0.15) / radius
    shading = slope[0] * dy + slope[1] * dx + rng.uniform(0, 0.08) * grain[window]
    colour = palette[rng.integers(_PALETTE_SIZE)] + rng.normal(0, 0.04, 3)
    image[window][paint] = colour[None] + shading[paint][:, None]
    covered[window] |= inside
  image[~covered] = palette[0]  # the ground under every leaf
  # Edges as a camera renders them: about a pixel of blur, not aliased steps.
  image = scipy.ndimage.gaussian_filter(image, sigma=(0.7, 0.7, 0))
  return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
