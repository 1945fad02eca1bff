"""How close the filler's harmonic first guess comes to the exact Laplace solve, by
solver, mask family and image size, and what it costs.

    python -m benchmarks.first_guess [--sizes=64,128,256] [--examples=8]
        [--solvers=jacobi_200,conjugate_gradient,multigrid] [--json=PATH]

A validation photo (scikit-image's stereo motorcycle, left view) resized to each
size, `--examples` masks per family drawn at that size (the evaluation's
families, at most half the image). For each solver: masked PSNR of its fill
against `baselines.exact_harmonic_fill` (sparse LU) over the hole pixels (higher
is closer; 60 dB and more is the same image in uint8), and the median time of
the jitted fill of the whole batch after a warm-up call.
"""

import json

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import skimage.data
from absl import app, flags

from benchmarks import common
from configs import default
from genfill_jax import baselines
from genfill_jax.data import holes
from genfill_jax.models import pull_push

_SIZES = flags.DEFINE_list("sizes", ["64", "128", "256"], "Square image sizes (px).")
_EXAMPLES = flags.DEFINE_integer("examples", 8, "Masks per family and size.")
_RUNS = flags.DEFINE_integer("runs", 5, "Timed calls per measurement (median reported).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")

# (solver, iterations, tolerance): earlier runs' 200 Jacobi sweeps, conjugate
# gradients and multigrid V-cycles (configs/default.py) to the default tolerance.
SOLVERS = {"jacobi_200": ("jacobi", 200, 0.0),
           "conjugate_gradient": ("conjugate_gradient", 2000, 1e-3),
           "multigrid": ("multigrid", 50, 1e-3)}
_SOLVERS = flags.DEFINE_list("solvers", list(SOLVERS), "Which solvers to measure.")


def _masked_psnr(result: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
  """PSNR (images in [0, 1]) over the hole pixels of every image together."""
  squared = ((result - reference) ** 2 * mask).sum() / (mask.sum() * result.shape[-1])
  return float(10 * np.log10(1 / max(squared, 1e-12)))


def measure(size: int, family: str, examples: int, runs: int) -> dict:
  """{solver: {'psnr_vs_exact', 'ms'}} for one size and family."""
  config = default.get_config()
  params = {"blocks": config.holes.blocks, "box": config.holes.box}
  photo = cv2.resize(skimage.data.stereo_motorcycle()[0], (size, size),
                     interpolation=cv2.INTER_AREA)
  rng = np.random.default_rng(size)
  masks = np.stack([holes.redrawn(rng, family, size, size, params, 0.5)
                    for _ in range(examples)])[..., None].astype(np.float32)
  images = np.repeat(photo[None], examples, axis=0)
  exact = baselines.exact_harmonic_fill(images, masks)
  signed = jnp.asarray(images, jnp.float32) / 127.5 - 1
  figures = {}
  for name in _SOLVERS.value:
    solver, iterations, tolerance = SOLVERS[name]
    fill = jax.jit(lambda image, mask, solver=solver, iterations=iterations,
                   tolerance=tolerance: pull_push.harmonic_first_guess(
                       image, mask, solver, iterations, tolerance))
    result = np.asarray(fill(signed, jnp.asarray(masks)))
    milliseconds = common.median_ms(
        lambda fill=fill: jax.block_until_ready(fill(signed, jnp.asarray(masks))), runs)
    figures[name] = {"psnr_vs_exact": _masked_psnr((result + 1) / 2, exact, masks),
                     "ms": milliseconds}
  return figures


def main(argv):
  del argv
  table = {}
  print(f"{'size':>5} {'family':<8}" + "".join(f"{name:>34}" for name in _SOLVERS.value))
  for size in map(int, _SIZES.value):
    for family in holes.FAMILIES:
      figures = measure(size, family, _EXAMPLES.value, _RUNS.value)
      table[f"{size}/{family}"] = figures
      print(f"{size:>5} {family:<8}" + "".join(
          f"{figures[name]['psnr_vs_exact']:>20.1f} dB {figures[name]['ms']:>8.1f} ms"
          for name in _SOLVERS.value), flush=True)
  if _JSON.value:
    with open(_JSON.value, "w") as stream:
      json.dump(table, stream, indent=2)


if __name__ == "__main__":
  app.run(main)
