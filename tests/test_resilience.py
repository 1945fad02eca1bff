"""Runs that survive: exact resume, SIGTERM, half-written checkpoints."""

import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs import tiny
from genfill_jax import checkpoint, parallel, train, train_step
from genfill_jax.gan_state import init_gan_state

from helpers import ROOT, logged, recorded_compiles, tiny_config_evaluated_at_end


class _Killed(Exception):
  pass


def test_a_run_killed_between_checkpoints_resumes_exactly(tmp_path, monkeypatch):
  uninterrupted = train.train_and_evaluate(tiny_config_evaluated_at_end(6), str(tmp_path / "a"))

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
    train.train_and_evaluate(tiny_config_evaluated_at_end(6), str(tmp_path / "b"))
  manager = checkpoint.create_manager(str(tmp_path / "b"), keep=2, read_only=True)
  assert manager.latest_step() == 4
  monkeypatch.setattr(train_step, "make_train_step", real_make)

  # The same command again:
  resumed = train.train_and_evaluate(tiny_config_evaluated_at_end(6), str(tmp_path / "b"))
  assert int(resumed.step) == 6
  for left, right in zip(jax.tree.leaves(jax.device_get(uninterrupted)),
                         jax.tree.leaves(jax.device_get(resumed)), strict=True):
    np.testing.assert_array_equal(left, right)
  assert (logged(tmp_path / "b", "filler/loss")[6]
          == logged(tmp_path / "a", "filler/loss")[6])


def test_an_incomplete_checkpoint_is_never_restored(tmp_path):
  workdir = tmp_path / "run"
  train.train_and_evaluate(tiny_config_evaluated_at_end(4), str(workdir))
  # What a kill during saving leaves: Orbax's temporary directory for step 6.
  partial = workdir / "checkpoints" / "6.orbax-checkpoint-tmp-1700000000"
  partial.mkdir()
  (partial / "_CHECKPOINT_METADATA").write_text("{")
  resumed = train.train_and_evaluate(tiny_config_evaluated_at_end(5), str(workdir))
  assert int(resumed.step) == 5  # resumed from step 4, not from the partial 6


def test_saving_a_state_replicated_on_8_devices_compiles_nothing(tmp_path):
  # Orbax's default replica-parallel saving compiled one slice program per array
  # shape and replica on the first save.
  state = init_gan_state(tiny.get_config(), parallel.create_mesh(jax.devices()))
  assert len(jax.tree.leaves(state)[0].sharding.device_set) == 8
  with recorded_compiles() as compiles:
    manager = checkpoint.create_manager(str(tmp_path), keep=1)
    checkpoint.save(manager, state)
    manager.wait_until_finished()
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


def test_sigterm_during_an_evaluation_stops_it_soon_with_a_checkpoint(tmp_path):
  # An evaluation of 5 families x 512 examples takes minutes here; a preemption
  # notice gives about 30 s. (LPIPS-VGG16 alone would cost seconds per batch.)
  workdir = tmp_path / "run"
  process = subprocess.Popen(
      [sys.executable, "main.py", "--config=configs/tiny.py", f"--workdir={workdir}",
       "--config.train.num_train_steps=3", "--config.train.checkpoint_every_steps=100",
       "--config.train.eval_every_steps=1", "--config.train.log_every_steps=1",
       "--config.eval.num_examples=512", "--config.eval.lpips_nets=('alexnet',)",
       "--config.eval.families=('blocks','box','thin','medium','thick')"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  metrics = workdir / "metrics.jsonl"
  deadline = time.monotonic() + 240
  while not metrics.exists():  # step 1 logged: its evaluation has begun
    assert process.poll() is None, process.communicate()[1]
    assert time.monotonic() < deadline, "training did not start"
    time.sleep(0.2)
  time.sleep(3)  # well into the evaluation
  signalled = time.monotonic()
  process.send_signal(signal.SIGTERM)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0, stderr
  assert time.monotonic() - signalled < 20
  assert "SIGTERM during the evaluation at step 1: checkpoint of step 1 saved" in stdout
  assert not (workdir / "eval").exists()  # the evaluation never finished
  manager = checkpoint.create_manager(str(workdir), keep=1, read_only=True)
  assert manager.latest_step() == 1
