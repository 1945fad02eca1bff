"""The non-learned baselines: the exact harmonic fill and OpenCV."""

import numpy as np
import pytest

from genfill_jax import baselines

from synthetic import photo


def _strokes_mask(height, width):
  mask = np.zeros((height, width), bool)
  mask[5:9, 3:20] = True
  mask[10:25, 12:15] = True
  mask[0:3, 28:32] = True  # touches the image border
  return mask


def test_exact_harmonic_fill_solves_the_discrete_laplace_equation_in_the_holes():
  image = photo(32, 32)
  mask = _strokes_mask(32, 32)
  filled = baselines.exact_harmonic_fill(image[None], mask[None, ..., None])[0].astype(np.float64)
  # Each hole pixel equals the mean of its neighbours inside the image (edges
  # replicated: an outside neighbour counts as the pixel itself).
  padded = np.pad(filled, ((1, 1), (1, 1), (0, 0)), mode="edge")
  neighbours = (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2]
                + padded[1:-1, 2:]) / 4
  np.testing.assert_allclose(filled[mask], neighbours[mask], atol=1e-5)
  np.testing.assert_allclose(filled[~mask], image[~mask] / 255, atol=1e-6)


def test_exact_harmonic_fill_reproduces_a_linear_ramp():
  # A linear function is harmonic: the solve must return it exactly in a hole.
  ramp = np.tile(np.linspace(0, 255, 40)[None, :, None], (20, 1, 3))
  mask = np.zeros((20, 40), bool)
  mask[5:15, 10:30] = True
  filled = baselines.exact_harmonic_fill(ramp[None], mask[None, ..., None])[0]
  np.testing.assert_allclose(filled * 255, ramp, atol=1e-3)


def test_exact_harmonic_fill_refuses_an_image_with_no_known_pixel():
  with pytest.raises(ValueError, match="needs known pixels"):
    baselines.exact_harmonic_fill(photo(8, 8)[None], np.ones((1, 8, 8, 1), bool))


@pytest.mark.parametrize("method", ["telea", "navier_stokes"])
def test_opencv_keeps_known_pixels_and_fills_holes(method):
  image = photo(32, 32)
  mask = _strokes_mask(32, 32)
  filled = baselines.opencv_inpaint(image[None], mask[None, ..., None], method)[0]
  assert filled.dtype == np.uint8
  np.testing.assert_array_equal(filled[~mask], image[~mask])
  # The fill continues its surroundings: far closer than mid-grey would be.
  assert np.abs(filled[mask].astype(float) - image[mask]).mean() < 20
