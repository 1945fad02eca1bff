"""Two local processes with 4 CPU devices each, on a loopback coordinator."""

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax

from configs import tiny
from genfill_jax import train

import xla_flags
from helpers import ROOT, assert_params_close_after_adam, restore_on_one_device

# One compiled step variant (the full GAN from step 0) keeps compilation short.
THREE_STEPS = {"train.num_train_steps": 3, "train.checkpoint_every_steps": 3,
               "train.eval_every_steps": 3, "eval.families": ("box",),
               "train.adversarial_start_step": 0}


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


@contextlib.contextmanager
def _two_hosts(workdir: Path, overrides: dict):
  """Runs processes 0 and 1 (killed if still running at the end); yields the two Popens.

  Each writes its output to <workdir>.host<index>.log rather than to a pipe: a
  host whose pipe nobody reads while this process trains would stop at its next
  print once the pipe is full.
  """
  address = f"127.0.0.1:{_free_port()}"
  flags = [f"--config.{field}={value}" for field, value in overrides.items()]
  hosts = []
  for index in range(2):
    with _log_path(workdir, index).open("w") as log:
      hosts.append(subprocess.Popen(
          [sys.executable, "main.py", "--config=configs/tiny.py", f"--workdir={workdir}",
           *flags, f"--config.distributed.coordinator_address={address}",
           "--config.distributed.num_processes=2", f"--config.distributed.process_id={index}"],
          cwd=ROOT, env=xla_flags.environment(4), stdout=log, stderr=subprocess.STDOUT))
  try:
    yield hosts
  finally:
    for host in hosts:
      if host.poll() is None:
        host.kill()
        host.wait()


def _log_path(workdir: Path, index: int) -> Path:
  return workdir.with_name(f"{workdir.name}.host{index}.log")


def _wait_for_hosts(workdir: Path, hosts: list[subprocess.Popen]) -> list[str]:
  """Waits for both hosts to exit 0; returns their output."""
  outputs = []
  for index, host in enumerate(hosts):
    host.wait(timeout=400)
    outputs.append(_log_path(workdir, index).read_text())
    assert host.returncode == 0, f"host {index}:\n{outputs[-1][-3000:]}"
  return outputs


def test_two_processes_train_what_one_process_trains(tmp_path):
  workdir = tmp_path / "two_hosts"
  assert jax.device_count() == 8, "the reference needs 8 devices (tests/conftest.py)"
  reference = tiny.get_config()
  reference.update_from_flattened_dict(THREE_STEPS)
  with _two_hosts(workdir, THREE_STEPS) as hosts:
    # The reference, this process with its 8 devices, trains while the two hosts do.
    train.train_and_evaluate(reference, str(tmp_path / "one_host"))
    outputs = _wait_for_hosts(workdir, hosts)

  two, one = restore_on_one_device(workdir), restore_on_one_device(tmp_path / "one_host")
  assert int(two.step) == int(one.step) == 3
  # Gloo's all-reduce sums in another order than one process does.
  assert_params_close_after_adam(two, one)
  # Only process 0 writes logs: each logged step appears once.
  steps = [json.loads(line)["step"] for line in
           (workdir / "metrics.jsonl").read_text().splitlines()]
  assert steps == [2, 3, 3]  # losses at 2 and 3, the evaluation at 3
  assert (workdir / "eval" / "step_3_validation" / "preview_box.png").is_file()
  assert "train:" in outputs[0] and "train:" not in outputs[1]  # one progress bar


def test_sigterm_on_one_host_makes_every_host_save_the_same_step(tmp_path):
  workdir = tmp_path / "preempted"
  overrides = {"train.adversarial_start_step": 0, "train.num_train_steps": 100000,
               "train.checkpoint_every_steps": 100000, "train.eval_every_steps": 100000,
               "train.log_every_steps": 1}
  metrics = workdir / "metrics.jsonl"
  with _two_hosts(workdir, overrides) as hosts:
    deadline = time.monotonic() + 300
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
      assert time.monotonic() < deadline and all(host.poll() is None for host in hosts), (
          "the two hosts did not start training: " + "".join(
              _log_path(workdir, index).read_text()[-2000:] for index in range(2)))
      time.sleep(0.5)
    hosts[1].send_signal(signal.SIGTERM)  # only one host is told, as on a preempted pod slice
    outputs = _wait_for_hosts(workdir, hosts)

  saved = []
  for output in outputs:
    match = re.search(r"SIGTERM: checkpoint of step (\d+) saved", output)
    assert match, output[-3000:]
    saved.append(int(match.group(1)))
  assert saved[0] == saved[1] >= 2
  state = restore_on_one_device(workdir)
  assert int(state.step) == saved[0]
