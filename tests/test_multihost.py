"""Two local processes with 4 CPU devices each, on a loopback coordinator."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np

from genfill_jax import checkpoint, parallel, train_state

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


# LLVM's cheapest code generation halves the compile time of processes that
# compile at once on few cores; results stay within the tolerances below.
_FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def _launch(workdir: Path, overrides, devices: int, distributed=()) -> subprocess.Popen:
  env = dict(os.environ,
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices} {_FAST_COMPILE}")
  return subprocess.Popen(
      [sys.executable, "main.py", "--config=configs/tiny.py", f"--workdir={workdir}",
       *overrides, *distributed],
      cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _launch_two_hosts(workdir: Path, overrides) -> list[subprocess.Popen]:
  address = f"127.0.0.1:{_free_port()}"
  return [_launch(workdir, overrides, 4, (
      f"--config.distributed.coordinator_address={address}",
      "--config.distributed.num_processes=2", f"--config.distributed.process_id={index}"))
      for index in range(2)]


def test_two_processes_train_what_one_process_trains(tmp_path):
  workdir = tmp_path / "two_hosts"
  # The reference, one process with 8 devices, runs beside the two hosts.
  runs = [*_launch_two_hosts(workdir, OVERRIDES), _launch(tmp_path / "one_host", OVERRIDES, 8)]
  outputs = [run.communicate(timeout=400) for run in runs]
  for run, (_, stderr) in zip(runs, outputs, strict=True):
    assert run.returncode == 0, stderr[-3000:]

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


def test_sigterm_on_one_host_makes_every_host_save_the_same_step(tmp_path):
  workdir = tmp_path / "preempted"
  hosts = _launch_two_hosts(workdir, (
      "--config.train.adversarial_start_step=0", "--config.train.num_train_steps=100000",
      "--config.train.checkpoint_every_steps=100000", "--config.train.eval_every_steps=100000",
      "--config.train.log_every_steps=1"))
  metrics = workdir / "metrics.jsonl"
  deadline = time.monotonic() + 300
  while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
    assert time.monotonic() < deadline and all(host.poll() is None for host in hosts), (
        "the two hosts did not start training: "
        + "".join(host.communicate()[1][-2000:] for host in hosts if host.poll() is not None))
    time.sleep(0.5)
  hosts[1].send_signal(signal.SIGTERM)  # only one host is told, as on a preempted pod slice
  outputs = [host.communicate(timeout=300) for host in hosts]

  saved = []
  for host, (stdout, stderr) in zip(hosts, outputs, strict=True):
    assert host.returncode == 0, stderr[-3000:]
    match = re.search(r"SIGTERM: checkpoint of step (\d+) saved", stdout + stderr)
    assert match, (stdout + stderr)[-3000:]
    saved.append(int(match.group(1)))
  assert saved[0] == saved[1] >= 2
  state = _restore_on_one_device(workdir)
  assert int(state.step) == saved[0]
