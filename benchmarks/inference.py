"""Inpainting latency of a trained run against OpenCV, by image size and strategy.

    python -m benchmarks.inference --workdir=RUN [--sizes=512,1024] [--runs=5]
        [--strategies=original,crop] [--large] [--mixed=8] [--compilation_cache=DIR]
        [--filler_flips=none|left_right|all] [--json=PATH]

A held-out photo (scikit-image's chelsea) resized to each square size, holes
from the 'medium' stroke family drawn at that size (at most 30% of the image).
Times per strategy: the `Inpainter` with the mask given and blind (hole
predictor, then filler); OpenCV Telea and Navier-Stokes (radius 3) on the same
image and mask; medians of --runs calls after the first, which compiles (unless
the compilation cache holds the program) and is reported apart.

--large: a 4096 x 3072 photo (chelsea upscaled) with three thin strokes, each
strategy once warmed up. --mixed=N: N photos of random sizes between 300 and 700
px a side, in one process, per strategy: compilations (cache hits included) and
total time (bucket shapes keep the number of programs small).
"""

import json
import time
from pathlib import Path

import cv2
import jax
import numpy as np
import skimage.data
from absl import app, flags, logging

from benchmarks import common
from genfill_jax import inpaint
from genfill_jax.baselines import OPENCV_FLAGS, OPENCV_RADIUS
from genfill_jax.data import holes
from genfill_jax.inpaint import Inpainter

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained run (required).", required=True)
_SIZES = flags.DEFINE_list("sizes", ["512", "1024"], "Square image sizes (px).")
_STRATEGIES = flags.DEFINE_list("strategies", ["original", "crop"], "Strategies to time.")
_RUNS = flags.DEFINE_integer("runs", 5, "Timed calls per measurement (median reported).")
_LARGE = flags.DEFINE_bool("large", True, "Time a 4096 x 3072 photo with a few strokes.")
_MIXED = flags.DEFINE_integer("mixed", 8, "Photos of mixed sizes to time in one go (0: none).")
_CACHE = flags.DEFINE_string("compilation_cache", "",
                             "Keep compiled programs here across runs ('': no cache).")
_SOLVER = flags.DEFINE_string(
    "solver", "multigrid", "First-guess solver for the run ('' keeps the run's own).")
_FILLER_FLIPS = flags.DEFINE_string(
    "filler_flips", "", "filler.test_time_flips for the run ('' keeps the run's own).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")


