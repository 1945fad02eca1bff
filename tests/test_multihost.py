"""Two local processes with 4 CPU devices each, on a loopback coordinator, training in
a gs:// workdir that a Cloud Storage emulator on loopback serves: what a Cloud TPU
pod does with its bucket."""

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from configs import tiny
from genfill_jax import train
from genfill_jax.inpaint import Inpainter

import storage_emulator
import xla_flags
from helpers import ROOT, assert_params_close_after_adam, restore_on_one_device

# One compiled step variant (the full GAN from step 0) keeps compilation short;
# LPIPS-VGG16 would make each evaluation batch cost seconds.
FULL_GAN = {"train.adversarial_start_step": 0, "train.log_every_steps": 1,
            "train.checkpoint_every_steps": 2, "eval.families": ("box",),
            "eval.lpips_nets": ("alexnet",)}
UNTIL_STOPPED = {**FULL_GAN, "train.num_train_steps": 100000,
                 "train.eval_every_steps": 100000}
SIX_STEPS = {**FULL_GAN, "train.num_train_steps": 6, "train.eval_every_steps": 6}


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


@pytest.fixture(scope="module")
def bucket():
  with storage_emulator.running_emulator() as served:
    yield served


class _Machine:
  """What the hosts may touch on local disk: a working directory and TMPDIR, both
  expected to hold nothing once a run has ended cleanly; their logs live apart."""

  def __init__(self, root: Path, bucket: storage_emulator.Bucket):
    self.cwd, self.tmp, self.logs = root / "cwd", root / "tmp", root / "logs"
    for folder in (self.cwd, self.tmp, self.logs):
      folder.mkdir(parents=True)
    self.environment = {**xla_flags.environment(4), **bucket.environment(),
                        "TMPDIR": str(self.tmp)}

  def local_files(self) -> list[str]:
    return [str(path) for folder in (self.cwd, self.tmp) for path in folder.rglob("*")]

  def wipe(self) -> None:
    """What a recreated VM has: nothing of the earlier run on local disk."""
    for folder in (self.cwd, self.tmp):
      shutil.rmtree(folder)
      folder.mkdir()

  def log(self, launch: str, index: int) -> Path:
    return self.logs / f"{launch}.host{index}.log"


@contextlib.contextmanager
def _two_hosts(machine: _Machine, launch: str, workdir: str, overrides: dict):
  """Runs processes 0 and 1 (killed if still running at the end); yields the two Popens.

  Each writes its output to a log file rather than to a pipe: a host whose pipe
  nobody reads while this process trains would stop at its next print.
  """
  address = f"127.0.0.1:{_free_port()}"
  flags = [f"--config.{field}={value}" for field, value in overrides.items()]
  hosts = []
  for index in range(2):
    with machine.log(launch, index).open("w") as log:
      hosts.append(subprocess.Popen(
          [sys.executable, str(ROOT / "main.py"), f"--config={ROOT}/configs/tiny.py",
           f"--workdir={workdir}", *flags,
           f"--config.distributed.coordinator_address={address}",
           "--config.distributed.num_processes=2", f"--config.distributed.process_id={index}"],
          cwd=machine.cwd, env=machine.environment, stdout=log, stderr=subprocess.STDOUT))
  try:
    yield hosts
  finally:
    for host in hosts:
      if host.poll() is None:
        host.kill()
        host.wait()


def _outputs(machine: _Machine, launch: str) -> str:
  return "".join(machine.log(launch, index).read_text()[-2500:] for index in range(2))


def _wait_for_hosts(machine: _Machine, launch: str, hosts) -> list[str]:
  """Waits for both hosts to exit 0; returns their output."""
  outputs = []
  for index, host in enumerate(hosts):
    host.wait(timeout=400)
    outputs.append(machine.log(launch, index).read_text())
    assert host.returncode == 0, f"host {index}:\n{outputs[-1][-3000:]}"
  return outputs


def _wait_until(condition, hosts, machine: _Machine, launch: str, what: str) -> None:
  deadline = time.monotonic() + 300
  while not condition():
    assert all(host.poll() is None for host in hosts), f"{what}:\n{_outputs(machine, launch)}"
    assert time.monotonic() < deadline, f"{what} (timed out):\n{_outputs(machine, launch)}"
    time.sleep(0.5)


def _saved_steps(bucket, run: str) -> set[int]:
  """Steps with a finished Orbax checkpoint in the bucket."""
  names = bucket.objects(f"{run}/checkpoints/")
  return {int(match.group(1)) for name in names
          if (match := re.fullmatch(rf"{run}/checkpoints/(\d+)/commit_success.txt", name))}


def _logged_steps(bucket, run: str) -> list[int]:
  if f"{run}/metrics.jsonl" not in bucket.objects(f"{run}/metrics.jsonl"):
    return []
  lines = bucket.read(f"{run}/metrics.jsonl").decode().splitlines()
  return [json.loads(line)["step"] for line in lines]


def _tensorboard_steps(bucket, run: str, tag: str) -> set[int]:
  """Steps of scalar `tag` over every event file in <run>/tensorboard in the bucket."""
  steps = set()
  for name in bucket.objects(f"{run}/tensorboard/"):
    with tempfile.TemporaryDirectory() as folder:
      Path(folder, Path(name).name).write_bytes(bucket.read(name))
      events = event_accumulator.EventAccumulator(folder)
      events.Reload()
      if tag in events.Tags()["scalars"]:
        steps |= {event.step for event in events.Scalars(tag)}
  return steps


