"""Images per second the training loader delivers, by config and worker count.

    python -m benchmarks.data_throughput [--configs=configs/default.py,configs/seed.py]
        [--workers=0,1,2] [--batches=30] [--json=PATH]

Worker start-up and the first batches are excluded (warm-up); the figure is the
steady rate of the main process receiving NumPy batches.
"""

import json
import time
from pathlib import Path

import ml_collections
from absl import app, flags

from benchmarks import common
from genfill_jax.data import loader

_CONFIGS = flags.DEFINE_list("configs", ["configs/default.py", "configs/seed.py"],
                             "Config files to measure.")
_WORKERS = flags.DEFINE_list("workers", ["0", "1", "2"], "DataLoader worker counts.")
_BATCHES = flags.DEFINE_integer("batches", 30, "Timed batches per measurement.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed batches first.")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")


def measure(config: ml_collections.ConfigDict, num_workers: int, batches: int,
            warmup: int) -> float:
  """Steady-state images/s of the training loader."""
  config.data.num_workers = num_workers
  iterator = iter(loader.create_train_loader(config))
  for _ in range(warmup):
    next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches * config.data.batch_size / (time.perf_counter() - start)


def main(argv):
  del argv
  rows = []
  for path in _CONFIGS.value:
    for workers in map(int, _WORKERS.value):
      config = common.load_config(path)
      rate = measure(config, workers, _BATCHES.value, _WARMUP.value)
      rows.append(dict(config=path, workers=workers, image_size=config.data.image_size,
                       batch_size=config.data.batch_size, images_per_second=round(rate, 1)))
      print(f"{path:<22} {config.data.image_size:>4} px  batch {config.data.batch_size:>3}  "
            f"workers {workers}  {rate:8.1f} images/s", flush=True)
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
  app.run(main)
