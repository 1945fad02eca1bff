"""Helpers shared by the benchmark scripts."""

import importlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import ml_collections


def load_config(path: str) -> ml_collections.ConfigDict:
  """get_config() of a file in configs/, e.g. 'configs/seed.py'."""
  module = Path(path).with_suffix("").as_posix().replace("/", ".")
  return importlib.import_module(module).get_config()


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
