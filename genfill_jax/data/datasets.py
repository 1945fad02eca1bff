"""torch Datasets of inpainting examples: clean image, corrupted image, hole mask.

An example is addressed by an `ExampleKey`: which source image, and the seed
words of its own random generator. Everything random about an example (crop,
flip, colour, mask, noise) is drawn from that generator, so an example depends
only on its key, never on worker processes or on what came before.
"""

import copy
import math
from collections.abc import Mapping
from typing import NamedTuple

import ml_collections
import numpy as np
import torch
from torchvision.transforms import v2 as transforms

from genfill_jax import pixels
from genfill_jax.data import colour, corruption, holes, sources

CROPS = ("random_resized", "resize")  # the choices of config.data.crop
CROP_AREA_SAMPLINGS = ("uniform", "log_uniform")  # the choices of data.train_crop_area_sampling

# Seed words that keep the different random streams of one run apart.
TRAIN_STREAM, EVAL_STREAM = 1, 2
CROP_PURPOSE, MASK_PURPOSE = 0, 1


class ExampleKey(NamedTuple):
  """What a DataLoader sampler hands the dataset: an image and a seed."""

  image_index: int
  seed_words: tuple  # e.g. (seed, TRAIN_STREAM, step, slot)
  family: str = ""  # a fixed mask family (evaluation); "" draws from holes.weights
  image_size: int = 0  # crop size in px (multi-scale training); 0 = config.data.image_size


def _seed_sequence(seed_words: tuple, *purpose: int) -> np.random.SeedSequence:
  return np.random.SeedSequence([*seed_words, *purpose])


class LogAreaRandomResizedCrop(transforms.RandomResizedCrop):
  """RandomResizedCrop whose crop area is log-uniform in `scale`, not uniform.

  Uniform areas are mostly large crops, shrunk a lot at small output sizes; a
  log-uniform area gives every zoom factor between its ends the same share, so
  crops smaller than the output (enlarged, smooth per pixel) are common too.
  """

  def make_params(self, flat_inputs):
    low, high = (math.log(end) for end in self.scale)
    area_fraction = math.exp(torch.empty(1).uniform_(low, high).item())
    # torchvision's own draw (aspect ratio, position, fallback) at this one area.
    fixed_area = copy.copy(self)
    fixed_area.scale = (area_fraction, area_fraction)
    return transforms.RandomResizedCrop.make_params(fixed_area, flat_inputs)


def build_transform(data: ml_collections.ConfigDict, train: bool) -> transforms.Compose:
  """torchvision transforms to data.image_size: crop, then (training) flip and colour changes.

  data.crop: 'random_resized' (a random area in data.crop_scale of the image,
  resized, as RandomResizedCrop does) or 'resize' (the whole image squashed to a
  square, as the original did). Evaluation crops too, with its own fixed seeds.
  Training crops may draw their area differently: from data.train_crop_scale
  (empty: data.crop_scale), uniformly or log-uniformly
  (data.train_crop_area_sampling). Training colour changes, in order: jitter
  (data.color_jitter), a hue rotation and saturation scale (data.hue_rotation,
  data.saturation_scale) and a duotone tint of gray crops
  (data.gray_tint_probability; `colour.py`).
  """
  size = (data.image_size, data.image_size)
  if data.crop == "random_resized":
    scale = tuple(data.crop_scale)
    crop_class = transforms.RandomResizedCrop
    if train:
      scale = tuple(data.train_crop_scale) or scale
      if data.train_crop_area_sampling == "log_uniform":
        crop_class = LogAreaRandomResizedCrop
    steps = [crop_class(size, scale=scale, antialias=True)]
  else:  # 'resize'
    steps = [transforms.Resize(size, antialias=True)]
  if train and data.horizontal_flip:
    steps.append(transforms.RandomHorizontalFlip())
  if train and data.color_jitter > 0:
    strength = data.color_jitter
    # No hue jitter: its HSV round trip costs more than the rest of the example.
    steps.append(transforms.ColorJitter(strength, strength, strength))
  if train and (data.hue_rotation > 0 or data.saturation_scale > 1):
    steps.append(colour.RandomHueRotation(data.hue_rotation, data.saturation_scale))
  if train and data.gray_tint_probability > 0:
    steps.append(colour.RandomGrayTint(data.gray_tint_probability))
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


