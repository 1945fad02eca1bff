"""First guesses for the holes from the known pixels: pull-push and harmonic fills.

Pull: average the known pixels (and their coverage) down a pyramid of 2x2
cells. Push: from the coarsest level back up, keep each cell's known average in
proportion to how much of it is known and take the rest from the bilinearly
upsampled coarser estimate. Known pixels come back unchanged; holes get a
smooth blend of the colours around them, a first guess the filler refines.
"""

import jax
import jax.numpy as jnp

from genfill_jax.models import multigrid


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


def _neighbour_sum(x: jax.Array) -> jax.Array:
  """Sum of each pixel's 4 neighbours in an NHWC batch, edges replicated."""
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
  return (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1]
          + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:])


def harmonic_fill(image: jax.Array, hole_mask: jax.Array, iterations: int) -> jax.Array:
  """Pull-push, then `iterations` Jacobi sweeps towards the harmonic (Laplace) fill.

  Each sweep replaces every hole pixel by the mean of its 4 neighbours (edges
  replicated); known pixels stay fixed. Starting from pull-push, a few hundred
  sweeps give a smooth membrane through the hole's border.
  """
  holes = hole_mask.astype(image.dtype) > 0.5

  def sweep(_, current):
    return jnp.where(holes, _neighbour_sum(current) / 4, image)

  return jax.lax.fori_loop(0, iterations, sweep, pull_push_fill(image, hole_mask))


def neumann_laplacian(x: jax.Array) -> jax.Array:
  """Sum of the 4 neighbours minus 4x, edges replicated (no flux across the border)."""
  return _neighbour_sum(x) - 4 * x


def _per_channel_dot(a: jax.Array, b: jax.Array) -> jax.Array:
  return jnp.sum(a * b, axis=(1, 2), keepdims=True)


def harmonic_fill_cg(image: jax.Array, hole_mask: jax.Array, max_iterations: int,
                     tolerance: float = 1e-4) -> jax.Array:
  """The harmonic (Laplace) fill by conjugate gradients, started from pull-push.

  Solves the same equations as the Jacobi sweeps of `harmonic_fill` (each hole
  pixel the mean of its neighbours inside the image, known pixels fixed): a
  symmetric positive definite system on the hole pixels, so conjugate
  gradients converge in about as many iterations as the widest hole is pixels
  across, where Jacobi needs about its square. Iterates until every hole
  pixel's residual (the Laplacian, in pixel units of [-1, 1] images) is below
  `tolerance`, or `max_iterations`. Not differentiable (a data-dependent loop):
  the fill depends on data only, and callers stop gradients through it.
  """
  image = jax.lax.stop_gradient(image.astype(jnp.float32))
  holes = (jax.lax.stop_gradient(hole_mask).astype(jnp.float32) > 0.5).astype(jnp.float32)
  tiny = jnp.finfo(jnp.float32).tiny

  def apply_operator(direction):  # A p: minus the Laplacian, restricted to the holes.
    return -holes * neumann_laplacian(direction)

  guess = pull_push_fill(image, holes)
  residual = holes * neumann_laplacian(guess)
  squared = _per_channel_dot(residual, residual)

  def not_converged(carry):
    iteration, _, residual, _, _ = carry
    return (iteration < max_iterations) & (jnp.max(jnp.abs(residual)) > tolerance)

  def step(carry):
    iteration, guess, residual, direction, squared = carry
    product = apply_operator(direction)
    curvature = _per_channel_dot(direction, product)
    step_size = jnp.where(curvature > tiny, squared / jnp.maximum(curvature, tiny), 0.0)
    guess = guess + step_size * direction
    residual = residual - step_size * product
    new_squared = _per_channel_dot(residual, residual)
    momentum = jnp.where(squared > tiny, new_squared / jnp.maximum(squared, tiny), 0.0)
    return iteration + 1, guess, residual, residual + momentum * direction, new_squared

  carry = (jnp.zeros((), jnp.int32), guess, residual, residual, squared)
  _, guess, *_ = jax.lax.while_loop(not_converged, step, carry)
  return jnp.where(holes > 0, guess, image).astype(image.dtype)


HARMONIC_SOLVERS = ("jacobi", "conjugate_gradient", "multigrid")


def harmonic_first_guess(image: jax.Array, hole_mask: jax.Array, solver: str,
                         iterations: int, tolerance: float) -> jax.Array:
  """The filler's 'harmonic' first guess with a named solver (`HARMONIC_SOLVERS`).

  'jacobi': exactly `iterations` sweeps (earlier runs; far from converged in
  wide holes). 'conjugate_gradient': until the residual is below `tolerance`,
  at most `iterations` steps. 'multigrid': V-cycles from pull-push until the
  residual is below `tolerance`, at most `iterations` cycles.
  """
  if solver == "jacobi":
    return harmonic_fill(image, hole_mask, iterations)
  if solver == "conjugate_gradient":
    return harmonic_fill_cg(image, hole_mask, iterations, tolerance)
  if solver == "multigrid":
    filled = multigrid.harmonic_fill_multigrid(
        image, hole_mask, pull_push_fill(image, hole_mask), iterations, tolerance)
    return filled.astype(image.dtype)
  raise ValueError(f"unknown harmonic solver {solver!r}; expected one of {HARMONIC_SOLVERS}")
