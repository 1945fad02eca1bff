"""torch DataLoaders that yield dicts of NumPy batches, NHWC, sharded across hosts.

Training batches are addressed by step: the images of global step s are
positions [s * B, (s + 1) * B) of epoch s // steps_per_epoch's permutation
(drop_last: every batch is full, the remainder of an epoch is dropped), and
each example's randomness is seeded by (seed, step, slot). So the data of step
s depends only on (seed, s): a resumed run sees exactly what an uninterrupted
run would, whatever the number of workers. Host h of P reads slots
[h * B / P, (h + 1) * B / P) of every global batch. With multi-scale training
(config.data.large_image_size), a large step reads only the first
large_batch_size of its positions, at the large size.
"""

import logging
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import jax
import ml_collections
import numpy as np
import torch

from genfill_jax.data import datasets, listing, pack, sources

Batch = dict[str, np.ndarray]


def host_slots(global_batch_size: int, process_index: int, process_count: int) -> range:
  """The slots of a global batch that host `process_index` reads (the batch divides
  over the devices, so over the hosts: `config_checks`)."""
  per_host = global_batch_size // process_count
  return range(process_index * per_host, (process_index + 1) * per_host)


def _every_nth(step: int, every: int) -> bool:
  return step % every == every - 1


def is_large_step(data: ml_collections.ConfigDict, step: int) -> bool:
  """Whether training step `step` uses multi-scale training's large crops."""
  return data.large_image_size > 0 and _every_nth(step, data.large_crop_every)


def global_batch_size_at(data: ml_collections.ConfigDict, step: int) -> int:
  """The number of examples that training step `step` trains on, over all hosts."""
  return data.large_batch_size if is_large_step(data, step) else data.batch_size


class LargeCrops(NamedTuple):
  """Multi-scale training's large steps, as a sampler reads them."""

  image_size: int
  every: int  # step s is large when s % every == every - 1
  slots: Sequence[int]  # this host's slots of a large step's global batch


class TrainBatchSampler(torch.utils.data.Sampler):
  """Endless lists of ExampleKeys, one list per step from `start_step` on."""

  def __init__(self, num_examples: int, num_images: int, global_batch_size: int, seed: int,
               start_step: int, slots: Sequence[int], large: LargeCrops | None = None):
    if num_examples < global_batch_size:
      raise ValueError(f"{num_examples} examples are fewer than one batch "
                       f"({global_batch_size})")
    self.num_examples = num_examples
    self.num_images = num_images
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.start_step = start_step
    self.slots = slots
    self.large = large
    self.steps_per_epoch = num_examples // global_batch_size
    self._epoch, self._order = None, None

  def epoch_order(self, epoch: int) -> np.ndarray:
    """The permutation of all examples that epoch `epoch` reads in order.

    Computed once per epoch and kept (int32 where it fits: 40 MB at 10 million
    examples), so that a step costs the same at any dataset size.
    """
    if epoch != self._epoch:
      order = np.random.default_rng([self.seed, datasets.TRAIN_STREAM, epoch]).permutation(
          self.num_examples)
      self._epoch = epoch
      self._order = order.astype(np.int32) if self.num_examples < 2**31 else order
    return self._order

  def keys_for_step(self, step: int) -> list[datasets.ExampleKey]:
    """This host's examples of global step `step`."""
    epoch, batch_in_epoch = divmod(step, self.steps_per_epoch)
    order = self.epoch_order(epoch)
    first = batch_in_epoch * self.global_batch_size
    slots, image_size = self.slots, 0
    if self.large is not None and _every_nth(step, self.large.every):
      slots, image_size = self.large.slots, self.large.image_size
    return [
        datasets.ExampleKey(int(order[first + slot]) % self.num_images,
                            (self.seed, datasets.TRAIN_STREAM, step, slot),
                            image_size=image_size)
        for slot in slots
    ]

  def __iter__(self) -> Iterator[list[datasets.ExampleKey]]:
    step = self.start_step
    while True:
      yield self.keys_for_step(step)
      step += 1


