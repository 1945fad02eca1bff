"""Scalars to metrics.jsonl and TensorBoard (torch's SummaryWriter, no TensorFlow),
in a local workdir or a gs:// bucket.

Objects in Cloud Storage cannot be appended to, so nothing here appends:
metrics.jsonl is kept in memory and rewritten whole at each write, and in a
remote workdir the TensorBoard event file is written to a local staging folder
and copied whole to <workdir>/tensorboard after each write.
"""

import json
import shutil
import tempfile
import time

import jax
from etils import epath

from genfill_jax import paths


def read_records(workdir: str) -> list[dict]:
  """The records of <workdir>/metrics.jsonl (empty when there is none)."""
  path = epath.Path(workdir) / "metrics.jsonl"
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricWriter:
  """Writes on process 0 only; a no-op on the other hosts.

  A resumed run (start_step > 0) keeps the records up to its checkpoint and
  drops later ones, which it is about to log again.
  """

  def __init__(self, workdir: str, start_step: int = 0):
    self.enabled = jax.process_index() == 0
    if not self.enabled:
      return
    self.workdir = epath.Path(workdir)
    self.jsonl = self.workdir / "metrics.jsonl"
    self.workdir.mkdir(parents=True, exist_ok=True)
    self.lines = [json.dumps(record) + "\n" for record in read_records(workdir)
                  if record["step"] <= start_step]
    from torch.utils.tensorboard import SummaryWriter  # a heavy import, only here

    self.staging = tempfile.mkdtemp(prefix="genfill_jax_tensorboard_") if paths.is_remote(
        workdir) else None
    self.tensorboard = SummaryWriter(self.staging or str(self.workdir / "tensorboard"))

  def write(self, step: int, scalars: dict[str, float]) -> None:
    if not self.enabled:
      return
    record = {"step": step, "time": round(time.time(), 3),
              **{name: float(value) for name, value in scalars.items()}}
    self.lines.append(json.dumps(record) + "\n")
    paths.write_text_whole(self.jsonl, "".join(self.lines))
    for name, value in scalars.items():
      self.tensorboard.add_scalar(name, float(value), step)
    self.tensorboard.flush()
    if self.staging:
      paths.copy_folder(self.staging, self.workdir / "tensorboard")

  def close(self) -> None:
    if not self.enabled:
      return
    self.tensorboard.close()
    if self.staging:
      paths.copy_folder(self.staging, self.workdir / "tensorboard")
      shutil.rmtree(self.staging, ignore_errors=True)
