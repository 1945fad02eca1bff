"""Is the loader the bottleneck? Training on real batches against one cached batch.

    python -m benchmarks.loader_overhead [--config=configs/default.py] [--steps=40]
        [--workers=0,1,2] [--json=PATH]

Both loops run the compiled step of one phase as the training loop does
(asynchronous dispatch, no wait per step): one takes every batch from the
training DataLoader (the config's worker count) and places it on the devices,
the other reuses one batch already on the devices. Real batches are placed both
synchronously (as the loop did before) and through `parallel.prefetch_to_devices`
(as it does now). The overhead is the relative difference of wall time per step.
"""

import json
import time
from pathlib import Path

import jax
from absl import app, flags

from benchmarks import common
from genfill_jax import gan_state, parallel, train_step
from genfill_jax.data import loader

_CONFIG = flags.DEFINE_string("config", "configs/default.py", "Config file.")
_STEPS = flags.DEFINE_integer("steps", 40, "Timed steps per loop.")
_PHASE = flags.DEFINE_enum("phase", "adversarial", ["reconstruction", "adversarial"],
                           "Which compiled step to run (warm-up or the full GAN).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")
_WORKERS = flags.DEFINE_list("workers", None, "Worker counts to measure (default: the "
                             "config's).")


def _loop_ms(step_fn, state, next_batch, steps: int) -> tuple[float, object]:
  start = time.perf_counter()
  for _ in range(steps):
    state, metrics = step_fn(state, next_batch())
  jax.block_until_ready(metrics)
  return (time.perf_counter() - start) * 1e3 / steps, state


def measure(path: str, steps: int, phase_name: str, num_workers: int | None = None) -> dict:
  """ms per step on cached batches, on real batches placed synchronously (before
  prefetching) and on real batches prefetched to the devices (the training loop
  now), and the loader's overhead of each."""
  config = common.load_config(path)
  if num_workers is not None:
    config.data.num_workers = num_workers
  # One step shape: the image_size step (multi-scale large steps have as many pixels).
  config.data.large_image_size = 0
  mesh = parallel.create_mesh()
  phase = train_step.Phase(hole_predictor=True, filler=True,
                           adversarial=phase_name == "adversarial")
  step_fn = train_step.make_train_step(config, mesh, phase)
  state = gan_state.init_gan_state(config, mesh)
  batches = iter(loader.create_train_loader(config))

  def synchronous():
    return parallel.shard_batch(next(batches), mesh)

  cached_batch = synchronous()
  _, state = _loop_ms(step_fn, state, synchronous, 3)  # compile; workers warm up
  cached_ms, state = _loop_ms(step_fn, state, lambda: cached_batch, steps)
  synchronous_ms, state = _loop_ms(step_fn, state, synchronous, steps)
  prefetched = parallel.prefetch_to_devices(batches, mesh)
  _, state = _loop_ms(step_fn, state, lambda: next(prefetched), 2)  # fill the queue
  prefetched_ms, state = _loop_ms(step_fn, state, lambda: next(prefetched), steps)
  prefetched.close()
  return dict(config=path, phase=phase_name, num_workers=config.data.num_workers,
              batch_size=config.data.batch_size, cached_ms_per_step=round(cached_ms, 1),
              synchronous_ms_per_step=round(synchronous_ms, 1),
              prefetched_ms_per_step=round(prefetched_ms, 1),
              synchronous_overhead=round(synchronous_ms / cached_ms - 1, 4),
              loader_overhead=round(prefetched_ms / cached_ms - 1, 4))


def main(argv):
  del argv
  worker_counts = [int(count) for count in _WORKERS.value] if _WORKERS.value else [None]
  rows = [measure(_CONFIG.value, _STEPS.value, _PHASE.value, workers)
          for workers in worker_counts]
  for row in rows:
    print(f"{row['config']} ({row['phase']} step, batch {row['batch_size']}, "
          f"{row['num_workers']} workers): cached batch {row['cached_ms_per_step']:.1f} "
          f"ms/step; real batches placed synchronously {row['synchronous_ms_per_step']:.1f} "
          f"({row['synchronous_overhead']:+.1%}), prefetched to the devices "
          f"{row['prefetched_ms_per_step']:.1f} ms/step ({row['loader_overhead']:+.1%})")
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
  app.run(main)
