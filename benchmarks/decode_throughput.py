"""The data layer at scale: sampler time per step, and images/s per worker by photo
size, output size, reduced JPEG decoding, and storage (folder or packed shards, on disk or in an
emulated bucket).

    python -m benchmarks.decode_throughput [--examples=40] [--json=PATH]

Photos are synthesised (a scikit-image photo upscaled, with grain so that JPEG
has detail to code): small JPEGs (640 x 480) and 12-megapixel JPEGs (4000 x 3000).
One process reads examples one by one as a DataLoader worker does (the rate of
one worker; N workers on N free cores give about N times it). The bucket is
tests/gcs_emulator_server.py on loopback: it measures the request path, not
Cloud Storage's latency.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from absl import app, flags
from etils import epath
from PIL import Image

from benchmarks import common
from genfill_jax.data import datasets, loader, pack, sources

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import storage_emulator  # a test helper: the loopback bucket

_EXAMPLES = flags.DEFINE_integer("examples", 40, "Timed examples per measurement.")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")

PHOTO_SIZES = {"small JPEG (640x480)": (640, 480), "12 MP JPEG (4000x3000)": (4000, 3000)}


def sampler_us_per_step(num_examples: int, batch_size: int = 128, steps: int = 2000) -> dict:
  """Microseconds per step of the training sampler: the first step of an epoch (which
  draws the epoch's permutation) and the steady steps after it."""
  sampler = loader.TrainBatchSampler(num_examples, num_examples, batch_size, seed=0,
                                     start_step=0, slots=range(batch_size))
  start = time.perf_counter()
  sampler.keys_for_step(0)
  first = time.perf_counter() - start
  start = time.perf_counter()
  for step in range(1, steps + 1):
    sampler.keys_for_step(step)
  return dict(examples=num_examples, first_step_ms=round(first * 1e3, 2),
              steady_us_per_step=round((time.perf_counter() - start) / steps * 1e6, 1))


def _write_photos(folder: Path, size: tuple[int, int], count: int = 3) -> None:
  folder.mkdir(parents=True)
  photo = Image.fromarray(skimage.data.astronaut()).resize(size, Image.BICUBIC)
  rng = np.random.default_rng(0)
  for index in range(count):
    grain = rng.integers(-12, 13, (size[1], size[0], 3))
    pixels = np.clip(np.asarray(photo).astype(np.int16) + grain, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / f"photo_{index}.jpg", quality=90)


def images_per_second(directory: str, image_size: int, reduced: bool, examples: int) -> float:
  """Examples/s of the training dataset on `directory`, in this process."""
  config = common.load_config("configs/default.py")
  config.data.train_dir = directory
  config.data.image_size, config.data.reduced_decoding = image_size, reduced
  packed = directory.endswith("_packed")
  source = pack.PackedSource(directory) if packed else sources.FolderSource(directory)
  dataset = datasets.InpaintingDataset(source, config, train=True)
  keys = [datasets.ExampleKey(index % len(source), (0, datasets.TRAIN_STREAM, index, 0))
          for index in range(examples + 2)]
  for key in keys[:2]:  # warm-up: imports, first reads
    dataset[key]
  start = time.perf_counter()
  for key in keys[2:]:
    dataset[key]
  return examples / (time.perf_counter() - start)


def _upload(bucket, folder: Path, prefix: str) -> None:
  for path in folder.iterdir():
    (epath.Path(f"gs://{bucket.name}/{prefix}") / path.name).write_bytes(path.read_bytes())


def main(argv):
  del argv
  samplers = [sampler_us_per_step(count) for count in (10**4, 10**5, 10**6, 10**7)]
  for row in samplers:
    print(f"sampler, {row['examples']:>9,} examples: first step of an epoch "
          f"{row['first_step_ms']} ms, then {row['steady_us_per_step']} us/step", flush=True)
  rows = []
  with tempfile.TemporaryDirectory() as root, storage_emulator.running_emulator() as bucket:
    os.environ.update(bucket.environment())
    for label, size in PHOTO_SIZES.items():
      folder = Path(root) / f"{size[0]}x{size[1]}"
      _write_photos(folder, size)
      _upload(bucket, folder, folder.name)
      pack.pack(str(folder), f"{folder}_packed")
      pack.pack(str(folder), f"gs://{bucket.name}/{folder.name}_packed")
      for storage, directory in (
          ("folder", str(folder)), ("packed", f"{folder}_packed"),
          ("bucket", f"gs://{bucket.name}/{folder.name}"),
          ("packed in bucket", f"gs://{bucket.name}/{folder.name}_packed")):
        for image_size in (64, 256):
          for reduced in (False, True):
            rate = images_per_second(directory, image_size, reduced, _EXAMPLES.value)
            rows.append(dict(photos=label, storage=storage, image_size=image_size,
                             reduced_decoding=reduced, images_per_second=round(rate, 1)))
            print(f"{label:<24} {storage:<16} {image_size:>4} px  reduced decoding "
                  f"{'on ' if reduced else 'off'}  {rate:7.1f} images/s per worker",
                  flush=True)
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(dict(sampler=samplers, decoding=rows), indent=2))


if __name__ == "__main__":
  app.run(main)
