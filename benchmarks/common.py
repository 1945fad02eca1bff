"""Helpers shared by the benchmark scripts."""

import importlib
from pathlib import Path

import ml_collections


def load_config(path: str) -> ml_collections.ConfigDict:
  """get_config() of a file in configs/, e.g. 'configs/seed.py'."""
  module = Path(path).with_suffix("").as_posix().replace("/", ".")
  return importlib.import_module(module).get_config()
