"""The config a run trained with, kept as <workdir>/config.json."""

import json

import ml_collections
from etils import epath


def config_path(workdir: str) -> epath.Path:
  """Where a run's config lives: <workdir>/config.json."""
  return epath.Path(workdir) / "config.json"


def save(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Writes `config` to <workdir>/config.json (training does, on process 0)."""
  config_path(workdir).write_text(config.to_json_best_effort(indent=2))


def load(workdir: str) -> ml_collections.ConfigDict:
  """The config a run was trained with; FileNotFoundError if `workdir` is not a run."""
  path = config_path(workdir)
  if not path.is_file():
    raise FileNotFoundError(
        f"{path} not found: {workdir!r} is not a genfill_jax run directory "
        f"(training writes config.json there)")
  return ml_collections.ConfigDict(json.loads(path.read_text()))
