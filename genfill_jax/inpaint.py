"""Inpainting with a trained run: `Inpainter.from_workdir(workdir)(image, mask=None)`.

Images of any size are processed fully convolutionally: padded (mirrored) to
the multiple of 2^(k+1) the networks need, filled, cropped back. Known pixels
are returned exactly as they came in; only hole pixels are painted.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genfill_jax import checkpoint, evaluate, parallel, run_config, train_state
from genfill_jax.data import corruption
from genfill_jax.models import blocks

# Beyond this many pixels an image is refused instead of exhausting memory
# (the filler keeps a few full-resolution feature maps per image).
DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageTooLarge(ValueError):
  """An image has more pixels than the limit; the message names it and both counts."""


def check_pixel_count(height: int, width: int, max_pixels: int, name: str = "image") -> None:
  """Raises ImageTooLarge if an image of height x width is over `max_pixels` pixels."""
  if height * width > max_pixels:
    raise ImageTooLarge(f"{name}: {width}x{height} pixels is over the limit of "
                        f"{max_pixels:,} pixels; downscale it")


def padding_multiple(config: ml_collections.ConfigDict) -> int:
  """H and W are padded to a multiple of this before the networks see them."""
  predictor = config.hole_predictor
  return max(
      blocks.required_multiple(predictor.num_downscales,
                               predictor.output_resolution == "full"),
      blocks.required_multiple(config.filler.num_downscales, True),
  )


def _pad_to_multiple(array: np.ndarray, multiple: int, mode: str) -> np.ndarray:
  height, width = array.shape[:2]
  pad = [(0, -height % multiple), (0, -width % multiple)] + [(0, 0)] * (array.ndim - 2)
  return np.pad(array, pad, mode=mode)


class Inpainter:
  """A trained hole predictor and filler (EMA weights), jitted for inference.

  Call it with a uint8 (H, W, 3) image and optionally a bool (H, W) mask
  (True = hole); without a mask the hole predictor finds the holes. Each new
  input shape compiles once; later calls with that shape reuse the program.
  """

  def __init__(self, config: ml_collections.ConfigDict, hole_predictor_variables: dict,
               filler_variables: dict, step: int, max_pixels: int = DEFAULT_MAX_PIXELS):
    self.config = config
    self.step = step
    self.max_pixels = max_pixels
    self._multiple = padding_multiple(config)
    self._predictor_variables = hole_predictor_variables
    self._filler_variables = filler_variables
    self._predict = jax.jit(lambda variables, image: evaluate.predict_holes(
        config, variables, image))
    self._fill = jax.jit(lambda variables, corrupted, hole_map, known: evaluate.fill(
        config, variables, corrupted, hole_map, known))

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None,
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> "Inpainter":
    """Restores checkpoint `step` (default the latest) of a run, config included."""
    config = run_config.load(workdir)
    mesh = parallel.create_mesh(jax.local_devices()[:1])
    manager = checkpoint.create_manager(workdir, keep=1, read_only=True)
    state = checkpoint.restore(manager, train_state.abstract_train_state(config, mesh), step)
    predictor_variables, filler_variables = evaluate.inference_variables(state)
    return cls(config, predictor_variables, filler_variables, int(state.step), max_pixels)

  def find_holes(self, image: np.ndarray) -> np.ndarray:
    """The hole predictor's mask (H, W) bool for a uint8 (H, W, 3) image."""
    self._check_image(image)
    padded = _pad_to_multiple(_to_signed_unit(image), self._multiple, "symmetric")
    probabilities = self._predict(self._predictor_variables, padded[None])
    height, width = image.shape[:2]
    return np.asarray(probabilities[0, :height, :width, 0] > 0.5)

  def __call__(self, image: np.ndarray,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fills the holes of `image`; returns (result uint8 (H, W, 3), mask bool (H, W)).

    mask: True where the image is missing; None lets the hole predictor find
    the holes, and the mask it found is returned.
    """
    self._check_image(image)
    if mask is None:
      mask = self.find_holes(image)
    else:
      mask = np.asarray(mask)
      if mask.shape != image.shape[:2]:
        raise ValueError(f"mask of shape {mask.shape} does not match the image's "
                         f"{image.shape[:2]}; expected a bool (H, W) array")
      mask = mask.astype(bool)
    signed = _pad_to_multiple(_to_signed_unit(image), self._multiple, "symmetric")
    holes = _pad_to_multiple(mask, self._multiple, "constant")
    corrupted = corruption.corrupt(
        np.random.default_rng(self.config.seed), signed, holes,
        self.config.holes.corruption, self.config.holes.noise_intensity)
    filled = self._fill(self._filler_variables, corrupted[None],
                        holes[None, ..., None].astype(np.float32), signed[None])
    height, width = image.shape[:2]
    painted = np.asarray(jnp.round((filled[0, :height, :width] + 1) * 127.5))
    painted = np.clip(painted, 0, 255).astype(np.uint8)
    return np.where(mask[..., None], painted, image), mask

  def _check_image(self, image) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3):
      shape = getattr(image, "shape", None)
      dtype = getattr(image, "dtype", type(image).__name__)
      raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {dtype} of shape {shape}")
    check_pixel_count(*image.shape[:2], self.max_pixels)


def _to_signed_unit(image: np.ndarray) -> np.ndarray:
  return image.astype(np.float32) / 127.5 - 1
