"""First guesses for the holes from the known pixels: pull-push and harmonic fills.

Pull: average the known pixels (and their coverage) down a pyramid of 2x2
cells. Push: from the coarsest level back up, keep each cell's known average in
proportion to how much of it is known and take the rest from the bilinearly
upsampled coarser estimate. Known pixels come back unchanged; holes get a
smooth blend of the colours around them, a first guess the filler refines.
"""

import jax
import jax.numpy as jnp


def _pool(x: jax.Array) -> jax.Array:
  batch, height, width, channels = x.shape
  return x.reshape(batch, height // 2, 2, width // 2, 2, channels).mean(axis=(2, 4))


def pull_push_fill(image: jax.Array, hole_mask: jax.Array) -> jax.Array:
  """Fills hole pixels (hole_mask == 1) of an NHWC image from the known ones.

  The pyramid halves H and W while both are even; a level with no known pixel
  at all falls back to 0 (mid-grey).
  """
  known = 1.0 - hole_mask.astype(image.dtype)
  values, weights = image * known, known
  pyramid = [(values, weights)]
  while values.shape[1] % 2 == 0 and values.shape[2] % 2 == 0 and min(values.shape[1:3]) > 1:
    values, weights = _pool(values), _pool(weights)
    pyramid.append((values, weights))
  values, weights = pyramid[-1]
  estimate = values / jnp.maximum(weights, 1e-6)
  for values, weights in reversed(pyramid[:-1]):
    upsampled = jax.image.resize(estimate, values.shape, method="linear")
    estimate = values + (1.0 - weights) * upsampled
  return estimate


def harmonic_fill(image: jax.Array, hole_mask: jax.Array, iterations: int) -> jax.Array:
  """Pull-push, then `iterations` Jacobi sweeps towards the harmonic (Laplace) fill.

  Each sweep replaces every hole pixel by the mean of its 4 neighbours (edges
  replicated); known pixels stay fixed. Starting from pull-push, a few hundred
  sweeps give a smooth membrane through the hole's border.
  """
  holes = hole_mask.astype(image.dtype) > 0.5

  def sweep(_, current):
    padded = jnp.pad(current, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    neighbours = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1]
                  + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]) / 4
    return jnp.where(holes, neighbours, image)

  return jax.lax.fori_loop(0, iterations, sweep, pull_push_fill(image, hole_mask))
