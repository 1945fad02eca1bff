"""Train-step time on 1, 2, 4 and 8 simulated CPU devices at a fixed per-device batch.

    python -m benchmarks.scaling [--config=configs/default.py] [--per_device_batch=2]
        [--devices=1,2,4,8] [--steps=6] [--json=PATH]

Simulated devices (XLA's host platform split into 8) share this machine's cores,
so this measures the overhead of the data-parallel step (collectives, sync
BatchNorm, per-device programs), not a speed-up. For each device count: the
median ms of the all-players step on a cached real batch, images/s, and the
losses after --steps steps from the same initial state on the training stream
(the global batch grows with the device count, so the losses differ slightly).
"""

import json
import os
import statistics
import time
from pathlib import Path

# Before jax is imported: XLA reads the flag when its CPU backend starts.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")

import jax
from absl import app, flags

from benchmarks import common
from genfill_jax import gan_state, parallel, train_step
from genfill_jax.data import loader

_CONFIG = flags.DEFINE_string("config", "configs/default.py", "Config file.")
_PER_DEVICE = flags.DEFINE_integer("per_device_batch", 2, "Examples per device.")
_DEVICES = flags.DEFINE_list("devices", ["1", "2", "4", "8"], "Device counts.")
_STEPS = flags.DEFINE_integer("steps", 6, "Steps timed (after 2 warm-up steps).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")


def measure(path: str, devices: int, per_device: int, steps: int) -> dict:
  """Median step time and the losses after `steps` steps on `devices` devices."""
  config = common.load_config(path)
  config.data.num_workers = 0
  config.data.large_image_size = 0  # The image_size step only.
  # The loader splits its batch over all 8 devices: draw 8 per-device batches
  # and keep the first `devices` of them.
  config.data.batch_size = per_device * jax.device_count()
  stream = loader.create_train_loader(config)
  config.data.batch_size = per_device * devices
  mesh = parallel.create_mesh(jax.devices()[:devices])
  step_fn = train_step.make_train_step(config, mesh, train_step.ALL_PLAYERS)
  batches = [parallel.shard_batch({name: value[:config.data.batch_size]
                                   for name, value in batch.items()}, mesh)
             for batch, _ in zip(stream, range(steps + 2), strict=False)]
  state = gan_state.init_gan_state(config, mesh)
  times = []
  for index, batch in enumerate(batches):
    start = time.perf_counter()
    state, metrics = step_fn(state, batch)
    jax.block_until_ready(metrics)
    if index >= 2:  # the first steps compile
      times.append((time.perf_counter() - start) * 1e3)
  milliseconds = statistics.median(times)
  losses = {name: round(float(value), 4) for name, value in jax.device_get(metrics).items()
            if name.endswith("/loss")}
  return dict(devices=devices, global_batch=config.data.batch_size,
              ms_per_step=round(milliseconds, 1),
              images_per_second=round(config.data.batch_size / milliseconds * 1e3, 1),
              losses_after_steps=losses)


def main(argv):
  del argv
  print(f"{_CONFIG.value}, {_PER_DEVICE.value} examples per device, "
        f"{os.cpu_count()} CPU cores shared by all simulated devices")
  print(f"{'devices':>7} {'batch':>5} {'ms/step':>9} {'img/s':>7}  losses after "
        f"{_STEPS.value + 2} steps")
  rows = []
  for devices in map(int, _DEVICES.value):
    row = measure(_CONFIG.value, devices, _PER_DEVICE.value, _STEPS.value)
    rows.append(row)
    print(f"{devices:>7} {row['global_batch']:>5} {row['ms_per_step']:>9.1f} "
          f"{row['images_per_second']:>7.1f}  {row['losses_after_steps']}", flush=True)
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(dict(config=_CONFIG.value, rows=rows), indent=2))


if __name__ == "__main__":
  app.run(main)