def _crop_box(first_step, width: int, height: int) -> dict[str, int]:
  """The crop (top, left, height, width) of the transform's first step on an image of
  this size, drawn from torch's generator exactly as the step itself draws it."""
  if isinstance(first_step, transforms.RandomResizedCrop):
    # query_size reads only the shape; an empty tensor allocates no pixels.
    return first_step.make_params([torch.empty((3, height, width), dtype=torch.uint8)])
  return dict(top=0, left=0, height=height, width=width)  # Resize: the whole image


# A JPEG decodes at 1/2, 1/4 or 1/8 scale only while the crop keeps at least this
# many decoded pixels per output pixel: the crop box, rounded to decoded pixels,
# then moves by at most 1 / (2 * this) of an output pixel.
MIN_OVERSAMPLING = 2


def _reduction(box: dict[str, int], size: int) -> int:
  """The largest JPEG scale-down factor (8, 4, 2 or 1) that keeps MIN_OVERSAMPLING."""
  return next(factor for factor in (8, 4, 2, 1)
              if min(box["height"], box["width"]) >= factor * MIN_OVERSAMPLING * size
              or factor == 1)


def crop_aware_example(load, transform: transforms.Compose, seed: int, size: int,
                       reduced_decoding: bool) -> np.ndarray:
  """`apply_transform(transform, load(), seed)`, decoding only what the crop needs.

  load(at_least) returns the image (HWC uint8); sources that decode files pass
  `at_least` to `sources.decode_image`, which calls it with the image's size
  before decoding. The crop is drawn then, and with reduced_decoding a JPEG is
  decoded at the smallest scale that keeps MIN_OVERSAMPLING decoded pixels per
  output pixel in the crop, so a 12-megapixel photo costs about what a small one
  does. Without reduction (or when the scale stays 1, or for sources already
  decoded) the result is bit for bit `apply_transform`'s; with it, equal within
  resampling noise (tests/test_data_loader.py).
  """
  first, rest = transform.transforms[0], transform.transforms[1:]
  drawn = {}

  def at_least(width: int, height: int) -> tuple[int, int]:
    # From the seed each time: an unreadable file's header, replaced by the next
    # image, must not shift the draws of the image that is used.
    torch.manual_seed(seed)
    drawn.update(box=_crop_box(first, width, height), width=width, height=height)
    factor = _reduction(drawn["box"], size) if reduced_decoding else 1
    return -(-width // factor), -(-height // factor)

  with torch.random.fork_rng(devices=[]):
    image = load(at_least)
    if not drawn:  # the source ignored at_least (decoded already)
      at_least(image.shape[1], image.shape[0])
    scale_y, scale_x = image.shape[0] / drawn["height"], image.shape[1] / drawn["width"]
    box = drawn["box"]
    top, left = round(box["top"] * scale_y), round(box["left"] * scale_x)
    height = min(round(box["height"] * scale_y), image.shape[0] - top)
    width = min(round(box["width"] * scale_x), image.shape[1] - left)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    tensor = transforms.functional.resized_crop(
        tensor, top, left, height, width, [size, size], interpolation=first.interpolation,
        antialias=first.antialias)
    for step in rest:  # flip, colour changes (training)
      tensor = step(tensor)
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
    self.train = train
    self.transform = build_transform(config.data, train)
    self.examples_per_image = examples_per_image

  def __len__(self) -> int:
    """Examples per epoch: several random crops of each image for small sources."""
    return len(self.source) * self.examples_per_image

  def _load_readable(self, image_index: int, at_least=None) -> tuple[np.ndarray, list[str]]:
    skipped = []
    for offset in range(len(self.source)):
      index = (image_index + offset) % len(self.source)
      try:
        return self.source.load(index, at_least), skipped
      except sources.UnreadableImage as error:
        skipped.append(str(error))
    raise RuntimeError(f"no image of {getattr(self.source, 'directory', 'the source')} "
                       f"is readable: {skipped}")

  def __getitem__(self, key: ExampleKey) -> Mapping[str, np.ndarray | str]:
    crop_seed = int(_seed_sequence(key.seed_words, CROP_PURPOSE).generate_state(1)[0])
    size = key.image_size or self.data.image_size
    skipped = []

    def load(at_least):
      image, skipped[:] = self._load_readable(key.image_index % len(self.source), at_least)
      return image
    image = crop_aware_example(load, self.transform, crop_seed, size,
                               self.data.reduced_decoding)
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
    # Drawn only when asked for, so that runs without gray noise keep their streams.
    if self.train and self.holes.gray_noise_fraction > 0:
      noise["gray_noise"] = bool(mask_rng.random() < self.holes.gray_noise_fraction)
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
