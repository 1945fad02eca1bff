"""torch Datasets of inpainting examples: clean image, corrupted image, hole mask.

An example is addressed by an `ExampleKey`: which source image, and the seed
words of its own random generator. Everything random about an example (crop,
flip, colour, mask, noise) is drawn from that generator, so an example depends
only on its key, never on worker processes or on what came before.
"""

from collections.abc import Mapping
from typing import NamedTuple

import ml_collections
import numpy as np
import torch
from torchvision.transforms import v2 as transforms

from genfill_jax import pixels
from genfill_jax.data import corruption, holes, sources

CROPS = ("random_resized", "resize")  # the choices of config.data.crop

# Seed words that keep the different random streams of one run apart.
TRAIN_STREAM, EVAL_STREAM = 1, 2
CROP_PURPOSE, MASK_PURPOSE = 0, 1


class ExampleKey(NamedTuple):
  """What a DataLoader sampler hands the dataset: an image and a seed."""

  image_index: int
  seed_words: tuple  # e.g. (seed, TRAIN_STREAM, step, slot)
  family: str = ""  # a fixed mask family (evaluation); "" draws from holes.weights


def _seed_sequence(seed_words: tuple, *purpose: int) -> np.random.SeedSequence:
  return np.random.SeedSequence([*seed_words, *purpose])


def build_transform(data: ml_collections.ConfigDict, train: bool) -> transforms.Compose:
  """torchvision transforms to data.image_size: crop, then (training) flip and colour jitter.

  data.crop: 'random_resized' (a random area in data.crop_scale of the image,
  resized, as RandomResizedCrop does) or 'resize' (the whole image squashed to a
  square, as the original did). Evaluation crops too, with its own fixed seeds.
  """
  size = (data.image_size, data.image_size)
  if data.crop == "random_resized":
    steps = [transforms.RandomResizedCrop(size, scale=tuple(data.crop_scale), antialias=True)]
  else:  # 'resize'
    steps = [transforms.Resize(size, antialias=True)]
  if train and data.horizontal_flip:
    steps.append(transforms.RandomHorizontalFlip())
  if train and data.color_jitter > 0:
    strength = data.color_jitter
    # No hue jitter: its HSV round trip costs more than the rest of the example.
    steps.append(transforms.ColorJitter(strength, strength, strength))
  return transforms.Compose(steps)


def apply_transform(transform: transforms.Compose, image: np.ndarray, seed: int) -> np.ndarray:
  """Runs torchvision's random transforms on an HWC uint8 image with a private seed.

  torchvision draws from torch's global generator; forking it makes the result
  depend only on `seed`, whatever else the process (or worker) has drawn.
  """
  tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
  with torch.random.fork_rng(devices=[]):
    torch.manual_seed(seed)
    tensor = transform(tensor)
  return tensor.permute(1, 2, 0).numpy()


def init_worker(worker_id: int) -> None:
  """DataLoader worker set-up (kept in this JAX-free module, which workers import)."""
  del worker_id
  torch.set_num_threads(1)  # workers are processes; one thread each avoids oversubscription


class InpaintingDataset(torch.utils.data.Dataset):
  """Inpainting examples from a source, indexed by `ExampleKey`.

  Each example is a dict of NumPy arrays: 'image' (clean, uint8 HxWx3),
  'filler_input' (holes.corruption applied, uint8 HxWx3), 'predictor_input'
  (holes.predictor_corruption applied, uint8 HxWx3), 'mask' (bool HxWx1,
  True = hole), and 'skipped':
  the names of unreadable files that were replaced by the next readable one
  ('\\n'-joined, usually empty).
  """

  def __init__(self, source, config: ml_collections.ConfigDict, train: bool,
               examples_per_image: int = 1):
    self.source = source
    self.data = config.data
    self.holes = config.holes
    self.transform = build_transform(config.data, train)
    self.examples_per_image = examples_per_image

  def __len__(self) -> int:
    """Examples per epoch: several random crops of each image for small sources."""
    return len(self.source) * self.examples_per_image

  def _load_readable(self, image_index: int) -> tuple[np.ndarray, list[str]]:
    skipped = []
    for offset in range(len(self.source)):
      index = (image_index + offset) % len(self.source)
      try:
        return self.source.load(index), skipped
      except sources.UnreadableImage as error:
        skipped.append(str(error))
    raise RuntimeError(f"no image of {getattr(self.source, 'directory', 'the source')} "
                       f"is readable: {skipped}")

  def __getitem__(self, key: ExampleKey) -> Mapping[str, np.ndarray | str]:
    image, skipped = self._load_readable(key.image_index % len(self.source))
    crop_seed = int(_seed_sequence(key.seed_words, CROP_PURPOSE).generate_state(1)[0])
    image = apply_transform(self.transform, image, crop_seed)
    size = self.data.image_size
    family_word = holes.FAMILIES.index(key.family) + 1 if key.family else 0
    mask_rng = np.random.default_rng(
        _seed_sequence(key.seed_words, MASK_PURPOSE, family_word))
    params = self.holes.to_dict()
    if key.family:
      mask = holes.redrawn(mask_rng, key.family, size, size, params, self.holes.max_fraction)
    else:
      mask, _ = holes.mixed(mask_rng, size, size, weights=params["weights"], params=params,
                            max_fraction=self.holes.max_fraction)
    clean = pixels.uint8_to_signed(image)
    noise = dict(noise_intensity=self.holes.noise_intensity,
                 additional_noise_intensity=self.holes.additional_noise_intensity)
    filler_input = corruption.corrupt(mask_rng, clean, mask, self.holes.corruption, **noise)
    predictor_input = corruption.corrupt(mask_rng, clean, mask,
                                         self.holes.predictor_corruption, **noise)
    return {
        "image": image,
        "filler_input": pixels.signed_to_uint8(filler_input),
        "predictor_input": pixels.signed_to_uint8(predictor_input),
        "mask": mask[..., None],
        "skipped": "\n".join(skipped),
    }
