"""Helpers shared by the test modules: tiny configs, a few training steps, logged
metrics, restored runs, and the tolerance for parameters trained under different
summation orders."""

import contextlib
import json
from pathlib import Path

import jax
import ml_collections
import numpy as np

from configs import tiny
from genfill_jax import parallel, runs, train_step
from genfill_jax.data import loader
from genfill_jax.gan_state import init_gan_state

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(num_train_steps: int = 4) -> ml_collections.ConfigDict:
  """configs/tiny.py (every code path, seconds per step) trained for `num_train_steps`."""
  config = tiny.get_config()
  config.train.num_train_steps = num_train_steps
  # The multigrid solve compiles about 2 s slower than conjugate gradients per
  # program, and the suite compiles the filler hundreds of times; both solve the
  # same equations (test_models checks multigrid against the exact solve).
  config.filler.harmonic_solver = "conjugate_gradient"
  return config


def tiny_config_evaluated_at_end(num_train_steps: int) -> ml_collections.ConfigDict:
  """`tiny_config` that evaluates one family, once, at the end: for tests of training
  mechanics (checkpoints, resume), where evaluation time is overhead."""
  config = tiny_config(num_train_steps)
  config.train.eval_every_steps = 100_000
  config.eval.families = ("box",)
  return config


def run_steps(config: ml_collections.ConfigDict, devices, num_steps: int):
  """Trains `num_steps` steps of `config` on `devices`, each in its scheduled phase.

  Returns the final state and each step's metrics, on the host.
  """
  mesh = parallel.create_mesh(devices)
  state = init_gan_state(config, mesh)
  data = iter(loader.create_train_loader(config))
  history = []
  for step in range(num_steps):
    phase = train_step.phase_at(config, step)
    state, metrics = train_step.make_train_step(config, mesh, phase)(
        state, parallel.shard_batch(next(data), mesh))
    history.append(jax.device_get(metrics))
  return jax.device_get(state), history


def logged(workdir: Path, name: str) -> dict[int, float]:
  """{step: value} of scalar `name` in <workdir>/metrics.jsonl."""
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return {record["step"]: record[name] for record in records if name in record}


def restore_on_one_device(workdir: Path):
  """The latest checkpoint of a run, on the first device, as host arrays."""
  _, state = runs.restore_run(str(workdir), mesh=parallel.create_mesh(jax.devices()[:1]))
  return jax.device_get(state)


@contextlib.contextmanager
def recorded_compiles():
  """Yields a list that collects one entry per XLA compilation inside the block."""
  compiles = []

  def on_duration(event, duration, **details):
    if event == "/jax/core/compile/backend_compile_duration":
      compiles.append(details)

  jax.monitoring.register_event_duration_secs_listener(on_duration)
  try:
    yield compiles
  finally:
    jax.monitoring.unregister_event_duration_listener(on_duration)


PLAYERS = ("hole_predictor", "filler", "discriminator")


def assert_params_close_after_adam(state, reference) -> None:
  """The players' params of two runs that differ only in summation order.

  Adam's first updates are close to lr * sign(gradient), so a gradient element
  near zero can flip sign under another summation order (8 devices against 1,
  Gloo's all-reduce against one process): a handful of weights then differ by
  up to 2 * lr per step (configs/tiny.py: lr 1e-3 for the filler, 2e-4 for the
  discriminator, 4e-3 for the hole predictor). Everything else agrees to 5e-4.
  """
  for player in PLAYERS:
    flat, flat_reference = (
        np.concatenate([np.ravel(x) for x in jax.tree.leaves(getattr(s, player).params)])
        for s in (state, reference))
    difference = np.abs(flat - flat_reference)
    assert difference.max() <= 4e-3, player
    assert np.mean(difference > 5e-4) <= 0.02, player
