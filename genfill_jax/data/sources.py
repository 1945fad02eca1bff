"""Where images come from: any image folder, or the photos inside scikit-image.

A source is a sequence of decoded RGB uint8 images (H, W, 3), each named, that
may fail to load (a folder's truncated file); `load` raises `UnreadableImage`.
"""

import os
import re
import warnings
from collections.abc import Callable, Sequence
from typing import BinaryIO, NamedTuple

import numpy as np
from etils import epath
from PIL import ExifTags, Image, ImageOps

from genfill_jax.data import colour, dead_leaves

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# Photographs that ship inside scikit-image (nothing is downloaded), loaded
# with `getattr(skimage.data, name)()`, and the two views of its stereo pair.
# Gray ones are converted to RGB. 'colorwheel' is synthetic (a hue wheel, in
# no split by default: a probe of smooth saturated colour); so is
# 'smooth_colour_<k>' (any k >= 0), a field of smooth saturated colour (`colour.py`),
# and 'dead_leaves_<k>', occluding shapes at every scale (`dead_leaves.py`).
STEREO_VIEWS = {"stereo_motorcycle_left": 0, "stereo_motorcycle_right": 1}
BUILTIN_PHOTOS = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
    "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page",
    "retina", "rocket", "text", *STEREO_VIEWS,
)


# A built-in photo may be named with a band of its columns, as fractions of its
# width: 'camera@0.75:1' is the right quarter of 'camera'. The rest of the photo
# ('camera@0:0.75') can then train while the band validates.
_COLUMN_BAND = re.compile(r"^(?P<photo>[a-z_]+[0-9]*)(@(?P<start>[0-9.]+):(?P<stop>[0-9.]+))?$")
# Synthetic images, made from their seed. One spelling per image
# ('smooth_colour_3', never '_03'): splits compare names.
_SYNTHETIC = re.compile(r"^(?P<kind>smooth_colour|dead_leaves)_(?P<seed>0|[1-9][0-9]*)$")
_SYNTHESISERS = {"smooth_colour": colour.smooth_colour_field,
                 "dead_leaves": dead_leaves.dead_leaves_image}


class PhotoPart(NamedTuple):
  """A built-in photo and the band of its columns in use, as fractions of its width."""

  photo: str
  start: float = 0.0
  stop: float = 1.0

  def overlaps(self, other: "PhotoPart") -> bool:
    return self.photo == other.photo and self.start < other.stop and other.start < self.stop


def parse_builtin_name(name: str) -> PhotoPart:
  """'camera' or 'camera@0.75:1' -> PhotoPart; ValueError for anything else."""
  match = _COLUMN_BAND.match(name)
  if match is None or (match["photo"] not in BUILTIN_PHOTOS
                       and not _SYNTHETIC.match(match["photo"])):
    raise ValueError(f"{name!r} is not a built-in photo (one of {BUILTIN_PHOTOS}, "
                     "'smooth_colour_<k>' or 'dead_leaves_<k>', optionally with a band of columns, "
                     "e.g. 'camera@0.75:1')")
  if match["start"] is None:
    return PhotoPart(match["photo"])
  try:
    start, stop = float(match["start"]), float(match["stop"])
  except ValueError:
    start, stop = -1.0, -1.0
  if not 0 <= start < stop <= 1:
    raise ValueError(f"{name!r}: the band of columns must be start:stop with "
                     "0 <= start < stop <= 1 (fractions of the photo's width)")
  return PhotoPart(match["photo"], start, stop)


class UnreadableImage(Exception):
  """An image file that cannot be decoded."""


def read_image_file(path: epath.Path, at_least=None) -> Image.Image:
  """Decodes an image file fully; UnreadableImage (naming the path) if it cannot be.

  Truncated, empty and non-image files fail here, and so do images beyond PIL's
  decompression-bomb limit (about 179M pixels). at_least: as in `decode_image`.
  """
  with path.open("rb") as stream:
    return decode_image(stream, str(path), at_least)


