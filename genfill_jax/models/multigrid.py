"""The harmonic (Laplace) fill of image holes by multigrid V-cycles.

The equations are those of `pull_push.harmonic_fill`'s Jacobi sweeps: each hole
pixel is the mean of its 4 neighbours inside the image (no flux across the
image border), known pixels are fixed. A Jacobi or conjugate-gradient solve
needs more iterations the wider the holes; a V-cycle removes smooth error on a
pyramid of coarser grids, so a handful of cycles converge at any image size.

Cell-centred multigrid on a masked domain: the residual is averaged onto a
grid of 2x2 cells (a cell is unknown when any of its pixels is a hole, known
cells hold a zero correction), the coarse correction comes back by bilinear
interpolation scaled to the step that lowers the error's energy most, and
red-black Gauss-Seidel sweeps smooth on every level.
"""

import jax
import jax.numpy as jnp

# Coarsening stops when a side would fall below this many cells; the coarsest
# grid is then solved by _COARSEST_SWEEPS Gauss-Seidel sweeps.
_COARSEST_SIDE = 4
_COARSEST_SWEEPS = 32
_SMOOTHING_SWEEPS = 2  # Red-black sweeps before and after each coarse correction.


def _neighbour_sum(x: jax.Array) -> jax.Array:
  """Sum of each pixel's neighbours inside the image (zero beyond the border)."""
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1]
          + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:])


def _laplacian(x: jax.Array, degree: jax.Array) -> jax.Array:
  """Neighbours minus degree x: the Laplacian with no flux across the image border."""
  return _neighbour_sum(x) - degree * x


def _degree(height: int, width: int) -> jax.Array:
  """(1, H, W, 1) count of each pixel's neighbours inside the image (2, 3 or 4)."""
  return _neighbour_sum(jnp.ones((1, height, width, 1), jnp.float32))


def _checkerboard(height: int, width: int) -> jax.Array:
  rows, columns = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
  return ((rows + columns) % 2 == 0)[None, :, :, None]


def _smooth(x: jax.Array, rhs: jax.Array, holes: jax.Array, degree: jax.Array,
            sweeps: int) -> jax.Array:
  """Red-black Gauss-Seidel on `laplacian(x) = rhs` at the hole pixels."""
  red = _checkerboard(*x.shape[1:3])

  def sweep(_, x):
    # A loop, not unrolled: XLA compiles one sweep per level instead of dozens.
    for colour in (red, ~red):
      x = jnp.where(holes & colour, (_neighbour_sum(x) - rhs) / degree, x)
    return x

  return jax.lax.fori_loop(0, sweeps, sweep, x)


def _restrict(x: jax.Array) -> jax.Array:
  """Mean over 2x2 cells; an odd side is padded with zeros first."""
  batch, height, width, channels = x.shape
  x = jnp.pad(x, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))
  return x.reshape(batch, (height + 1) // 2, 2, (width + 1) // 2, 2, channels).mean(axis=(2, 4))


def _double(x: jax.Array, axis: int) -> jax.Array:
  """Cell-centred linear interpolation to twice the cells along `axis` (edges
  replicated): each cell's two halves take 3/4 of it and 1/4 of the neighbour
  on their side."""
  size = x.shape[axis]
  padded = jnp.concatenate([jax.lax.slice_in_dim(x, 0, 1, axis=axis), x,
                            jax.lax.slice_in_dim(x, size - 1, size, axis=axis)], axis=axis)
  before = jax.lax.slice_in_dim(padded, 0, size, axis=axis)
  after = jax.lax.slice_in_dim(padded, 2, size + 2, axis=axis)
  halves = jnp.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after], axis=axis + 1)
  shape = list(x.shape)
  shape[axis] *= 2
  return halves.reshape(shape)


def _prolong(coarse: jax.Array, height: int, width: int) -> jax.Array:
  """Bilinear (cell-centred) interpolation back to the finer grid, cropped to size."""
  return _double(_double(coarse, 1), 2)[:, :height, :width]


def _v_cycle(correction: jax.Array, rhs: jax.Array, holes: jax.Array) -> jax.Array:
  """One V-cycle on `laplacian(correction) = rhs` in the holes, zero elsewhere."""
  height, width = correction.shape[1:3]
  degree = _degree(height, width)
  if min(height, width) < 2 * _COARSEST_SIDE:
    return _smooth(correction, rhs, holes, degree, _COARSEST_SWEEPS)
  correction = _smooth(correction, rhs, holes, degree, _SMOOTHING_SWEEPS)
  residual = jnp.where(holes, rhs - _laplacian(correction, degree), 0.0)
  coarse_holes = _restrict(holes.astype(jnp.float32)) > 0
  # The coarse grid's spacing is twice the fine one: its Laplacian is 4x larger.
  coarse_rhs = jnp.where(coarse_holes, 4 * _restrict(residual), 0.0)
  coarse = _v_cycle(jnp.zeros_like(coarse_rhs), coarse_rhs, coarse_holes)
  step = jnp.where(holes, _prolong(coarse, height, width), 0.0)
  # Coarse cells with some known pixels overestimate the correction near the
  # holes' border (up to 2x in a 1-pixel stroke): scale it to the step length
  # that lowers the error's energy most, so a cycle never diverges.
  curvature = jnp.sum(step * _laplacian(step, degree), axis=(1, 2), keepdims=True)
  slope = jnp.sum(step * residual, axis=(1, 2), keepdims=True)
  length = jnp.where(curvature < 0, slope / jnp.minimum(curvature, -1e-30), 0.0)
  correction = correction + length * step
  return _smooth(correction, rhs, holes, degree, _SMOOTHING_SWEEPS)


def harmonic_fill_multigrid(image: jax.Array, hole_mask: jax.Array, initial_guess: jax.Array,
                            max_cycles: int, tolerance: float) -> jax.Array:
  """The harmonic fill of the holes (hole_mask > 0.5) of an NHWC image.

  Starts from `initial_guess` (for example pull-push) and runs V-cycles until
  every hole pixel's residual (its neighbours' sum minus degree times itself,
  in the image's units) is below `tolerance`, or `max_cycles`. Known pixels
  come back unchanged. Not differentiable (a data-dependent loop); callers
  stop gradients through it.
  """
  image = jax.lax.stop_gradient(image.astype(jnp.float32))
  holes = jax.lax.stop_gradient(hole_mask).astype(jnp.float32) > 0.5
  holes = jnp.broadcast_to(holes, image.shape)
  degree = _degree(*image.shape[1:3])
  guess = jnp.where(holes, jax.lax.stop_gradient(initial_guess).astype(jnp.float32), image)

  def residual_of(current):
    return jnp.where(holes, -_laplacian(current, degree), 0.0)

  def unconverged(residual):  # (N, 1, 1, 1): each image stops on its own residual.
    return jnp.max(jnp.abs(residual), axis=(1, 2, 3), keepdims=True) > tolerance

  def not_converged(carry):
    cycle, _, residual = carry
    return (cycle < max_cycles) & jnp.any(unconverged(residual))

  def cycle_once(carry):
    # Converged images keep their fill, so an image's result does not depend on
    # the others in its batch (nor on how a batch is split over devices).
    cycle, current, residual = carry
    corrected = current + _v_cycle(jnp.zeros_like(current), residual, holes)
    current = jnp.where(unconverged(residual), corrected, current)
    return cycle + 1, current, residual_of(current)

  _, guess, _ = jax.lax.while_loop(not_converged, cycle_once,
                                   (jnp.zeros((), jnp.int32), guess, residual_of(guess)))
  return guess.astype(image.dtype)
