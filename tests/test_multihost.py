"""Two local processes with 4 CPU devices each train what one process with 8 trains."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import ml_collections
import numpy as np

from configs import tiny
from genfill_jax import checkpoint, parallel, train, train_state

ROOT = Path(__file__).resolve().parents[1]
# One compiled step variant (the full GAN from step 0) keeps compilation short.
OVERRIDES = ("--config.train.num_train_steps=3", "--config.train.checkpoint_every_steps=3",
             "--config.train.eval_every_steps=3", "--config.eval.families=('box',)",
             "--config.train.adversarial_start_step=0")


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def _restore_on_one_device(workdir: Path):
  config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
  mesh = parallel.create_mesh(jax.devices()[:1])
  manager = checkpoint.create_manager(str(workdir), keep=1, read_only=True)
  return jax.device_get(checkpoint.restore(manager, train_state.abstract_train_state(
      config, mesh)))


def test_two_processes_train_what_one_process_trains(tmp_path):
  workdir = tmp_path / "two_hosts"
  address = f"127.0.0.1:{_free_port()}"
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
  hosts = [subprocess.Popen(
      [sys.executable, "main.py", "--config=configs/tiny.py", f"--workdir={workdir}",
       *OVERRIDES, f"--config.distributed.coordinator_address={address}",
       "--config.distributed.num_processes=2", f"--config.distributed.process_id={index}"],
      cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for index in range(2)]
  outputs = [host.communicate(timeout=400) for host in hosts]
  for host, (_, stderr) in zip(hosts, outputs, strict=True):
    assert host.returncode == 0, stderr[-3000:]

  config = tiny.get_config()
  config.train.num_train_steps = 3
  config.train.checkpoint_every_steps = 3
  config.train.eval_every_steps = 3
  config.eval.families = ("box",)
  config.train.adversarial_start_step = 0
  assert jax.device_count() == 8
  train.train_and_evaluate(config, str(tmp_path / "one_host"))

  two, one = _restore_on_one_device(workdir), _restore_on_one_device(tmp_path / "one_host")
  assert int(two.step) == int(one.step) == 3
  # Gloo's all-reduce sums in another order than one process does; Adam turns
  # that into tiny parameter differences (see test_train's 8-vs-1 device test).
  for player in ("hole_predictor", "filler", "discriminator"):
    flat_two = np.concatenate([np.ravel(x) for x in jax.tree.leaves(getattr(two, player).params)])
    flat_one = np.concatenate([np.ravel(x) for x in jax.tree.leaves(getattr(one, player).params)])
    difference = np.abs(flat_two - flat_one)
    assert difference.max() <= 4e-3, player
    assert np.mean(difference > 5e-4) <= 0.02, player
  # Only process 0 writes logs: each logged step appears once.
  steps = [json.loads(line)["step"] for line in
           (workdir / "metrics.jsonl").read_text().splitlines()]
  assert steps == [2, 3, 3]  # losses at 2 and 3, the evaluation at 3
  assert (workdir / "previews" / "step_0000003.png").is_file()
  assert "train:" not in outputs[1][1]  # process 1 shows no progress bar