def case(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 image, bool mask): chelsea resized, with medium strokes."""
  image = cv2.resize(skimage.data.chelsea(), (width, height), interpolation=cv2.INTER_AREA)
  mask = holes.redrawn(np.random.default_rng(seed), "medium", height, width, {},
                       max_fraction=0.3)
  return image, mask


def large_case() -> tuple[np.ndarray, np.ndarray]:
  """A 4096 x 3072 photo with three strokes 12 px wide, about 400 px long."""
  image = cv2.resize(skimage.data.chelsea(), (4096, 3072), interpolation=cv2.INTER_CUBIC)
  mask = np.zeros((3072, 4096), np.uint8)
  for (x0, y0), (x1, y1) in (((500, 600), (900, 750)), ((2500, 1500), (2700, 1850)),
                             ((3300, 2600), (3700, 2500))):
    cv2.line(mask, (x0, y0), (x1, y1), 1, thickness=12)
  return image, mask.astype(bool)


def _timed(call) -> float:
  start = time.perf_counter()
  call()
  return (time.perf_counter() - start) * 1e3


def measure(inpainter: Inpainter, size: int, strategy: str, runs: int) -> dict:
  """Latencies (ms) at one size with one strategy."""
  image, mask = case(size, size)
  first_call = _timed(lambda: inpainter(image, mask, strategy))
  inpainter(image, None, strategy)  # compiles the blind path
  return dict(
      size=size, strategy=strategy, hole_fraction=round(float(mask.mean()), 3),
      first_call_ms=round(first_call, 1),
      inpainter_ms=round(common.median_ms(lambda: inpainter(image, mask, strategy), runs), 2),
      inpainter_blind_ms=round(common.median_ms(lambda: inpainter(image, None, strategy),
                                                runs), 2))


def opencv_ms(size: int, runs: int) -> dict:
  image, mask = case(size, size)
  mask_u8 = mask.astype(np.uint8) * 255
  return {f"{method}_ms": round(common.median_ms(
      lambda flag=flag: cv2.inpaint(image, mask_u8, OPENCV_RADIUS, flag), runs), 2)
      for method, flag in OPENCV_FLAGS.items()}


def count_compiles(call) -> int:
  compiles = []

  def on_duration(event, duration, **details):
    del duration, details
    if event == "/jax/core/compile/backend_compile_duration":
      compiles.append(event)

  jax.monitoring.register_event_duration_secs_listener(on_duration)
  try:
    call()
  finally:
    jax.monitoring.unregister_event_duration_listener(on_duration)
  return len(compiles)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if _CACHE.value:
    inpaint.enable_compilation_cache(_CACHE.value)
  overrides = ({"filler.harmonic_solver": _SOLVER.value, "filler.harmonic_iterations": 50}
               if _SOLVER.value else {})
  if _FILLER_FLIPS.value:
    overrides["filler.test_time_flips"] = _FILLER_FLIPS.value
  start = time.perf_counter()
  inpainter = Inpainter.from_workdir(_WORKDIR.value, overrides=overrides)
  restore_s = time.perf_counter() - start
  print(f"run {_WORKDIR.value} (step {inpainter.step}, first guess "
        f"{inpainter.config.filler.harmonic_solver}, filler flips "
        f"{inpainter.config.filler.test_time_flips}, restored in {restore_s:.1f} s); median "
        f"of {_RUNS.value} calls")
  print(f"{'size':>5} {'strategy':<9} {'holes':>6} {'first call':>10} {'ours':>9} "
        f"{'ours blind':>10} {'Telea':>9} {'NS':>9}   (ms)")
  figures = {"workdir": _WORKDIR.value, "rows": []}
  for size in map(int, _SIZES.value):
    baseline = opencv_ms(size, _RUNS.value)
    for strategy in _STRATEGIES.value:
      row = measure(inpainter, size, strategy, _RUNS.value) | baseline
      figures["rows"].append(row)
      print(f"{size:>5} {strategy:<9} {row['hole_fraction']:>6.1%} {row['first_call_ms']:>10.0f}"
            f" {row['inpainter_ms']:>9.1f} {row['inpainter_blind_ms']:>10.1f}"
            f" {row['telea_ms']:>9.1f} {row['navier_stokes_ms']:>9.1f}", flush=True)
  if _LARGE.value:
    image, mask = large_case()
    figures["large"] = {}
    for strategy in [name for name in _STRATEGIES.value if name != "original"]:
      first = _timed(lambda strategy=strategy: inpainter(image, mask, strategy))
      steady = common.median_ms(lambda strategy=strategy: inpainter(image, mask, strategy), 3)
      figures["large"][strategy] = {"first_call_ms": first, "steady_ms": steady}
      print(f"4096 x 3072, 3 strokes, {strategy}: first call {first / 1e3:.2f} s, "
            f"then {steady / 1e3:.2f} s", flush=True)
    mask_u8 = mask.astype(np.uint8) * 255
    for method, flag in OPENCV_FLAGS.items():
      figures["large"][method] = {"steady_ms": common.median_ms(
          lambda flag=flag: cv2.inpaint(image, mask_u8, OPENCV_RADIUS, flag), 3)}
      print(f"4096 x 3072, 3 strokes, {method}: {figures['large'][method]['steady_ms'] / 1e3:.2f}"
            " s", flush=True)
  if _MIXED.value:
    rng = np.random.default_rng(1)
    shapes = [tuple(int(side) for side in rng.integers(300, 701, 2)) for _ in range(_MIXED.value)]
    cases = [case(height, width, seed) for seed, (height, width) in enumerate(shapes)]
    figures["mixed"] = {"shapes": shapes}
    for strategy in _STRATEGIES.value:
      start = time.perf_counter()
      compiles = count_compiles(lambda strategy=strategy: [inpainter(image, mask, strategy)
                                                           for image, mask in cases])
      total = time.perf_counter() - start
      figures["mixed"][strategy] = {"compiles": compiles, "seconds": total}
      print(f"{len(shapes)} photos of mixed sizes (300-700 px, {strategy}): {compiles} "
            f"compilations, {total:.1f} s in all", flush=True)
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
  app.run(main)
