"""Run files in local folders and buckets: absolute paths, whole-file metrics,
TensorBoard events staged locally for a remote workdir, images read from a bucket."""

import io
import json
import os

import gcsfs
import numpy as np
import pytest
from etils import epath
from PIL import Image

from genfill_jax import checkpoint, metric_writer, paths
from genfill_jax.data import sources

import storage_emulator


def test_a_bucket_path_stays_in_the_bucket():
  # epath's resolve() made gs://b/run into <cwd>/gs:/b/run: checkpoints on local disk.
  assert os.fspath(paths.absolute("gs://bucket/run")) == "gs://bucket/run"
  assert os.fspath(checkpoint.checkpoint_dir("gs://bucket/run")) == "gs://bucket/run/checkpoints"
  assert paths.is_remote("gs://bucket/run") and not paths.is_remote("runs/a")


def test_a_relative_local_path_becomes_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert os.fspath(paths.absolute("runs/a")) == os.fspath(tmp_path / "runs" / "a")


@pytest.fixture
def no_appends(monkeypatch):
  """Fails any open for appending: objects in a bucket cannot be appended to."""
  real_open = epath.Path.open

  def open_without_append(self, mode="r", *args, **kwargs):
    assert "a" not in mode, f"{self} opened for appending"
    return real_open(self, mode, *args, **kwargs)
  monkeypatch.setattr(epath.Path, "open", open_without_append)


def _steps(workdir) -> list[int]:
  return [record["step"] for record in metric_writer.read_records(str(workdir))]


def test_metrics_are_rewritten_whole_and_a_resumed_run_drops_later_steps(tmp_path, no_appends):
  writer = metric_writer.MetricWriter(str(tmp_path))
  for step in (1, 2, 3):
    writer.write(step, {"loss": step / 10})
  writer.close()
  assert _steps(tmp_path) == [1, 2, 3]
  # Killed after step 3 with its last checkpoint at 2: the rerun logs 3 again.
  resumed = metric_writer.MetricWriter(str(tmp_path), start_step=2)
  assert _steps(tmp_path) == [1, 2, 3]  # nothing is lost before the first new write
  resumed.write(3, {"loss": 0.25})
  resumed.close()
  records = metric_writer.read_records(str(tmp_path))
  assert [(record["step"], record["loss"]) for record in records] == [
      (1, 0.1), (2, 0.2), (3, 0.25)]
  assert not list(tmp_path.glob("*.tmp"))
  assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["step"] == 1


def test_a_remote_workdir_gets_its_tensorboard_events_copied_whole(tmp_path, monkeypatch,
                                                                   no_appends):
  staging_root = tmp_path / "local_tmp"
  staging_root.mkdir()
  monkeypatch.setenv("TMPDIR", str(staging_root))
  monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
  workdir = tmp_path / "bucket_run"
  monkeypatch.setattr(paths, "is_remote", lambda path: True)
  writer = metric_writer.MetricWriter(str(workdir))
  writer.write(1, {"loss": 0.5})
  events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
  assert len(events) == 1 and events[0].stat().st_size > 0  # copied at every write
  size_after_one = events[0].stat().st_size
  writer.write(2, {"loss": 0.4})
  writer.close()
  assert events[0].stat().st_size > size_after_one
  assert list(staging_root.iterdir()) == []  # the local staging folder is gone


def test_bucket_listings_are_not_cached():
  # Another host's new checkpoint must show up in the next listing.
  assert gcsfs.GCSFileSystem(token="anon").dircache.use_listings_cache is False


def test_images_in_a_bucket_are_listed_recursively_and_read(monkeypatch):
  with storage_emulator.running_emulator() as bucket:
    for name, value in bucket.environment().items():
      monkeypatch.setenv(name, value)
    pixels = np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)
    encoded = io.BytesIO()
    Image.fromarray(pixels).save(encoded, format="PNG")
    for name in ("train/a.png", "train/nested/b.png", "train/notes.txt"):
      (epath.Path(f"gs://{bucket.name}") / name).write_bytes(encoded.getvalue())
    source = sources.FolderSource(f"gs://{bucket.name}/train")
    assert list(source.names) == [b"a.png", b"nested/b.png"]
    assert source.path(1) == f"gs://{bucket.name}/train/nested/b.png"
    np.testing.assert_array_equal(source.load(1), pixels)
