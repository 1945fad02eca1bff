"""Helpers shared by the benchmark scripts."""

import ast
import functools
import importlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jax
import ml_collections
import numpy as np

from genfill_jax import inpaint, parallel, pixels, runs
from genfill_jax.data import loader
from genfill_jax.models import pull_push


def load_config(path: str) -> ml_collections.ConfigDict:
  """get_config() of a file in configs/, e.g. 'configs/seed.py'."""
  module = Path(path).with_suffix("").as_posix().replace("/", ".")
  return importlib.import_module(module).get_config()


def apply_overrides(config: ml_collections.ConfigDict,
                    overrides: list[str]) -> ml_collections.ConfigDict:
  """Sets each 'section.field=value' of `overrides` in `config` (a Python literal
  value, else the string) and returns it: `--set=loss.perceptual=0`."""
  for override in overrides:
    path, separator, text = override.partition("=")
    if not separator:
      raise ValueError(f"--set {override!r}: expected 'section.field=value'")
    *sections, field = path.split(".")
    node = config
    for section in sections:
      if section not in node:
        raise ValueError(f"--set {override!r}: the config has no section {section!r}")
      node = node[section]
    if field not in node:
      raise ValueError(f"--set {override!r}: the config has no field {path!r}")
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
    node[field] = value
  return config


def restored_fill(workdir: str, config: ml_collections.ConfigDict) -> Callable:
  """The run's filler (EMA weights) restored on one device for `config`, as a jitted
  `fill(filler_input, mask, image)` (`inpaint.fill`), results in [-1, 1]."""
  mesh = parallel.create_mesh(jax.local_devices()[:1])
  _, state = runs.restore_run(workdir, config=config, mesh=mesh)
  _, filler_variables = inpaint.inference_variables(state)
  return jax.jit(functools.partial(inpaint.fill, config, filler_variables))


def filled_in_unit_interval(fill: Callable, batch: dict) -> np.ndarray:
  """`restored_fill`'s result for an evaluation batch, as float images clipped to [0, 1]."""
  signed = pixels.to_signed_batch(batch)
  return np.clip(pixels.signed_to_unit_interval(
      fill(signed.filler_input, signed.mask, signed.image)), 0, 1)


def median_ms(call: Callable[[], object], runs: int, warmup: int = 0) -> float:
  """Median wall time of `call` in ms over `runs` calls, after `warmup` untimed calls."""
  for _ in range(warmup):
    call()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    call()
    times.append((time.perf_counter() - start) * 1e3)
  return statistics.median(times)


def smoothness(images: np.ndarray) -> np.ndarray:
  """Mean absolute difference between neighbouring pixels, per image (N, H, W, C)."""
  return (np.abs(np.diff(images, axis=1)).mean(axis=(1, 2, 3))
          + np.abs(np.diff(images, axis=2)).mean(axis=(1, 2, 3)))


def hole_roughness(residual: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """Mean absolute 5-point Laplacian (the first guess's, `pull_push.neumann_laplacian`)
  of `residual` (N, H, W, C) over hole pixels (mask (N, H, W, 1)) away from the
  image border, per image."""
  laplacian = np.asarray(pull_push.neumann_laplacian(residual))[:, 1:-1, 1:-1]
  holes = mask[:, 1:-1, 1:-1].astype(np.float32)
  return ((np.abs(laplacian) * holes).sum(axis=(1, 2, 3))
          / np.maximum(holes.sum(axis=(1, 2, 3)) * residual.shape[-1], 1))


def per_photo_means(values: np.ndarray, num_photos: int) -> np.ndarray:
  """Means (num_photos,) of per-example `values` (examples,) of an evaluation
  stream, grouped by the photo each example is cropped from
  (`loader.eval_example_image`)."""
  photos = loader.eval_example_image(np.arange(len(values)), num_photos)
  return np.array([values[photos == photo].mean() for photo in range(num_photos)])
