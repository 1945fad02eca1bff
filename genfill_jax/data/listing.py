"""One listing of each image folder per run, kept.

At the start of training process 0 lists each folder the run reads (train,
validation, test) once and stores the list in <workdir>/listings/<split>.npz;
every host loads it from there, hands it to its worker processes with the
dataset, and every evaluation of the run reuses it. A resumed run keeps its
first listing, so its data stay exactly what they were: a folder whose content
has changed since is reported (files added and removed), not mixed in. Delete
the stored listing to train on the new content.
"""

import io

import jax
import ml_collections
import numpy as np
from etils import epath
from jax.experimental import multihost_utils

from genfill_jax.data import sources

# Listings in this process, by folder: `prepare` fills it from the workdir; a
# folder named nowhere there is listed once on first use.
_LISTED: dict[str, np.ndarray] = {}


def names(directory: str) -> np.ndarray:
  """The listing of `directory` (`sources.list_images`), listed at most once per process."""
  if directory not in _LISTED:
    _LISTED[directory] = sources.list_images(directory)
  return _LISTED[directory]


def listing_path(workdir: str, split: str) -> epath.Path:
  return epath.Path(workdir) / "listings" / f"{split}.npz"


def _write(path: epath.Path, directory: str, listed: np.ndarray) -> None:
  buffer = io.BytesIO()
  np.savez_compressed(buffer, directory=np.array(directory), names=listed)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(buffer.getvalue())


def _read(path: epath.Path) -> tuple[str, np.ndarray]:
  with np.load(io.BytesIO(path.read_bytes())) as stored:
    return str(stored["directory"]), stored["names"]


def _report_change(directory: str, stored: np.ndarray, fresh: np.ndarray, path) -> None:
  added = np.setdiff1d(fresh, stored).size
  removed = np.setdiff1d(stored, fresh).size
  print(f"warning: {directory} changed since this run listed it ({added} added, {removed} "
        f"removed); keeping the run's listing {path} so that resuming sees the same data "
        f"(removed files are skipped; delete it to train on the new content)", flush=True)


def prepare(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Lists (process 0) or loads (every host) the run's folders; call at training start.

  Process 0 lists each folder once per start; a stored listing of the same
  folder is kept (and a change reported), a new folder is stored. The other
  hosts wait for it, then read the stored file instead of listing.
  """
  data = config.data
  if data.source != "folder":
    return
  splits = [split for split in ("train", "validation", "test") if data[f"{split}_dir"]]
  if jax.process_index() == 0:
    for split in splits:
      directory, path = data[f"{split}_dir"], listing_path(workdir, split)
      fresh = sources.list_images(directory)
      if path.exists():
        stored_directory, stored = _read(path)
        if stored_directory == directory:
          if not np.array_equal(stored, fresh):
            _report_change(directory, stored, fresh, path)
          _LISTED[directory] = stored
          continue
      _write(path, directory, fresh)
      _LISTED[directory] = fresh
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("listings written")
    for split in splits:
      directory, listed = _read(listing_path(workdir, split))
      _LISTED[directory] = listed
