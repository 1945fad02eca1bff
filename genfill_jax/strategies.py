"""High-resolution strategies: how a photo larger than the training size is inpainted.

Each strategy takes `fill(image, mask) -> result`, the model run on one image
at the size it is given, and returns a result of the photo's size in which
every known pixel is the photo's own, bit for bit, and every hole pixel painted:

- 'original': the model runs on the whole photo at its size.
- 'resize': the photo (and its holes) scaled so that the longest side is at
  most `limit`, filled there, and only the hole pixels scaled back up.
- 'crop': each group of nearby holes cut out with a context margin, each crop
  filled as with 'resize' (so at most `limit` a side, near the training size),
  and its hole pixels pasted back.
"""

from collections.abc import Callable

import cv2
import numpy as np

STRATEGIES = ("original", "resize", "crop")

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _check_strategy(strategy: str) -> None:
  if strategy not in STRATEGIES:
    raise ValueError(f"unknown high-resolution strategy {strategy!r}; "
                     f"expected one of {', '.join(STRATEGIES)}")


def inpaint_resized(fill: Fill, image: np.ndarray, mask: np.ndarray, limit: int) -> np.ndarray:
  """`fill` at a longest side of at most `limit`; the hole pixels upscaled back.

  A reduced pixel is a hole if any photo pixel under it is one (so hole
  content never leaks into the reduced known pixels); known pixels of the
  result are the photo's own.
  """
  height, width = mask.shape
  scale = limit / max(height, width)
  if scale >= 1:
    return fill(image, mask)
  size = (max(1, round(width * scale)), max(1, round(height * scale)))  # (w, h) for cv2
  small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
  small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
  small_result = fill(small_image, small_mask)
  upscaled = cv2.resize(small_result, (width, height), interpolation=cv2.INTER_CUBIC)
  return np.where(mask[..., None], upscaled, image)


def hole_groups(mask: np.ndarray, join: int) -> list[np.ndarray]:
  """The holes split into groups (bool masks of the photo's size): holes closer
  than `join` pixels to each other share a group."""
  kernel = np.ones((2 * join + 1, 2 * join + 1), np.uint8)
  joined = cv2.dilate(mask.astype(np.uint8), kernel) if join else mask.astype(np.uint8)
  count, labels = cv2.connectedComponents(joined, connectivity=8)
  return [mask & (labels == label) for label in range(1, count)]


def crop_box(group: np.ndarray, margin_fraction: float,
             min_margin: int) -> tuple[slice, slice]:
  """Rows and columns around a hole group: its bounding box widened on every
  side by max(min_margin, margin_fraction x its longest side), inside the photo."""
  rows, columns = np.nonzero(group)
  top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
  margin = max(min_margin, round(margin_fraction * max(bottom - top, right - left)))
  height, width = group.shape
  return (slice(max(0, top - margin), min(height, bottom + margin)),
          slice(max(0, left - margin), min(width, right + margin)))


def inpaint_cropped(fill: Fill, image: np.ndarray, mask: np.ndarray, limit: int,
                    margin_fraction: float, min_margin: int) -> np.ndarray:
  """Each hole group filled in a crop around it (see `crop_box`), at a longest side
  of at most `limit`. Other groups' holes inside a crop stay marked as holes there
  (their pixels are not trusted), but each crop pastes back only its own group.
  Holes spread over the photo, whose crops would hold more pixels than the photo,
  are filled as one crop of the whole photo (as 'resize')."""
  groups = hole_groups(mask, min_margin)
  boxes = [crop_box(group, margin_fraction, min_margin) for group in groups]
  if sum((rows.stop - rows.start) * (columns.stop - columns.start)
         for rows, columns in boxes) >= mask.size:
    return inpaint_resized(fill, image, mask, limit)
  result = image.copy()
  for group, (rows, columns) in zip(groups, boxes, strict=True):
    filled = inpaint_resized(fill, image[rows, columns], mask[rows, columns], limit)
    own = group[rows, columns]
    result[rows, columns][own] = filled[own]
  return result


def inpaint_with_strategy(fill: Fill, image: np.ndarray, mask: np.ndarray, strategy: str,
                          limit: int, margin_fraction: float, min_margin: int) -> np.ndarray:
  """The photo with its holes filled by `strategy` (one of `STRATEGIES`)."""
  _check_strategy(strategy)
  if not mask.any():
    return image.copy()
  if strategy == "original":
    result = fill(image, mask)
  elif strategy == "resize":
    result = inpaint_resized(fill, image, mask, limit)
  else:
    result = inpaint_cropped(fill, image, mask, limit, margin_fraction, min_margin)
  return np.where(mask[..., None], result, image)
