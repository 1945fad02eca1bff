"""Image and mask metrics of the evaluation, on images in [0, 1] and float masks (1 = hole).

Masked PSNR and L1 look at the true hole pixels only (known pixels of a
composite are exact and would inflate them); SSIM (dm-pix) looks at the whole
result. The hole predictor is scored by IoU, precision and recall pooled over
all pixels of all images.
"""

import dataclasses

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

IMAGE_METRICS = ("psnr", "ssim", "l1")
HOLE_METRICS = ("iou", "precision", "recall")
# Metrics where a larger value is better (for the others, LPIPS included, smaller is).
HIGHER_IS_BETTER = ("psnr", "ssim")


def _hole_values(mask: jax.Array) -> jax.Array:
  """Number of hole values per image (pixels x 3 channels), at least 1."""
  return jnp.maximum(jnp.sum(mask, axis=(1, 2, 3)) * 3, 1)


def masked_psnr(result: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
  """Per-image PSNR (dB, peak 1) of the squared error over the hole pixels only.

  result, target: (N, H, W, 3) in [0, 1]; mask: (N, H, W, 1). A perfect fill is
  capped at 100 dB (the error is floored at 1e-10).
  """
  squared = jnp.sum((result - target) ** 2 * mask, axis=(1, 2, 3)) / _hole_values(mask)
  return 10 * jnp.log10(1 / jnp.maximum(squared, 1e-10))


def hole_l1(result: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
  """Per-image mean absolute error over the hole pixels only."""
  return jnp.sum(jnp.abs(result - target) * mask, axis=(1, 2, 3)) / _hole_values(mask)


@jax.jit
def image_metrics(result: jax.Array, target: jax.Array, mask: jax.Array) -> dict:
  """{'psnr', 'ssim', 'l1'}: one value per image (masked PSNR, SSIM, hole L1)."""
  return {"psnr": masked_psnr(result, target, mask), "ssim": dm_pix.ssim(result, target),
          "l1": hole_l1(result, target, mask)}


@dataclasses.dataclass(frozen=True)
class HoleCounts:
  """Pixel counts of a predicted mask against the true one, summed over images."""

  overlap: float = 0.0  # predicted and true
  predicted: float = 0.0
  true: float = 0.0

  def __add__(self, other: "HoleCounts") -> "HoleCounts":
    return HoleCounts(self.overlap + other.overlap, self.predicted + other.predicted,
                      self.true + other.true)


def count_holes(predicted, true) -> HoleCounts:
  """Counts of one batch of binary masks (NumPy or JAX arrays of 0/1)."""
  return HoleCounts(float((predicted * true).sum()), float(predicted.sum()),
                    float(true.sum()))


def hole_scores(counts: HoleCounts) -> dict[str, float]:
  """IoU, precision and recall of pooled counts (0 where a denominator is 0)."""
  union = counts.predicted + counts.true - counts.overlap
  return {"iou": counts.overlap / max(union, 1),
          "precision": counts.overlap / max(counts.predicted, 1),
          "recall": counts.overlap / max(counts.true, 1)}


def paired_bootstrap(differences: np.ndarray, num_resamples: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict[str, float]:
  """Mean of per-example paired differences and its percentile bootstrap interval.

  Examples are resampled with replacement; evaluation crops of the same photo
  are not independent, so with few photos the interval is optimistic.
  """
  rng = np.random.default_rng(seed)
  resampled = differences[rng.integers(0, len(differences), (num_resamples, len(differences)))]
  low, high = np.quantile(resampled.mean(axis=1), [(1 - level) / 2, (1 + level) / 2])
  return {"mean": float(np.mean(differences)), "low": float(low), "high": float(high)}