class NumpyLoader:
  """Iterates a torch DataLoader, converting batches to dicts of NumPy arrays.

  Unreadable files replaced inside the dataset are warned about once each and
  counted in `skipped_files`.
  """

  def __init__(self, dataset: torch.utils.data.Dataset, batch_sampler, num_workers: int,
               prefetch_batches: int = 2):
    self.batch_sampler = batch_sampler
    self.skipped_files: set[str] = set()
    self._loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=batch_sampler, num_workers=num_workers,
        worker_init_fn=datasets.init_worker if num_workers else None,
        prefetch_factor=prefetch_batches if num_workers else None,
        # Forking a process that runs JAX's threads can deadlock; spawn is safe.
        multiprocessing_context="spawn" if num_workers else None,
    )

  def __iter__(self) -> Iterator[Batch]:
    for batch in self._loader:
      for message in filter(None, "\n".join(batch.pop("skipped")).split("\n")):
        if message not in self.skipped_files:
          self.skipped_files.add(message)
          logging.warning("skipping unreadable image %s (%d skipped so far)", message,
                          len(self.skipped_files))
      yield {name: value.numpy() for name, value in batch.items()}


SOURCES = ("builtin", "folder", "packed")  # the choices of config.data.source


def split_images(data: ml_collections.ConfigDict, split: str) -> tuple[str, ...]:
  """What the 'train', 'validation' or 'test' split reads under config.data: its
  built-in photo names, or its one folder (or packed folder)."""
  if data.source == "builtin":
    return tuple(data[f"builtin_{split}_photos"])
  return (data[f"{split}_dir"],)


def _source(data: ml_collections.ConfigDict, split: str):
  """The 'train', 'validation' or 'test' image source named by config.data."""
  if data.source == "builtin":
    return sources.BuiltinSource(split_images(data, split))
  (directory,) = split_images(data, split)
  if data.source == "packed":
    return pack.PackedSource(directory)  # its index is the listing
  return sources.FolderSource(directory, listing.names(directory))


def create_train_loader(config: ml_collections.ConfigDict, start_step: int = 0,
                        process_index: int | None = None,
                        process_count: int | None = None) -> NumpyLoader:
  """The endless training stream of this host, from `start_step` on.

  Raises ValueError (naming the directory) for too few images for one batch.
  """
  data = config.data
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  source = _source(data, "train")
  # Built-in photos are few: each gives several random crops per epoch.
  examples_per_image = data.examples_per_photo if data.source == "builtin" else 1
  dataset = datasets.InpaintingDataset(source, config, train=True,
                                       examples_per_image=examples_per_image)
  if len(dataset) < data.batch_size:
    where = data.train_dir if data.source != "builtin" else "the built-in photos"
    raise ValueError(f"{where} holds {len(dataset)} images, fewer than one batch "
                     f"(config.data.batch_size={data.batch_size})")
  large = None
  if data.large_image_size > 0:
    large = LargeCrops(data.large_image_size, data.large_crop_every,
                       host_slots(data.large_batch_size, process_index, process_count))
  sampler = TrainBatchSampler(
      len(dataset), len(source), data.batch_size, config.seed, start_step,
      host_slots(data.batch_size, process_index, process_count), large)
  return NumpyLoader(dataset, sampler, data.num_workers, data.prefetch_batches)


def eval_example_image(example: int | np.ndarray, num_images: int) -> int | np.ndarray:
  """The index of the image that evaluation example `example` is cropped from: the
  examples go round the split's images in order."""
  return example % num_images


class EvalBatchSampler(torch.utils.data.Sampler):
  """The fixed evaluation examples of one mask family, in global batches."""

  def __init__(self, num_examples: int, num_images: int, global_batch_size: int, seed: int,
               family: str, slots: Sequence[int]):
    self.num_batches = num_examples // global_batch_size
    self.num_images = num_images
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.family = family
    self.slots = slots

  def __len__(self) -> int:
    return self.num_batches

  def __iter__(self) -> Iterator[list[datasets.ExampleKey]]:
    for batch in range(self.num_batches):
      keys = []
      for slot in self.slots:
        example = batch * self.global_batch_size + slot
        # The seed words do not name the family, so every family sees the
        # same crops; the dataset adds the family to the mask's seed.
        keys.append(datasets.ExampleKey(
            eval_example_image(example, self.num_images),
            (self.seed, datasets.EVAL_STREAM, example), self.family))
      yield keys


def create_eval_loader(config: ml_collections.ConfigDict, family: str,
                       process_index: int | None = None,
                       process_count: int | None = None) -> NumpyLoader:
  """The deterministic evaluation stream of one mask family on config.eval.split's
  images (the same data every time)."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  source = _source(config.data, config.eval.split)
  dataset = datasets.InpaintingDataset(source, config, train=False)
  sampler = EvalBatchSampler(
      config.eval.num_examples, len(source), config.data.batch_size, config.eval.seed, family,
      host_slots(config.data.batch_size, process_index, process_count))
  # In-process: the stream is short, and starting worker processes would cost more.
  return NumpyLoader(dataset, sampler, num_workers=0)
