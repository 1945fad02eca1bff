"""High-resolution strategies on full-size photos, against OpenCV and the exact harmonic fill.

    python -m benchmarks.strategies --workdir=RUN [--split=validation] [--masks=4]
        [--limits=64,128,256] [--json=PATH]

The split's built-in photos at their full size (hundreds of pixels a side).
Per photo and mask family, `--masks` masks drawn as the evaluation draws them
at the training size (config.data.image_size on the photo's shorter side) and
scaled up to the photo, so holes cover the same share of it. Methods: the
Inpainter with each strategy ('original'; 'resize' and 'crop' at each limit),
OpenCV Telea and Navier-Stokes, and the exact harmonic fill. Metrics per
example: masked PSNR (hole pixels) and LPIPS-AlexNet (whole image); per family
the paired difference of each strategy against the better OpenCV method (by
mean LPIPS) with a 95% bootstrap interval over examples.

Choose the default strategy on --split=validation; --split=test only for the
final table.
"""

import json
import time

import cv2
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging
from tqdm import tqdm

from genfill_jax import baselines, metrics, perceptual
from genfill_jax.data import holes, sources
from genfill_jax.inpaint import Inpainter

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained run (required).", required=True)
_SPLIT = flags.DEFINE_enum("split", "validation", ["validation", "test"], "Which photos.")
_MASKS = flags.DEFINE_integer("masks", 4, "Masks per photo and family.")
_LIMITS = flags.DEFINE_list("limits", ["64", "128", "256"],
                            "inference.size_limit values for 'resize' and 'crop'.")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")

# The run trained with conjugate gradients; multigrid solves the same equations
# to the same tolerance in a few cycles at any size.
SOLVER = {"filler.harmonic_solver": "multigrid", "filler.harmonic_iterations": 50}


def scaled_mask(rng: np.random.Generator, family: str, height: int, width: int,
                config) -> np.ndarray:
  """A `family` mask drawn at the training size (shorter side) and scaled to height x width."""
  scale = config.data.image_size / min(height, width)
  cell = config.holes.blocks.cell_size  # the 'blocks' family's grid divides the size
  small = holes.redrawn(rng, family, cell * max(1, round(height * scale / cell)),
                        cell * max(1, round(width * scale / cell)),
                        config.holes.to_dict(), config.holes.max_fraction)
  return cv2.resize(small.astype(np.float32), (width, height),
                    interpolation=cv2.INTER_LINEAR) > 0.5


def methods(inpainter: Inpainter, limits: list[int]) -> dict:
  """{name: fill(image, mask) -> uint8 result} for every strategy and limit."""
  table = {"original": lambda image, mask: inpainter(image, mask, "original")[0]}
  for limit in limits:
    for strategy in ("resize", "crop"):
      table[f"{strategy}_{limit}"] = (
          lambda image, mask, strategy=strategy, limit=limit: _with_limit(
              inpainter, limit, lambda: inpainter(image, mask, strategy)[0]))
  for method in baselines.OPENCV_FLAGS:
    table[method] = lambda image, mask, method=method: baselines.opencv_inpaint(
        image[None], mask[None, ..., None], method)[0]
  table["harmonic_exact"] = lambda image, mask: np.round(baselines.exact_harmonic_fill(
      image[None], mask[None, ..., None].astype(np.float32))[0] * 255).astype(np.uint8)
  return table


def _with_limit(inpainter: Inpainter, limit: int, call):
  previous = inpainter.config.inference.size_limit
  inpainter.config.inference.size_limit = limit
  try:
    return call()
  finally:
    inpainter.config.inference.size_limit = previous


def score(result: np.ndarray, photo: np.ndarray, mask: np.ndarray) -> dict:
  """{'psnr', 'lpips_alexnet'} of one result."""
  result01 = jnp.asarray(result[None], jnp.float32) / 255
  photo01 = jnp.asarray(photo[None], jnp.float32) / 255
  hole = jnp.asarray(mask[None, ..., None], jnp.float32)
  return {"psnr": float(metrics.masked_psnr(result01, photo01, hole)[0]),
          "lpips_alexnet": float(perceptual.lpips_distance("alexnet", result01, photo01)[0])}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  inpainter = Inpainter.from_workdir(_WORKDIR.value, overrides=SOLVER)
  config = inpainter.config
  names = (config.data.builtin_validation_photos if _SPLIT.value == "validation"
           else config.data.builtin_test_photos)
  source = sources.BuiltinSource(names)
  table = methods(inpainter, [int(limit) for limit in _LIMITS.value])
  rows = {family: {name: [] for name in table} for family in holes.FAMILIES}
  seconds = {name: 0.0 for name in table}
  rng = np.random.default_rng(0)
  with tqdm(total=len(source) * len(holes.FAMILIES) * _MASKS.value, unit="case") as bar:
    for index in range(len(source)):
      photo = source.load(index)
      for family in holes.FAMILIES:
        for _ in range(_MASKS.value):
          mask = scaled_mask(rng, family, *photo.shape[:2], config)
          for name, fill in table.items():
            start = time.perf_counter()
            result = fill(photo, mask)
            seconds[name] += time.perf_counter() - start
            assert np.array_equal(result[~mask], photo[~mask]), name
            rows[family][name].append(score(result, photo, mask))
          bar.update()
  summary = {}
  print(f"{_SPLIT.value} photos {', '.join(names)} at full size; {_MASKS.value} masks each")
  for family, by_method in rows.items():
    means = {name: {metric: float(np.mean([row[metric] for row in values]))
                    for metric in ("psnr", "lpips_alexnet")}
             for name, values in by_method.items()}
    opencv = min(baselines.OPENCV_FLAGS, key=lambda name: means[name]["lpips_alexnet"])
    summary[family] = {"means": means, "better_opencv": opencv, "vs_opencv": {}}
    print(f"\n{family} (better OpenCV by LPIPS: {opencv})")
    print(f"  {'method':<16}{'PSNR':>8}{'LPIPS-A':>9}   LPIPS-A minus OpenCV [95% CI]")
    for name, values in by_method.items():
      differences = np.array([row["lpips_alexnet"] for row in values]) - np.array(
          [row["lpips_alexnet"] for row in by_method[opencv]])
      interval = metrics.paired_bootstrap(differences)
      summary[family]["vs_opencv"][name] = interval
      print(f"  {name:<16}{means[name]['psnr']:>8.2f}{means[name]['lpips_alexnet']:>9.4f}"
            f"   {interval['mean']:+.4f} [{interval['low']:+.4f}, {interval['high']:+.4f}]")
  cases = len(source) * len(holes.FAMILIES) * _MASKS.value
  overall = {name: float(np.mean([summary[family]["means"][name]["lpips_alexnet"]
                                  for family in summary])) for name in table}
  print("\nmean LPIPS-A over families, and seconds per photo (this CPU, compiles included):")
  for name in table:
    print(f"  {name:<16}{overall[name]:>9.4f}{seconds[name] / cases:>9.2f} s")
  if _JSON.value:
    with open(_JSON.value, "w") as stream:
      json.dump({"workdir": _WORKDIR.value, "split": _SPLIT.value, "photos": list(names),
                 "masks": _MASKS.value, "families": summary, "mean_lpips_alexnet": overall,
                 "seconds_per_case": {name: seconds[name] / cases for name in table}},
                stream, indent=2)


if __name__ == "__main__":
  app.run(main)
