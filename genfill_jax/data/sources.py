"""Where images come from: any image folder, or the photos inside scikit-image.

A source is a sequence of decoded RGB uint8 images (H, W, 3), each named, that
may fail to load (a folder's truncated file); `load` raises `UnreadableImage`.
"""

import warnings
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
from etils import epath
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# Photographs that ship inside scikit-image (nothing is downloaded), loaded
# with `getattr(skimage.data, name)()`, and the two views of its stereo pair.
# Gray ones are converted to RGB.
STEREO_VIEWS = {"stereo_motorcycle_left": 0, "stereo_motorcycle_right": 1}
BUILTIN_PHOTOS = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
    "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page",
    "retina", "rocket", "text", *STEREO_VIEWS,
)


class UnreadableImage(Exception):
  """An image file that cannot be decoded."""


def read_image_file(path: epath.Path) -> Image.Image:
  """Decodes an image file fully; UnreadableImage (naming the path) if it cannot be.

  Truncated, empty and non-image files fail here, and so do images beyond PIL's
  decompression-bomb limit (about 179M pixels).
  """
  with path.open("rb") as stream:
    return decode_image(stream, str(path))


def decode_image(stream: BinaryIO, name: str) -> Image.Image:
  """Decodes an image from a binary stream fully, as `read_image_file` does a file.

  name: how the error message refers to the stream (a path, an upload).
  """
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("error", Image.DecompressionBombWarning)
      image = Image.open(stream)
      image.load()  # decodes now, so that truncated files fail here
      return image
  except Image.UnidentifiedImageError as error:  # its text names the stream object, not `name`
    raise UnreadableImage(f"{name}: not a readable image (unknown format)") from error
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
          Image.DecompressionBombError) as error:
    raise UnreadableImage(f"{name}: not a readable image ({error})") from error


def _to_8_bit(image: Image.Image) -> Image.Image:
  """16-bit and 32-bit gray ('I;16', 'I') to 8 bits by their top byte; float clipped."""
  if image.mode.startswith("I"):
    values = np.asarray(image).astype(np.uint32) >> 8
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
  if image.mode == "F":
    return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
  return image


def to_rgb_uint8(image: Image.Image) -> np.ndarray:
  """Any PIL image (gray, 16-bit, palette, RGBA, CMYK, EXIF-rotated) as RGB uint8 (H, W, 3)."""
  image = _to_8_bit(ImageOps.exif_transpose(image))
  if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
    # Transparent pixels become white rather than whatever colour they hid.
    image = image.convert("RGBA")
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(background, image)
  return np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy, for torch


def to_hole_mask(image: Image.Image) -> np.ndarray:
  """A mask image as bool (H, W): white (> 127 in gray) is a hole; EXIF orientation kept."""
  return np.asarray(_to_8_bit(ImageOps.exif_transpose(image)).convert("L")) > 127


def _walk_images(directory: epath.Path):
  # One listing per directory: epath refuses recursive globs on gs://.
  for path in directory.iterdir():
    if path.is_dir():
      yield from _walk_images(path)
    elif path.suffix.lower() in IMAGE_EXTENSIONS:
      yield path


def list_images(directory: str) -> list[epath.Path]:
  """Every image file under `directory`, recursively, sorted; errors name the path."""
  root = epath.Path(directory)
  if not root.is_dir():
    raise FileNotFoundError(f"image directory {directory!r} does not exist or is not a directory")
  files = sorted(_walk_images(root))
  if not files:
    raise ValueError(
        f"image directory {directory!r} contains no images "
        f"(looked for {', '.join(IMAGE_EXTENSIONS)}, recursively)"
    )
  return files


class FolderSource:
  """Images read from a directory tree (local or gs://) on every access."""

  def __init__(self, directory: str):
    self.directory = directory
    self.files = list_images(directory)
    self.names = [str(path) for path in self.files]

  def __len__(self) -> int:
    return len(self.files)

  def load(self, index: int) -> np.ndarray:
    return to_rgb_uint8(read_image_file(self.files[index]))


class BuiltinSource:
  """Named photographs from `skimage.data`, decoded once and kept in memory."""

  def __init__(self, photo_names: Sequence[str]):
    import skimage.data  # a slow import, needed only here

    self.names = list(photo_names)
    self._images = []
    for name in self.names:
      if name in STEREO_VIEWS:
        array = np.asarray(skimage.data.stereo_motorcycle()[STEREO_VIEWS[name]])
      else:
        array = np.asarray(getattr(skimage.data, name)())
      if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
      self._images.append(np.ascontiguousarray(array[..., :3], dtype=np.uint8))

  def __len__(self) -> int:
    return len(self._images)

  def load(self, index: int) -> np.ndarray:
    return self._images[index]
