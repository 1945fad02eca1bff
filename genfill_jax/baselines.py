"""Non-learned inpainting that the filler must beat: OpenCV's Telea and Navier-Stokes,
and the exact harmonic fill.

All work on the host: uint8 RGB images (N, H, W, 3) and bool masks (N, H, W, 1),
True = hole.
"""

import concurrent.futures
import os

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

OPENCV_FLAGS = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}
OPENCV_METHODS = tuple(OPENCV_FLAGS)  # the `method` names opencv_inpaint takes
OPENCV_RADIUS = 3


def opencv_inpaint(images: np.ndarray, masks: np.ndarray, method: str) -> np.ndarray:
  """cv2.inpaint (radius 3) with `method` ('telea' or 'navier_stokes'); uint8 results.

  The images are inpainted on a thread each, up to one per core (OpenCV releases
  the GIL): the filler calls this from every training step (`opencv_guess.py`).
  """
  flag = OPENCV_FLAGS[method]

  def inpaint_one(image_and_mask):
    image, mask = image_and_mask
    return cv2.inpaint(np.ascontiguousarray(image), mask[..., 0].astype(np.uint8) * 255,
                       OPENCV_RADIUS, flag)

  pairs = list(zip(images, masks, strict=True))
  # A pool per call: a pool kept across calls would not survive a fork (DataLoader workers).
  with concurrent.futures.ThreadPoolExecutor(max(1, min(len(pairs), os.cpu_count() or 1))) as pool:
    return np.stack(list(pool.map(inpaint_one, pairs)))


def _harmonic_one(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
  """Solves the discrete Laplace equation in the holes of one float image (H, W, C)."""
  height, width = holes.shape
  unknown = np.flatnonzero(holes)
  if unknown.size == 0:
    return image
  if unknown.size == holes.size:
    # Every other hole region touches a known pixel, which makes its system regular.
    raise ValueError("the harmonic fill needs known pixels: the mask covers the whole image")
  index = np.full(height * width, -1)
  index[unknown] = np.arange(unknown.size)
  rows, columns = np.divmod(unknown, width)
  flat = image.reshape(height * width, -1)
  degree = np.zeros(unknown.size)
  right_side = np.zeros((unknown.size, flat.shape[1]))
  entries_row, entries_column = [], []
  for d_row, d_column in ((-1, 0), (1, 0), (0, -1), (0, 1)):
    neighbour_row, neighbour_column = rows + d_row, columns + d_column
    inside = ((neighbour_row >= 0) & (neighbour_row < height)
              & (neighbour_column >= 0) & (neighbour_column < width))
    # Outside the image there is no neighbour (a zero normal derivative there).
    degree += inside
    neighbour = neighbour_row[inside] * width + neighbour_column[inside]
    is_unknown = index[neighbour] >= 0
    entries_row.append(np.flatnonzero(inside)[is_unknown])
    entries_column.append(index[neighbour[is_unknown]])
    np.add.at(right_side, np.flatnonzero(inside)[~is_unknown], flat[neighbour[~is_unknown]])
  entries_row, entries_column = np.concatenate(entries_row), np.concatenate(entries_column)
  laplacian = scipy.sparse.csc_matrix(
      (np.concatenate([degree, -np.ones(entries_row.size)]),
       (np.concatenate([np.arange(unknown.size), entries_row]),
        np.concatenate([np.arange(unknown.size), entries_column]))),
      shape=(unknown.size, unknown.size))
  solution = scipy.sparse.linalg.splu(laplacian).solve(right_side)
  filled = flat.copy()
  filled[unknown] = solution
  return filled.reshape(image.shape)


def exact_harmonic_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
  """The harmonic fill, solved exactly (sparse LU): each hole pixel is the mean of
  its 4 neighbours (those inside the image), known pixels fixed. Returns float32
  images in [0, 1]. A mask that covers a whole image has no solution: ValueError.
  """
  return np.stack([_harmonic_one(image.astype(np.float64) / 255, mask[..., 0])
                   for image, mask in zip(images, masks, strict=True)]).astype(np.float32)
