"""Runs that survive: exact resume, SIGTERM, half-written checkpoints."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from configs import tiny
from genfill_jax import checkpoint, parallel, train, train_state, train_step

ROOT = Path(__file__).resolve().parents[1]


def _tiny(num_train_steps):
  config = tiny.get_config()
  config.train.num_train_steps = num_train_steps
  config.train.eval_every_steps = 100  # only at the end: keeps the test short
  config.eval.families = ("box",)
  return config


def _losses(workdir: Path) -> dict[int, float]:
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return {r["step"]: r["filler/loss"] for r in records if "filler/loss" in r}


class _Killed(Exception):
  pass


def test_a_run_killed_between_checkpoints_resumes_exactly(tmp_path, monkeypatch):
  uninterrupted = train.train_and_evaluate(_tiny(6), str(tmp_path / "a"))

  real_make = train_step.make_train_step
  calls = {"steps": 0}

  def dies_at_step_5(config, mesh, phase):
    step_fn = real_make(config, mesh, phase)

    def wrapped(state, batch):
      calls["steps"] += 1
      if calls["steps"] == 5:  # after checkpoint 4, before checkpoint 6
        raise _Killed
      return step_fn(state, batch)
    return wrapped

  monkeypatch.setattr(train_step, "make_train_step", dies_at_step_5)
  with pytest.raises(_Killed):
    train.train_and_evaluate(_tiny(6), str(tmp_path / "b"))
  manager = checkpoint.create_manager(str(tmp_path / "b"), keep=2, read_only=True)
  assert manager.latest_step() == 4
  monkeypatch.setattr(train_step, "make_train_step", real_make)

  resumed = train.train_and_evaluate(_tiny(6), str(tmp_path / "b"))  # the same command
  assert int(resumed.step) == 6
  for left, right in zip(jax.tree.leaves(jax.device_get(uninterrupted)),
                         jax.tree.leaves(jax.device_get(resumed)), strict=True):
    np.testing.assert_array_equal(left, right)
  assert _losses(tmp_path / "b")[6] == _losses(tmp_path / "a")[6]


def test_an_incomplete_checkpoint_is_never_restored(tmp_path):
  workdir = tmp_path / "run"
  train.train_and_evaluate(_tiny(4), str(workdir))
  # What a kill during saving leaves: Orbax's temporary directory for step 6.
  partial = workdir / "checkpoints" / "6.orbax-checkpoint-tmp-1700000000"
  partial.mkdir()
  (partial / "_CHECKPOINT_METADATA").write_text("{")
  resumed = train.train_and_evaluate(_tiny(5), str(workdir))
  assert int(resumed.step) == 5  # resumed from step 4, not from the partial 6


def test_saving_a_state_replicated_on_8_devices_compiles_nothing(tmp_path):
  # Orbax's default replica-parallel saving compiled one slice program per array
  # shape and replica: 5 s on the first save of a tiny run.
  state = train_state.init_train_state(tiny.get_config(), parallel.create_mesh(jax.devices()))
  assert len(jax.tree.leaves(state)[0].sharding.device_set) == 8
  compiles = []

  def on_duration(event, duration, **details):
    if event == "/jax/core/compile/backend_compile_duration":
      compiles.append(details)

  jax.monitoring.register_event_duration_secs_listener(on_duration)
  try:
    manager = checkpoint.create_manager(str(tmp_path), keep=1)
    checkpoint.save(manager, state)
    manager.wait_until_finished()
  finally:
    jax.monitoring.unregister_event_duration_listener(on_duration)
  assert compiles == []
  assert manager.all_steps() == [0]
  manager.close()


def test_sigterm_saves_the_current_step_and_exits_0(tmp_path):
  workdir = tmp_path / "run"
  process = subprocess.Popen(
      [sys.executable, "main.py", "--config=configs/tiny.py", f"--workdir={workdir}",
       "--config.train.num_train_steps=100000", "--config.train.checkpoint_every_steps=100000",
       "--config.train.eval_every_steps=100000", "--config.train.log_every_steps=1"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  metrics = workdir / "metrics.jsonl"
  deadline = time.monotonic() + 240
  while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
    assert process.poll() is None, process.communicate()[1]
    assert time.monotonic() < deadline, "training did not start"
    time.sleep(0.5)
  process.send_signal(signal.SIGTERM)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0, stderr
  manager = checkpoint.create_manager(str(workdir), keep=1, read_only=True)
  saved = manager.latest_step()
  assert saved is not None and 3 <= saved < 100000
  assert f"SIGTERM: checkpoint of step {saved} saved" in stdout
