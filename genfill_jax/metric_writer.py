"""Scalars to TensorBoard (torch's SummaryWriter, no TensorFlow) and metrics.jsonl."""

import json
import logging
import time

import jax
from etils import epath


class MetricWriter:
  """Writes on process 0 only; a no-op on the other hosts.

  TensorBoard event files need a local workdir (torch's writer cannot write to
  gs:// without TensorFlow); metrics.jsonl is written anywhere through epath.
  """

  def __init__(self, workdir: str):
    self.enabled = jax.process_index() == 0
    self.jsonl = epath.Path(workdir) / "metrics.jsonl"
    self.tensorboard = None
    if not self.enabled:
      return
    self.jsonl.parent.mkdir(parents=True, exist_ok=True)
    if "://" in str(workdir):
      logging.warning("workdir %s is remote: TensorBoard events are not written, "
                      "metrics.jsonl is", workdir)
    else:
      from torch.utils.tensorboard import SummaryWriter  # a heavy import, only here

      self.tensorboard = SummaryWriter(str(epath.Path(workdir) / "tensorboard"))

  def write(self, step: int, scalars: dict[str, float]) -> None:
    if not self.enabled:
      return
    record = {"step": step, "time": round(time.time(), 3),
              **{name: float(value) for name, value in scalars.items()}}
    with self.jsonl.open("a") as stream:
      stream.write(json.dumps(record) + "\n")
    if self.tensorboard is not None:
      for name, value in scalars.items():
        self.tensorboard.add_scalar(name, float(value), step)
      self.tensorboard.flush()

  def close(self) -> None:
    if self.tensorboard is not None:
      self.tensorboard.close()