def test_two_hosts_train_resume_and_stop_in_a_bucket(tmp_path, bucket, monkeypatch):
  run = "two_hosts"
  workdir = f"gs://{bucket.name}/{run}"
  machine = _Machine(tmp_path / "machine", bucket)
  assert jax.device_count() == 8, "the reference needs 8 devices (tests/conftest.py)"

  # 1. Train until a checkpoint is in the bucket, then kill both hosts outright.
  with _two_hosts(machine, "first", workdir, UNTIL_STOPPED) as hosts:
    _wait_until(lambda: _saved_steps(bucket, run) and max(_logged_steps(bucket, run),
                                                          default=0) >= 3,
                hosts, machine, "first", "no checkpoint reached the bucket")
    for host in hosts:
      host.kill()
  killed_at = max(_saved_steps(bucket, run))
  assert f"{run}/config.json" in bucket.objects(run)
  assert _tensorboard_steps(bucket, run, "filler/loss")  # events reach the bucket mid-run
  machine.wipe()

  # 2. The same command resumes from the bucket and ends where an uninterrupted run
  # (this process, 8 devices) ends.
  reference = tiny.get_config()
  reference.update_from_flattened_dict(SIX_STEPS)
  with _two_hosts(machine, "resumed", workdir, SIX_STEPS) as hosts:
    train.train_and_evaluate(reference, str(tmp_path / "one_host"))
    outputs = _wait_for_hosts(machine, "resumed", hosts)
  assert machine.local_files() == [], "a run wrote to local disk instead of the bucket"
  assert "runtime: cpu backend, 8 x cpu (4 local), process 1 of 2" in outputs[1]
  assert "train:" in outputs[0] and "train:" not in outputs[1]  # one progress bar

  for name, value in bucket.environment().items():
    monkeypatch.setenv(name, value)  # this process now reads the bucket too
  resumed = restore_on_one_device(workdir)
  assert int(resumed.step) == 6
  assert_params_close_after_adam(resumed, restore_on_one_device(tmp_path / "one_host"))
  # Each step logged once (the killed run's steps after its checkpoint are dropped),
  # then the evaluation at 6; objects cannot be appended to, so the file is whole.
  assert _logged_steps(bucket, run) == [1, 2, 3, 4, 5, 6, 6]
  assert killed_at in range(2, 6)
  assert _tensorboard_steps(bucket, run, "filler/loss") >= set(range(1, 7))
  objects = bucket.objects(run)
  # Each host scored its own share of the evaluation: the non-learned methods score
  # what one process scoring everything does.
  two_hosts = json.loads(bucket.read(f"{run}/eval/step_6_validation/metrics.json"))["results"]
  one = json.loads((tmp_path / "one_host" / "eval" / "step_6_validation" /
                    "metrics.json").read_text())["results"]
  for method in ("harmonic_exact", "telea", "navier_stokes"):
    assert two_hosts["box"][method] == pytest.approx(one["box"][method], rel=1e-4), method
  for name in ("eval/step_6_validation/metrics.json", "eval/step_6_validation/preview_box.png",
               "checkpoints/6/_CHECKPOINT_METADATA"):
    assert f"{run}/{name}" in objects, name

  # 3. SIGTERM to one host during a long evaluation (at step 8): every host stops
  # at the same evaluation batch, and the checkpoint of step 8 is in the bucket.
  long_evaluation = {**UNTIL_STOPPED, "train.eval_every_steps": 8, "eval.num_examples": 1024}
  with _two_hosts(machine, "preempted", workdir, long_evaluation) as hosts:
    _wait_until(lambda: max(_logged_steps(bucket, run)) >= 8, hosts, machine, "preempted",
                "the two hosts did not train on")
    time.sleep(2)  # into the evaluation, which takes minutes
    hosts[1].send_signal(signal.SIGTERM)  # only one host is told, as on a preempted slice
    signalled = time.monotonic()
    outputs = _wait_for_hosts(machine, "preempted", hosts)
  assert time.monotonic() - signalled < 30
  for output in outputs:
    assert "SIGTERM during the evaluation at step 8: checkpoint of step 8 saved" in output
  assert max(_saved_steps(bucket, run)) == 8
  assert f"{run}/eval/step_8_validation/metrics.json" not in bucket.objects(run)
  assert machine.local_files() == []

  # 4. One process, elsewhere, evaluates and inpaints from the bucket.
  evaluation = subprocess.run(
      [sys.executable, str(ROOT / "main.py"), f"--config={ROOT}/configs/tiny.py",
       f"--workdir={workdir}", "--mode=eval", "--config.eval.families=('box',)",
       "--config.eval.lpips_nets=('alexnet',)"],
      cwd=machine.cwd, env={**machine.environment, **xla_flags.environment(1)},
      capture_output=True, text=True, timeout=300)
  assert evaluation.returncode == 0, evaluation.stderr[-3000:]
  metrics = json.loads(bucket.read(f"{run}/eval/step_8_validation/metrics.json"))
  assert metrics["step"] == 8
  inpainter = Inpainter.from_workdir(workdir)
  image = np.asarray(jax.random.uniform(jax.random.key(0), (32, 32, 3)) * 255, np.uint8)
  mask = np.zeros((32, 32), bool)
  mask[8:20, 10:24] = True
  filled, used_mask = inpainter(image, mask)
  assert filled.shape == image.shape and np.array_equal(used_mask, mask)
  np.testing.assert_array_equal(filled[~mask], image[~mask])
  assert machine.local_files() == []
