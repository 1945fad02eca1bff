"""Datasets and loaders: formats, bad files, determinism, host sharding, errors."""

import logging
import time

import numpy as np
import pytest
import skimage.data
import torch
from etils import epath
from PIL import Image

from configs import tiny
from genfill_jax import train
from genfill_jax.data import datasets, listing, loader, sources


def _first_batches(data_loader, count):
  iterator = iter(data_loader)
  return [next(iterator) for _ in range(count)]


def _write_folder(directory, count=8):
  """count good images of several kinds, plus junk the loader must cope with."""
  rng = np.random.default_rng(0)
  nested = directory / "nested" / "deeper"
  nested.mkdir(parents=True)
  for index in range(count):
    pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    kind = index % 4
    if kind == 0:
      Image.fromarray(pixels).save(directory / f"rgb_{index}.jpg")
    elif kind == 1:
      Image.fromarray(pixels[..., 0]).save(directory / f"gray_{index}.png")
    elif kind == 2:
      rgba = np.concatenate([pixels, np.full((40, 48, 1), 128, np.uint8)], -1)
      Image.fromarray(rgba, "RGBA").save(nested / f"alpha_{index}.png")
    else:
      Image.fromarray(pixels).convert("P").save(directory / f"palette_{index}.bmp")
  good = (directory / "rgb_0.jpg").read_bytes()
  (directory / "truncated.jpg").write_bytes(good[: len(good) // 3])
  (directory / "notes.txt").write_text("not an image")


def _folder_config(tmp_path, batch_size=8):
  config = tiny.get_config()
  config.data.source = "folder"
  config.data.train_dir = str(tmp_path)
  config.data.test_dir = str(tmp_path)
  config.data.batch_size = batch_size
  return config


def test_loader_yields_numpy_uint8_nhwc_batches():
  batch = _first_batches(loader.create_train_loader(tiny.get_config()), 1)[0]
  assert set(batch) == {"image", "filler_input", "predictor_input", "mask"}
  assert batch["image"].shape == batch["filler_input"].shape == (8, 32, 32, 3)
  assert batch["image"].dtype == batch["filler_input"].dtype == np.uint8
  assert batch["mask"].shape == (8, 32, 32, 1) and batch["mask"].dtype == bool
  holes = np.broadcast_to(batch["mask"], batch["image"].shape)
  assert np.all(batch["filler_input"][holes] == 128)  # 'zeros' corruption: 0 -> mid-grey
  assert np.array_equal(batch["filler_input"][~holes], batch["image"][~holes])
  # The hole predictor's input: noise in the holes, clean elsewhere.
  assert np.array_equal(batch["predictor_input"][~holes], batch["image"][~holes])
  assert batch["predictor_input"][holes].std() > 50


def test_gray_noise_fraction_makes_training_hole_noise_gray_and_leaves_the_rest():
  config = tiny.get_config()
  colour = _first_batches(loader.create_train_loader(config), 1)[0]
  config.holes.gray_noise_fraction = 1.0
  gray = _first_batches(loader.create_train_loader(config), 1)[0]
  # Crops, masks and the filler's input come from the same draws as before.
  for key in ("image", "mask", "filler_input"):
    assert np.array_equal(gray[key], colour[key])
  holes = np.broadcast_to(gray["mask"], gray["image"].shape)
  noisy = gray["predictor_input"][gray["mask"][..., 0]]  # (pixels, 3)
  assert np.all(noisy == noisy[:, :1]) and noisy.std() > 50  # gray, still noise
  assert not np.all(colour["predictor_input"][colour["mask"][..., 0]] ==
                    colour["predictor_input"][colour["mask"][..., 0]][:, :1])
  assert np.array_equal(gray["predictor_input"][~holes], gray["image"][~holes])
  # Half the examples, drawn per example.
  config.holes.gray_noise_fraction = 0.5
  half = _first_batches(loader.create_train_loader(config), 4)
  is_gray = [np.all(p[m[..., 0]] == p[m[..., 0]][:, :1])
             for b in half for p, m in zip(b["predictor_input"], b["mask"], strict=True)]
  assert 0 < sum(is_gray) < len(is_gray)
  # Evaluation keeps colour noise: its figures stay comparable across runs.
  config.holes.gray_noise_fraction = 1.0
  evaluation = next(iter(loader.create_eval_loader(config, "thin")))
  noisy = evaluation["predictor_input"][evaluation["mask"][..., 0]]
  assert not np.all(noisy == noisy[:, :1])


def test_folder_with_gray_rgba_palette_and_truncated_files(tmp_path, caplog):
  _write_folder(tmp_path)
  source = sources.FolderSource(str(tmp_path))
  assert len(source) == 9  # 8 good images and the truncated one; not the .txt
  assert b"nested/deeper/alpha_2.png" in list(source.names)  # relative to the folder
  assert source.path(list(source.names).index(b"nested/deeper/alpha_2.png")) == str(
      tmp_path / "nested" / "deeper" / "alpha_2.png")
  for index in range(len(source)):
    if "truncated" in source.path(index):
      with pytest.raises(sources.UnreadableImage, match="truncated.jpg"):
        source.load(index)
    else:
      image = source.load(index)
      assert image.shape == (40, 48, 3) and image.dtype == np.uint8
  data_loader = loader.create_train_loader(_folder_config(tmp_path))
  with caplog.at_level(logging.WARNING):
    _first_batches(data_loader, 6)  # several epochs: the bad file comes up repeatedly
  warnings = [r for r in caplog.records if "truncated.jpg" in r.getMessage()]
  assert len(warnings) == 1  # once, naming it
  assert len(data_loader.skipped_files) == 1


def test_a_builtin_photo_band_is_its_columns():
  import skimage.data

  camera = skimage.data.camera()  # 512 x 512 gray
  source = sources.BuiltinSource(["camera@0.75:1", "camera@0:0.75", "camera"])
  assert np.array_equal(source.load(0), np.repeat(camera[:, 384:, None], 3, axis=-1))
  assert source.load(1).shape == (512, 384, 3) and source.load(2).shape == (512, 512, 3)
  assert sources.parse_builtin_name("camera@0.75:1").overlaps(
      sources.parse_builtin_name("camera"))
  assert not sources.parse_builtin_name("camera@0.75:1").overlaps(
      sources.parse_builtin_name("camera@0:0.75"))
  for bad in ("camera@1:0.5", "camera@0:1.5", "camera@a:b", "selfie@0:1", "camera@0.5"):
    with pytest.raises(ValueError, match="camera@|selfie"):
      sources.parse_builtin_name(bad)


def test_transparent_pixels_become_white(tmp_path):
  Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
  image = sources.FolderSource(str(tmp_path)).load(0)
  assert np.all(image == 255)


def test_missing_or_empty_or_small_folders_are_refused(tmp_path):
  config = _folder_config(tmp_path / "absent")
  with pytest.raises(FileNotFoundError, match="absent"):
    loader.create_train_loader(config)
  (tmp_path / "empty").mkdir()
  (tmp_path / "empty" / "readme.txt").write_text("no images here")
  with pytest.raises(ValueError, match=r"empty.*contains no images"):
    loader.create_train_loader(_folder_config(tmp_path / "empty"))
  small = tmp_path / "small"
  small.mkdir()
  _write_folder(small, count=4)
  with pytest.raises(ValueError, match=r"small holds 5 images, fewer than one batch"):
    loader.create_train_loader(_folder_config(small, batch_size=8))


def test_step_s_depends_only_on_seed_and_s():
  config = tiny.get_config()
  uninterrupted = _first_batches(loader.create_train_loader(config), 5)
  resumed = _first_batches(loader.create_train_loader(config, start_step=3), 2)
  for expected, actual in zip(uninterrupted[3:], resumed, strict=True):
    for name in expected:
      assert np.array_equal(expected[name], actual[name]), name
  assert not np.array_equal(uninterrupted[0]["mask"], uninterrupted[1]["mask"])
  config.seed = 1
  other_seed = _first_batches(loader.create_train_loader(config), 1)[0]
  assert not np.array_equal(other_seed["image"], uninterrupted[0]["image"])


def test_multi_scale_training_trains_every_nth_step_on_large_crops_and_resumes_exactly():
  config = tiny.get_config()
  config.data.large_image_size, config.data.large_batch_size = 64, 4
  config.data.large_crop_every = 2
  batches = _first_batches(loader.create_train_loader(config), 4)
  for step, batch in enumerate(batches):
    large = step % 2 == 1
    assert loader.is_large_step(config.data, step) == large
    size, count = (64, 4) if large else (32, 8)
    assert loader.global_batch_size_at(config.data, step) == count
    assert batch["image"].shape == batch["predictor_input"].shape == (count, size, size, 3)
    assert batch["mask"].shape == (count, size, size, 1) and batch["mask"].any()
  resumed = _first_batches(loader.create_train_loader(config, start_step=1), 2)
  for expected, actual in zip(batches[1:3], resumed, strict=True):
    for name in expected:
      assert np.array_equal(expected[name], actual[name]), name
  config.data.large_image_size = 0  # off: every step at image_size, as before
  assert _first_batches(loader.create_train_loader(config), 2)[1]["image"].shape[0] == 8


def test_worker_processes_deliver_the_same_batches():
  config = tiny.get_config()
  in_process = _first_batches(loader.create_train_loader(config), 3)
  config.data.num_workers = 2
  with_workers = _first_batches(loader.create_train_loader(config), 3)
  for expected, actual in zip(in_process, with_workers, strict=True):
    for name in expected:
      assert np.array_equal(expected[name], actual[name]), name


def test_hosts_read_disjoint_shards_that_cover_the_batch():
  config = tiny.get_config()
  whole = _first_batches(loader.create_train_loader(config, process_index=0,
                                                    process_count=1), 2)
  shards = [
      _first_batches(loader.create_train_loader(config, process_index=host,
                                                process_count=2), 2)
      for host in (0, 1)
  ]
  for step in range(2):
    assert shards[0][step]["image"].shape[0] == 4
    for name in whole[step]:
      joined = np.concatenate([shards[0][step][name], shards[1][step][name]])
      assert np.array_equal(joined, whole[step][name]), name


def test_an_epoch_visits_every_example_once():
  config = tiny.get_config()  # 2 photos x 8 examples = 16 = 2 batches of 8
  sampler = loader.create_train_loader(config).batch_sampler
  epoch = [key for step in range(2) for key in sampler.keys_for_step(step)]
  assert sorted(key.image_index for key in epoch) == [0] * 8 + [1] * 8
  next_epoch = [key.image_index for step in (2, 3) for key in sampler.keys_for_step(step)]
  assert next_epoch != [key.image_index for key in epoch]  # reshuffled


def test_the_sampler_keeps_its_order_and_costs_microseconds_at_10_million_examples():
  sampler = loader.TrainBatchSampler(10_000_000, 10_000_000, 16, seed=0, start_step=0,
                                     slots=range(16))
  # The order is the one earlier runs trained with (one NumPy permutation per
  # epoch, now computed once and kept), so their resumed runs see the same data.
  expected = np.random.default_rng([0, datasets.TRAIN_STREAM, 0]).permutation(10_000_000)
  steps = range(1000, 1100)
  assert [key.image_index for step in steps for key in sampler.keys_for_step(step)] == list(
      expected[1000 * 16:1100 * 16])
  started = time.perf_counter()
  for step in range(2000, 4000):
    sampler.keys_for_step(step)
  per_step = (time.perf_counter() - started) / 2000
  assert per_step < 2e-4, f"{per_step * 1e3:.3f} ms per step"
  assert sampler.epoch_order(0).dtype == np.int32  # 40 MB, not 80


def test_evaluation_stream_is_identical_every_time_and_shares_images():
  config = tiny.get_config()
  config.eval.num_examples = 16
  runs = [{family: list(loader.create_eval_loader(config, family))
           for family in ("thin", "box")} for _ in range(2)]
  assert len(runs[0]["thin"]) == 2
  for family in ("thin", "box"):
    for first, second in zip(runs[0][family], runs[1][family], strict=True):
      for name in first:
        assert np.array_equal(first[name], second[name]), (family, name)
  thin, box = runs[0]["thin"][0], runs[0]["box"][0]
  assert np.array_equal(thin["image"], box["image"])  # same crops for every family
  assert not np.array_equal(thin["mask"], box["mask"])
  train_images = _first_batches(loader.create_train_loader(config), 1)[0]["image"]
  assert not np.array_equal(train_images, thin["image"])  # held-out photos


class _OneFile:
  """A source of one image file, decoded as FolderSource decodes."""

  def __init__(self, path):
    self.path = epath.Path(path)

  def __len__(self) -> int:
    return 1

  def load(self, index, at_least=None):
    del index
    return sources.to_rgb_uint8(sources.read_image_file(self.path, at_least))


def test_a_large_jpeg_decoded_reduced_matches_the_full_decode_within_resampling_noise(
    tmp_path):
  photo = Image.fromarray(skimage.data.astronaut()).resize((2400, 1800), Image.BICUBIC)
  grain = np.random.default_rng(0).integers(-20, 21, (1800, 2400, 3))  # fine texture
  pixels = np.clip(np.asarray(photo).astype(np.int16) + grain, 0, 255).astype(np.uint8)
  Image.fromarray(pixels).save(tmp_path / "large.jpg", quality=92)
  source = _OneFile(tmp_path / "large.jpg")
  assert sources.read_image_file(source.path, lambda w, h: (w // 8, h // 8)).size == (300, 225)
  config = tiny.get_config()
  config.data.image_size = 64
  transform = datasets.build_transform(config.data, train=True)
  for seed in range(6):
    full, reduced = (datasets.crop_aware_example(lambda at_least: source.load(0, at_least),
                                                 transform, seed, 64, reduced_decoding)
                     for reduced_decoding in (False, True))
    error = np.abs(full.astype(np.float64) - reduced)
    # JPEG's DCT scaling against an antialiased resize, and the crop box rounded to
    # decoded pixels (at most a quarter of an output pixel): measured 1.6 / 255 mean,
    # 32.5 dB at worst on a grainier 12-megapixel photo.
    assert error.mean() <= 4, seed
    assert 10 * np.log10(255**2 / max(np.mean(error**2), 1e-9)) >= 28, seed


@pytest.mark.parametrize("crop", datasets.CROPS)
def test_decoded_sources_get_exactly_the_transforms_result(crop):
  config = tiny.get_config()
  config.data.crop = crop
  transform = datasets.build_transform(config.data, train=True)
  photo = skimage.data.coffee()
  for seed in range(4):
    expected = datasets.apply_transform(transform, photo, seed)
    got = datasets.crop_aware_example(lambda at_least: photo, transform, seed,
                                      config.data.image_size, reduced_decoding=True)
    np.testing.assert_array_equal(got, expected)


def _crop_sides(transform, height, width, draws=1000):
  crop, image = transform.transforms[0], torch.empty((3, height, width), dtype=torch.uint8)
  sides = []
  for seed in range(draws):
    torch.manual_seed(seed)
    box = crop.make_params([image])
    sides.append(np.sqrt(box["height"] * box["width"]))
  return np.array(sides)


def test_log_uniform_training_crops_give_every_zoom_its_share_and_leave_evaluation_alone():
  config = tiny.get_config()
  config.data.image_size = 64
  config.data.crop_scale = (0.02, 1.0)
  uniform = _crop_sides(datasets.build_transform(config.data, train=True), 512, 512)
  config.data.train_crop_scale = (0.002, 1.0)
  config.data.train_crop_area_sampling = "log_uniform"
  train_transform = datasets.build_transform(config.data, train=True)
  log_uniform = _crop_sides(train_transform, 512, 512)
  evaluation = _crop_sides(datasets.build_transform(config.data, train=False), 512, 512)

  np.testing.assert_array_equal(evaluation, uniform)  # evaluation keeps crop_scale, uniform
  assert uniform.min() >= np.sqrt(0.02) * 512 - 1 and (uniform < 64).mean() == 0
  # log(area) uniform over [log 0.002, 0]: the median area is sqrt(0.002) of the
  # image (a 107 px side), and areas below (64/512)^2 (enlarged crops) 33% of draws.
  assert np.median(log_uniform) == pytest.approx(0.002**0.25 * 512, rel=0.1)
  assert (log_uniform < 64).mean() == pytest.approx(np.log(0.002 / (64 / 512)**2)
                                                     / np.log(0.002), abs=0.04)
  assert log_uniform.min() >= np.sqrt(0.002) * 512 - 1
  assert log_uniform.max() <= 512
  photo = skimage.data.coffee()  # the decoded-source shortcut draws the same crop
  for seed in range(3):
    np.testing.assert_array_equal(
        datasets.crop_aware_example(lambda at_least: photo, train_transform, seed, 64, True),
        datasets.apply_transform(train_transform, photo, seed))


def test_a_run_lists_each_folder_once_and_keeps_its_listing_when_the_folder_changes(
    tmp_path, monkeypatch, capsys):
  images = tmp_path / "images"
  _write_folder(images, count=16)
  config = _folder_config(images)
  config.data.validation_dir = str(images)
  config.train.num_train_steps = 2
  config.train.eval_every_steps = 2
  config.eval.families = ("box", "thin")  # two evaluation streams, two families
  config.eval.lpips_nets = ()  # seconds a batch, and beside the point here
  real_list = sources.list_images
  listed = []
  monkeypatch.setattr(sources, "list_images",
                      lambda directory: listed.append(directory) or real_list(directory))
  workdir = tmp_path / "run"
  train.train_and_evaluate(config, str(workdir))
  # Training start lists each configured folder once; training, both families'
  # evaluation and the data loader reuse it.
  assert listed == [str(images)] * 3  # train, validation and test name the same folder
  stored = np.load(workdir / "listings" / "train.npz")
  assert list(stored["names"]) == list(sources.FolderSource(str(images)).names)

  Image.new("RGB", (40, 48)).save(images / "added_later.png")
  config.train.num_train_steps = 3
  config.train.eval_every_steps = 100  # at the end only
  train.train_and_evaluate(config, str(workdir))
  assert "warning: " + str(images) + " changed since this run listed it (1 added, 0 removed)" \
      in capsys.readouterr().out
  assert b"added_later.png" not in list(listing.names(str(images)))  # the run's own listing
