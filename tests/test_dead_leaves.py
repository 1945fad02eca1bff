"""The synthetic dead-leaves training images."""

import numpy as np
import pytest

from genfill_jax.data import colour, dead_leaves, sources


def _spectrum_slope(image: np.ndarray) -> float:
  """Log-log slope of the luminance's radially averaged power spectrum (mid frequencies)."""
  luminance = image.astype(np.float64) @ colour.LUMINANCE
  luminance -= luminance.mean()
  size = luminance.shape[0]
  power = np.abs(np.fft.fft2(luminance)) ** 2
  frequencies = np.fft.fftfreq(size)
  radial = np.hypot(*np.meshgrid(frequencies, frequencies, indexing="ij"))
  edges = np.geomspace(4 / size, 0.25, 12)
  band = np.digitize(radial, edges)
  mean_power = [power[band == index].mean() for index in range(1, len(edges))]
  centres = np.sqrt(edges[1:] * edges[:-1])
  return float(np.polyfit(np.log(centres), np.log(mean_power), 1)[0])


def test_radii_follow_the_power_law():
  radii = dead_leaves.power_law_radii(np.random.default_rng(0), 200_000, 4.0, 160.0)
  assert radii.min() >= 4.0 and radii.max() <= 160.0
  # Density ~ r^-3: P(r < 2a) = (1 - 1/4) / (1 - (a/b)^2) for radii in [a, b].
  np.testing.assert_allclose((radii < 8.0).mean(), 0.75 / (1 - (4 / 160) ** 2), atol=0.005)
  np.testing.assert_allclose((radii < 40.0).mean(), 0.99 / (1 - (4 / 160) ** 2), atol=0.002)


def test_dead_leaves_images_are_seeded_coloured_and_have_edges_at_every_scale():
  image = dead_leaves.dead_leaves_image(3, size=256)
  assert image.shape == (256, 256, 3) and image.dtype == np.uint8
  np.testing.assert_array_equal(image, dead_leaves.dead_leaves_image(3, size=256))
  assert not np.array_equal(image, dead_leaves.dead_leaves_image(4, size=256))
  # Occluding shapes at every scale give a photo-like power law, about f^-2
  # (scikit-image's photos: -2.6 to -2.9 by this measure); a smooth field falls
  # off far faster.
  assert -3.0 < _spectrum_slope(image) < -1.8
  assert _spectrum_slope(colour.smooth_colour_field(3, size=256)) < -3.0
  # Many distinct regions, in colour, and no pixel left unpainted as one flat ground.
  assert len(np.unique(image.reshape(-1, 3), axis=0)) > 5000
  assert (image.max(-1).astype(int) - image.min(-1)).mean() > 20


def test_dead_leaves_images_are_built_in_images():
  source = sources.BuiltinSource(["dead_leaves_2", "dead_leaves_2@0:0.5"])
  np.testing.assert_array_equal(source.load(0), dead_leaves.dead_leaves_image(2))
  assert source.load(1).shape == (512, 256, 3)
  for bad in ("dead_leaves", "dead_leaves_x", "dead_leaves_02", "leaves_2"):
    with pytest.raises(ValueError, match="built-in photo"):
      sources.parse_builtin_name(bad)
