"""Inpainting latency of a trained run against OpenCV, by image size.

    python -m benchmarks.inference --workdir=RUN [--sizes=64,256,512]
        [--runs=5] [--json=PATH]

A held-out photo (scikit-image's chelsea) resized to each size, holes from the
'medium' stroke family drawn at that size (at most 30% of the image). Times:
`Inpainter` with the mask given, `Inpainter` blind (hole predictor, then
filler), and cv2.inpaint Telea and Navier-Stokes (radius 3) on the same image
and mask; medians after a warm-up call (the Inpainter compiles once per shape:
that first call is reported apart).
"""

import json
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from absl import app, flags

from benchmarks import common
from genfill_jax.baselines import OPENCV_FLAGS, OPENCV_RADIUS
from genfill_jax.data import holes
from genfill_jax.inpaint import Inpainter

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained run (required).", required=True)
_SIZES = flags.DEFINE_list("sizes", ["64", "256", "512"], "Square image sizes (px).")
_RUNS = flags.DEFINE_integer("runs", 5, "Timed calls per measurement (median reported).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")


def case(size: int) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 image, bool mask) of `size` x `size`: chelsea with medium strokes."""
  image = cv2.resize(skimage.data.chelsea(), (size, size), interpolation=cv2.INTER_AREA)
  mask = holes.redrawn(np.random.default_rng(0), "medium", size, size, {}, max_fraction=0.3)
  return image, mask


def measure(inpainter: Inpainter, size: int, runs: int) -> dict:
  """Latencies (ms) at one size."""
  image, mask = case(size)
  start = time.perf_counter()
  inpainter(image, mask)
  first_call = (time.perf_counter() - start) * 1e3
  inpainter(image)  # compiles the blind path
  row = dict(size=size, hole_fraction=round(float(mask.mean()), 3),
             first_call_ms=round(first_call, 1),
             inpainter_ms=round(common.median_ms(lambda: inpainter(image, mask), runs), 2),
             inpainter_blind_ms=round(common.median_ms(lambda: inpainter(image), runs), 2))
  mask_u8 = mask.astype(np.uint8) * 255
  for method, flag in OPENCV_FLAGS.items():
    row[f"{method}_ms"] = round(common.median_ms(
        lambda flag=flag: cv2.inpaint(image, mask_u8, OPENCV_RADIUS, flag), runs), 2)
  return row


def main(argv):
  del argv
  inpainter = Inpainter.from_workdir(_WORKDIR.value)
  print(f"run {_WORKDIR.value} (step {inpainter.step}); median of {_RUNS.value} calls")
  print(f"{'size':>5} {'holes':>6} {'compile+1st':>11} {'ours':>9} {'ours blind':>10} "
        f"{'Telea':>9} {'NS':>9}   (ms)")
  rows = []
  for size in map(int, _SIZES.value):
    row = measure(inpainter, size, _RUNS.value)
    rows.append(row)
    print(f"{size:>5} {row['hole_fraction']:>6.1%} {row['first_call_ms']:>11.0f} "
          f"{row['inpainter_ms']:>9.1f} {row['inpainter_blind_ms']:>10.1f} "
          f"{row['telea_ms']:>9.1f} {row['navier_stokes_ms']:>9.1f}", flush=True)
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(dict(workdir=_WORKDIR.value, rows=rows), indent=2))


if __name__ == "__main__":
  app.run(main)
