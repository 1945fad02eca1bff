"""`--mode=inpaint`: image files in, filled PNGs out.

Every input is read and checked before anything is written, and each output
is written to a temporary name and renamed, so a bad input leaves the output
folder as it was.
"""

import dataclasses
import io

import numpy as np
from etils import epath
from PIL import Image
from tqdm import tqdm

from genfill_jax import errors, paths, runs
from genfill_jax.data import sources
from genfill_jax.data.sources import IMAGE_EXTENSIONS, to_rgb_uint8
from genfill_jax.inpaint import DEFAULT_MAX_PIXELS, ImageTooLarge, Inpainter, check_pixel_count


class InputError(errors.UserError, ValueError):
  """A user input that cannot be used; the message names the file and what was expected."""


@dataclasses.dataclass(frozen=True)
class Job:
  image: epath.Path
  mask: epath.Path | None  # None: the hole predictor finds the holes.


def _open(path: epath.Path) -> Image.Image:
  try:
    return sources.read_image_file(path)
  except sources.UnreadableImage as error:
    raise InputError(str(error)) from error


def read_image(path: epath.Path) -> np.ndarray:
  """An image file as RGB uint8 (H, W, 3); InputError if it cannot be decoded."""
  return to_rgb_uint8(_open(path))


def read_mask(path: epath.Path) -> np.ndarray:
  """A mask image as bool (H, W): white (> 127 in gray) is a hole."""
  return sources.to_hole_mask(_open(path))


def _images_in(folder: epath.Path) -> list[epath.Path]:
  return sorted(path for path in folder.iterdir()
                if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS)


def _mask_for(image: epath.Path, mask_folder: epath.Path) -> epath.Path:
  candidates = [path for path in _images_in(mask_folder) if path.stem == image.stem]
  if len(candidates) != 1:
    found = "none" if not candidates else ", ".join(path.name for path in candidates)
    raise InputError(f"{image}: expected exactly one mask named {image.stem}.<image "
                     f"extension> in {mask_folder}, found {found}")
  return candidates[0]


def plan_jobs(input_path: str, mask_path: str | None) -> list[Job]:
  """Pairs each input image with its mask (or None); InputError on any mismatch."""
  source = epath.Path(input_path)
  masks = epath.Path(mask_path) if mask_path else None
  if not source.exists():
    raise InputError(f"{source}: no such file or folder (expected an image or a folder of images)")
  if masks is not None and not masks.exists():
    raise InputError(f"{masks}: no such mask file or folder")
  if not source.is_dir():
    if masks is not None and masks.is_dir():
      raise InputError(f"{masks}: a folder, but the input {source} is one image; "
                       f"give one mask image")
    return [Job(source, masks)]
  images = _images_in(source)
  if not images:
    raise InputError(f"{source}: the folder holds no images "
                     f"(looked for {', '.join(IMAGE_EXTENSIONS)})")
  stems = [path.stem for path in images]
  duplicates = sorted({stem for stem in stems if stems.count(stem) > 1})
  if duplicates:
    raise InputError(f"{source}: several images share the name {duplicates[0]!r}; "
                     f"their outputs ({duplicates[0]}.png) would collide")
  if masks is not None and not masks.is_dir():
    raise InputError(f"{masks}: expected a folder of masks for the folder {source}")
  return [Job(image, _mask_for(image, masks) if masks else None) for image in images]


def check_jobs(jobs: list[Job], max_pixels: int) -> None:
  """Decodes every image and mask once: unreadable files, size mismatches, oversize."""
  for job in jobs:
    image = read_image(job.image)
    height, width = image.shape[:2]
    try:
      check_pixel_count(height, width, max_pixels, str(job.image))
    except ImageTooLarge as error:
      raise InputError(str(error)) from error
    if job.mask is not None:
      mask = read_mask(job.mask)
      if mask.shape != (height, width):
        raise InputError(f"{job.mask}: mask is {mask.shape[1]}x{mask.shape[0]}, expected "
                         f"the size of {job.image.name}, {width}x{height}")


def _write_png(array: np.ndarray, path: epath.Path) -> None:
  encoded = io.BytesIO()
  Image.fromarray(array).save(encoded, format="PNG")
  paths.write_bytes_whole(path, encoded.getvalue())


def inpaint_files(workdir: str, input_path: str, output_dir: str,
                  mask_path: str | None = None,
                  max_pixels: int = DEFAULT_MAX_PIXELS,
                  overrides: dict | None = None) -> list[epath.Path]:
  """Fills every input image; writes <output>/<name>.png (and <name>_mask.png if blind).

  overrides: config fields for inference (e.g. {"inference.strategy": "resize"}).

  Returns the paths written. Raises InputError (nothing written) for a run
  without checkpoints, unreadable or mismatched inputs, or an empty folder.
  """
  jobs = plan_jobs(input_path, mask_path)
  check_jobs(jobs, max_pixels)
  try:
    inpainter = Inpainter.from_workdir(workdir, max_pixels=max_pixels, overrides=overrides)
  except runs.RunNotFoundError as error:
    raise InputError(f"{workdir}: cannot restore a trained model: {error}") from error
  output = epath.Path(output_dir)
  if output.exists() and not output.is_dir():
    raise InputError(f"{output}: exists and is not a folder (expected an output folder)")
  output.mkdir(parents=True, exist_ok=True)
  written = []
  for job in tqdm(jobs, desc="inpaint", unit="image", disable=len(jobs) < 2):
    mask = read_mask(job.mask) if job.mask is not None else None
    result, used_mask = inpainter(read_image(job.image), mask)
    written.append(output / f"{job.image.stem}.png")
    _write_png(result, written[-1])
    if job.mask is None:
      written.append(output / f"{job.image.stem}_mask.png")
      _write_png(used_mask.astype(np.uint8) * 255, written[-1])
  return written
