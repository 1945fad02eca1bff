"""A packed, random-access image format for large datasets in buckets.

    python -m genfill_jax.data.pack --input=FOLDER --output=PACKED [--shard_mb=256]

PACKED/shard-NNNNN.bin hold the image files' bytes back to back, unchanged (no
re-encoding: the round trip is bit for bit); PACKED/index.npz holds, per image
in the folder's sorted order (`sources.list_images`), its name, shard, offset
and length. Reading one image is one ranged read of its bytes: one GET with a
byte range in a bucket, one seek and read on disk. Thousands of small objects
become a few large ones, and the listing of millions of objects becomes one
index download.

Why not ArrayRecord (Grain's format): it adds a C++ dependency and its own
chunked, compressed records, while an image file is already compressed and
addressable by (shard, offset, length); one ranged read per example is what
random access from a bucket needs.
"""

import io
from collections.abc import Sequence

import numpy as np
from absl import app, flags
from etils import epath

from genfill_jax import paths
from genfill_jax.data import sources

INDEX_NAME = "index.npz"


def shard_name(shard: int) -> str:
  return f"shard-{shard:05d}.bin"


def pack(input_dir: str, output_dir: str, shard_bytes: int = 256 << 20) -> int:
  """Packs every image under `input_dir` into shards and an index; returns the count."""
  names = sources.list_images(input_dir)
  output = epath.Path(output_dir)
  output.mkdir(parents=True, exist_ok=True)
  shards, offsets, lengths = [], [], []
  shard, written, chunks = 0, 0, []

  def flush() -> None:
    (output / shard_name(shard)).write_bytes(b"".join(chunks))

  for name in names:
    data = (epath.Path(input_dir) / name.decode()).read_bytes()
    if written and written + len(data) > shard_bytes:
      flush()
      shard, written, chunks = shard + 1, 0, []
    shards.append(shard)
    offsets.append(written)
    lengths.append(len(data))
    chunks.append(data)
    written += len(data)
  flush()
  buffer = io.BytesIO()
  np.savez(buffer, names=names, shards=np.array(shards, np.int32),
           offsets=np.array(offsets, np.int64), lengths=np.array(lengths, np.int64))
  (output / INDEX_NAME).write_bytes(buffer.getvalue())
  return len(names)


class PackedSource:
  """Images of a packed folder (local or gs://), one ranged read each."""

  def __init__(self, directory: str):
    self.directory = directory.rstrip("/")
    index_path = epath.Path(self.directory) / INDEX_NAME
    if not index_path.exists():
      raise FileNotFoundError(f"{index_path} not found: {directory!r} is not a packed folder "
                              f"(python -m genfill_jax.data.pack writes one)")
    with np.load(io.BytesIO(index_path.read_bytes())) as index:
      self.names, self.shards = index["names"], index["shards"]
      self.offsets, self.lengths = index["offsets"], index["lengths"]

  def __len__(self) -> int:
    return len(self.names)

  def path(self, index: int) -> str:
    """Where image `index` came from (its name in the packed folder)."""
    return f"{self.directory}/{self.names[index].decode()}"

  def read_bytes(self, index: int) -> bytes:
    """The image file's bytes, as they were in the folder."""
    shard = f"{self.directory}/{shard_name(int(self.shards[index]))}"
    return paths.read_range(shard, int(self.offsets[index]), int(self.lengths[index]))

  def load(self, index: int, at_least=None) -> np.ndarray:
    """Image `index` as RGB uint8; at_least: decode a JPEG reduced (`decode_image`)."""
    image = sources.decode_image(io.BytesIO(self.read_bytes(index)), self.path(index),
                                 at_least)
    return sources.to_rgb_uint8(image)


def main(argv: Sequence[str]) -> None:
  del argv
  options = flags.FLAGS
  count = pack(options.input, options.output, options.shard_mb << 20)
  print(f"packed {count} images from {options.input} into {options.output}")


if __name__ == "__main__":
  # Defined only when run as a command: main.py, which imports this module through
  # the loader, has flags of the same names.
  flags.DEFINE_string("input", None, "Folder of images (local or gs://).")
  flags.DEFINE_string("output", None, "Where the shards and index go.")
  flags.DEFINE_integer("shard_mb", 256, "Shard size in MB (images never split).")
  flags.mark_flags_as_required(["input", "output"])
  app.run(main)
