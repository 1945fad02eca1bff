"""The packed format: shards of image bytes and an index, read one range at a time."""

import subprocess
import sys

import gcsfs
import jax
import numpy as np
import pytest
from PIL import Image

from genfill_jax import train
from genfill_jax.data import pack, sources

import storage_emulator
from helpers import ROOT, tiny_config_evaluated_at_end


def _write_images(folder, count=16):
  """count small images of several formats in nested folders, and a truncated JPEG."""
  rng = np.random.default_rng(0)
  (folder / "nested").mkdir(parents=True)
  for index in range(count):
    pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    name = ("nested/" if index % 3 == 0 else "") + f"image_{index}." + (
        "jpg" if index % 2 else "png")
    Image.fromarray(pixels).save(folder / name)
  good = (folder / "image_1.jpg").read_bytes()
  (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])


def test_packing_round_trips_every_file_bit_for_bit_across_shards(tmp_path):
  _write_images(tmp_path / "images")
  count = pack.pack(str(tmp_path / "images"), str(tmp_path / "packed"), shard_bytes=8000)
  folder = sources.FolderSource(str(tmp_path / "images"))
  packed = pack.PackedSource(str(tmp_path / "packed"))
  assert count == len(packed) == len(folder) == 17
  assert len(list((tmp_path / "packed").glob("shard-*.bin"))) > 2  # several shards
  assert list(packed.names) == list(folder.names)  # the folder's sorted order
  for index in range(len(folder)):
    with open(folder.path(index), "rb") as stream:
      assert packed.read_bytes(index) == stream.read()
    if b"truncated" in folder.names[index]:
      with pytest.raises(sources.UnreadableImage, match="truncated.jpg"):
        packed.load(index)
    else:
      np.testing.assert_array_equal(packed.load(index), folder.load(index))


def test_packed_data_train_as_the_folder_does_and_resume_exactly(tmp_path):
  _write_images(tmp_path / "images")
  pack.pack(str(tmp_path / "images"), str(tmp_path / "packed"), shard_bytes=8000)

  def config(source, directory, steps):
    config = tiny_config_evaluated_at_end(steps)
    config.data.source = source
    config.data.train_dir = config.data.validation_dir = str(directory)
    config.eval.lpips_nets = ()
    return config
  folder = train.train_and_evaluate(config("folder", tmp_path / "images", 4),
                                    str(tmp_path / "folder_run"))
  train.train_and_evaluate(config("packed", tmp_path / "packed", 2), str(tmp_path / "packed_run"))
  resumed = train.train_and_evaluate(config("packed", tmp_path / "packed", 4),
                                     str(tmp_path / "packed_run"))
  for left, right in zip(jax.tree.leaves(jax.device_get(folder)),
                         jax.tree.leaves(jax.device_get(resumed)), strict=True):
    np.testing.assert_array_equal(left, right)


def test_packed_shards_in_a_bucket_are_read_by_byte_range(tmp_path, monkeypatch):
  _write_images(tmp_path / "images", count=6)
  ranges = []
  real_cat_file = gcsfs.GCSFileSystem.cat_file

  def recording_cat_file(self, path, start=None, end=None, **kwargs):
    ranges.append((start, end))
    return real_cat_file(self, path, start=start, end=end, **kwargs)
  monkeypatch.setattr(gcsfs.GCSFileSystem, "cat_file", recording_cat_file)
  with storage_emulator.running_emulator() as bucket:
    for name, value in bucket.environment().items():
      monkeypatch.setenv(name, value)
    packed_dir = f"gs://{bucket.name}/packed"
    pack.pack(str(tmp_path / "images"), packed_dir)
    assert sorted(bucket.objects("packed/")) == ["packed/index.npz", "packed/shard-00000.bin"]
    packed = pack.PackedSource(packed_dir)
    folder = sources.FolderSource(str(tmp_path / "images"))
    np.testing.assert_array_equal(packed.load(3), folder.load(3))
  # One ranged read of exactly that image's bytes, not the shard.
  assert ranges == [(int(packed.offsets[3]), int(packed.offsets[3] + packed.lengths[3]))]


def test_the_pack_command_writes_what_the_source_reads(tmp_path):
  _write_images(tmp_path / "images", count=4)
  result = subprocess.run(
      [sys.executable, "-m", "genfill_jax.data.pack", f"--input={tmp_path / 'images'}",
       f"--output={tmp_path / 'packed'}"], cwd=ROOT, capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 0, result.stderr
  assert f"packed 5 images from {tmp_path / 'images'}" in result.stdout
  assert len(pack.PackedSource(str(tmp_path / "packed"))) == 5
