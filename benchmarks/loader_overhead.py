"""Is the loader the bottleneck? Training on real batches against one cached batch.

    python -m benchmarks.loader_overhead [--config=configs/default.py] [--steps=40]
        [--json=PATH]

Both loops run the compiled step of one phase as the training loop does
(asynchronous dispatch, no wait per step): one takes every batch from the
training DataLoader (the config's worker count) and places it on the devices,
the other reuses one batch already on the devices. The overhead is the relative
difference of their wall time per step.
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


def _loop_ms(step_fn, state, next_batch, steps: int) -> tuple[float, object]:
  start = time.perf_counter()
  for _ in range(steps):
    state, metrics = step_fn(state, next_batch())
  jax.block_until_ready(metrics)
  return (time.perf_counter() - start) * 1e3 / steps, state


def measure(path: str, steps: int, phase_name: str) -> dict:
  """ms per step on real and on cached batches, and the loader's overhead."""
  config = common.load_config(path)
  mesh = parallel.create_mesh()
  phase = train_step.Phase(hole_predictor=True, filler=True,
                           adversarial=phase_name == "adversarial")
  step_fn = train_step.make_train_step(config, mesh, phase)
  state = gan_state.init_gan_state(config, mesh)
  batches = iter(loader.create_train_loader(config))

  def real():
    return parallel.shard_batch(next(batches), mesh)

  cached_batch = real()
  _, state = _loop_ms(step_fn, state, real, 3)  # compile; workers warm up
  cached_ms, state = _loop_ms(step_fn, state, lambda: cached_batch, steps)
  real_ms, state = _loop_ms(step_fn, state, real, steps)
  return dict(config=path, phase=phase_name, num_workers=config.data.num_workers,
              batch_size=config.data.batch_size, cached_ms_per_step=round(cached_ms, 1),
              real_ms_per_step=round(real_ms, 1),
              loader_overhead=round(real_ms / cached_ms - 1, 4))


def main(argv):
  del argv
  row = measure(_CONFIG.value, _STEPS.value, _PHASE.value)
  print(f"{row['config']} ({row['phase']} step, batch {row['batch_size']}, "
        f"{row['num_workers']} workers): cached batch {row['cached_ms_per_step']:.1f} ms/step, "
        f"real batches {row['real_ms_per_step']:.1f} ms/step, loader overhead "
        f"{row['loader_overhead']:+.1%}")
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
  app.run(main)