def decode_image(stream: BinaryIO, name: str,
                 at_least: Callable[[int, int], tuple[int, int]] | None = None) -> Image.Image:
  """Decodes an image from a binary stream fully, as `read_image_file` does a file.

  name: how the error message refers to the stream (a path, an upload).
  at_least: given the image's (width, height) as displayed (EXIF orientation
  applied), the smallest (width, height) the caller needs; a JPEG is then
  decoded at the smallest of its scales 1, 1/2, 1/4, 1/8 that still covers it
  (PIL's `draft`), which costs a fraction of a full decode. Other formats decode
  at full size.
  """
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("error", Image.DecompressionBombWarning)
      image = Image.open(stream)
      if at_least is not None:
        transposed = image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
        width, height = image.size[::-1] if transposed else image.size
        needed = at_least(width, height)
        image.draft(image.mode, needed[::-1] if transposed else needed)
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


def list_images(directory: str) -> np.ndarray:
  """The image files under `directory`, recursively, sorted, as paths relative to it
  in a NumPy array of UTF-8 bytes (compact, and cheap to hand to worker processes:
  10 million names of 20 characters take 200 MB, not a Python object each).

  One walk of the tree (per folder, one listing of its entries; no request per
  file in a bucket). Errors name the path.
  """
  root = epath.Path(directory)
  if not root.is_dir():
    raise FileNotFoundError(f"image directory {directory!r} does not exist or is not a directory")
  # epath's walk names bucket folders without their scheme (gs://b/x -> b/x).
  prefix = os.fspath(root).split("://")[-1].rstrip("/") + "/"
  files = sorted(
      (f"{str(folder).split('://')[-1]}/{name}"[len(prefix):]
       for folder, _, names in root.walk() for name in names
       if epath.Path(name).suffix.lower() in IMAGE_EXTENSIONS),
      key=lambda path: path.split("/"))  # as paths sort: by their parts
  if not files:
    raise ValueError(
        f"image directory {directory!r} contains no images "
        f"(looked for {', '.join(IMAGE_EXTENSIONS)}, recursively)"
    )
  return np.array([name.encode() for name in files], dtype=np.bytes_)


class FolderSource:
  """Images read from a directory tree (local or gs://) on every access.

  names: the directory's listing (`list_images`) when one is at hand
  (`listing.py` keeps one per run); otherwise the directory is listed here.
  """

  def __init__(self, directory: str, names: np.ndarray | None = None):
    self.directory = directory.rstrip("/")
    self.names = list_images(directory) if names is None else names

  def __len__(self) -> int:
    return len(self.names)

  def path(self, index: int) -> str:
    """The full path of image `index`."""
    return f"{self.directory}/{self.names[index].decode()}"

  def load(self, index: int, at_least=None) -> np.ndarray:
    """Image `index` as RGB uint8; at_least: decode a JPEG reduced (`decode_image`)."""
    return to_rgb_uint8(read_image_file(epath.Path(self.path(index)), at_least))


class BuiltinSource:
  """Named photos from `skimage.data` or synthetic images (see above), in memory."""

  def __init__(self, photo_names: Sequence[str]):
    import skimage.data  # a slow import, needed only here

    self.names = list(photo_names)
    self._images = []
    for name in self.names:
      part = parse_builtin_name(name)
      synthetic = _SYNTHETIC.match(part.photo)
      if synthetic:
        array = _SYNTHESISERS[synthetic["kind"]](int(synthetic["seed"]))
      elif part.photo in STEREO_VIEWS:
        array = np.asarray(skimage.data.stereo_motorcycle()[STEREO_VIEWS[part.photo]])
      else:
        array = np.asarray(getattr(skimage.data, part.photo)())
      if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
      width = array.shape[1]
      array = array[:, round(part.start * width):round(part.stop * width)]
      self._images.append(np.ascontiguousarray(array[..., :3], dtype=np.uint8))

  def __len__(self) -> int:
    return len(self._images)

  def load(self, index: int, at_least=None) -> np.ndarray:
    """Photo `index` (already decoded: `at_least` changes nothing)."""
    del at_least
    return self._images[index]
