"""Paths of run files, local or in a bucket (gs://), through etils.epath.

epath reaches gs:// through gcsfs. Orbax and TensorStore take the same paths
for the checkpoints' arrays.
"""

import os

import fsspec
from etils import epath

# Several hosts write one bucket, and a web page or an evaluation may read a run
# that trains elsewhere: gcsfs would keep every folder listing it made for the
# life of the process and miss newer checkpoints (and read deleted ones).
fsspec.config.conf.setdefault("gcs", {}).setdefault("use_listings_cache", False)


def is_remote(path: str | os.PathLike) -> bool:
  """Whether `path` names an object store (gs://, s3://, ...) rather than local disk."""
  return "://" in os.fspath(path)


def absolute(path: str | os.PathLike) -> epath.Path:
  """`path` as an absolute epath.Path (Orbax needs one).

  epath's resolve() treats every path as local: gs://b/run would become
  <cwd>/gs:/b/run on this machine's disk. Remote paths are absolute already.
  """
  return epath.Path(path) if is_remote(path) else epath.Path(path).resolve()


def write_bytes_whole(path: epath.Path, data: bytes) -> None:
  """Writes `path`, replacing any file there, so that a reader never sees half of
  it: in a bucket an upload is all or nothing; on local disk a temporary file
  replaces the old one."""
  if is_remote(path):
    path.write_bytes(data)
    return
  temporary = path.with_name(path.name + ".tmp")
  temporary.write_bytes(data)
  temporary.replace(path)


def write_text_whole(path: epath.Path, text: str) -> None:
  """`write_bytes_whole` of `text`, UTF-8."""
  write_bytes_whole(path, text.encode())


def copy_folder(source: str, destination: epath.Path) -> None:
  """Copies the files directly in local folder `source` to `destination`, whole."""
  destination.mkdir(parents=True, exist_ok=True)
  for entry in os.scandir(source):
    if entry.is_file():
      with open(entry.path, "rb") as stream:
        (destination / entry.name).write_bytes(stream.read())


def read_range(path: str, start: int, length: int) -> bytes:
  """`length` bytes of file `path` from `start`: one ranged GET in a bucket (not a
  download of the whole object), one seek and read on local disk."""
  if is_remote(path):
    protocol = path.split("://")[0]
    return fsspec.filesystem(protocol).cat_file(path, start=start, end=start + length)
  with open(path, "rb") as stream:
    stream.seek(start)
    return stream.read(length)
