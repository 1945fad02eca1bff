"""Inpainting with a trained run: `Inpainter.from_workdir(workdir)(image, mask=None)`.

Images of any size are processed fully convolutionally: padded (mirrored) to
the multiple of 2^(k+1) the networks need, filled, cropped back. Known pixels
are returned exactly as they came in; only hole pixels are painted.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genfill_jax import errors, models, parallel, pixels, recipes, runs
from genfill_jax.data import corruption
from genfill_jax.gan_state import GanState
from genfill_jax.models import blocks

# Beyond this many pixels an image is refused instead of exhausting memory
# (the filler keeps a few full-resolution feature maps per image).
DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageTooLarge(errors.UserError, ValueError):
  """An image has more pixels than the limit; the message names it and both counts."""


def check_pixel_count(height: int, width: int, max_pixels: int, name: str = "image") -> None:
  """Raises ImageTooLarge if an image of height x width is over `max_pixels` pixels."""
  if height * width > max_pixels:
    raise ImageTooLarge(f"{name}: {width}x{height} pixels is over the limit of "
                        f"{max_pixels:,} pixels; downscale it")


def inference_variables(state: GanState) -> tuple[dict, dict]:
  """(hole predictor, filler) variables for inference: the filler's EMA params."""
  return ({"params": state.hole_predictor.params,
           "batch_stats": state.hole_predictor.batch_stats},
          {"params": state.filler_ema_params, "batch_stats": state.filler.batch_stats})


def predict_holes(config: ml_collections.ConfigDict, hole_predictor_variables: dict,
                  image: jax.Array) -> jax.Array:
  """Hole probabilities (N, H, W, 1) for images in [-1, 1]."""
  networks = models.create_models(config)
  logits = networks.hole_predictor.apply(hole_predictor_variables, image, train=False)
  # Cell maps (1/2^k) cover their pixels; full-resolution maps stay as they are.
  return models.resize_hole_map(jax.nn.sigmoid(logits), *image.shape[1:3])


# Identity, up-down, left-right, both: the flips of an NHWC image.
_FLIPS = ((), (1,), (2,), (1, 2))


def _flip(images: jax.Array, axes: tuple[int, ...]) -> jax.Array:
  return jnp.flip(images, axes) if axes else images


def find_holes(config: ml_collections.ConfigDict, hole_predictor_variables: dict,
               image: jax.Array) -> jax.Array:
  """The hole mask (N, H, W, 1) float, 1 = hole, that blind inpainting fills: the
  predictor's probabilities (averaged over the four flips of the image with
  hole_predictor.test_time_flips) above hole_predictor.threshold, dilated by
  hole_predictor.dilation pixels."""
  if config.hole_predictor.test_time_flips:
    probabilities = sum(
        _flip(predict_holes(config, hole_predictor_variables, _flip(image, axes)), axes)
        for axes in _FLIPS) / len(_FLIPS)
  else:
    probabilities = predict_holes(config, hole_predictor_variables, image)
  holes = (probabilities > config.hole_predictor.threshold).astype(jnp.float32)
  radius = config.hole_predictor.dilation
  if radius:
    window = (2 * radius + 1, 2 * radius + 1)
    holes = nn.max_pool(holes, window, strides=(1, 1), padding="SAME")
  return holes


def fill(config: ml_collections.ConfigDict, filler_variables: dict, filler_input: jax.Array,
         hole_map: jax.Array, known: jax.Array) -> jax.Array:
  """The filler's result in [-1, 1], as the recipe returns it (our recipe pastes the
  output in the holes of `hole_map` onto `known`; the original returns it raw)."""
  networks = models.create_models(config)
  output = networks.filler.apply(filler_variables, filler_input, hole_map, train=False)
  return recipes.for_config(config).candidate(output, known,
                                              (hole_map > 0.5).astype(output.dtype))


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
    self._find_holes = jax.jit(functools.partial(find_holes, config))
    self._fill = jax.jit(functools.partial(fill, config))

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None,
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> "Inpainter":
    """Restores checkpoint `step` (default the latest) of a run, config included."""
    config, state = runs.restore_run(workdir, step,
                                     mesh=parallel.create_mesh(jax.local_devices()[:1]))
    predictor_variables, filler_variables = inference_variables(state)
    return cls(config, predictor_variables, filler_variables, int(state.step), max_pixels)

  def find_holes(self, image: np.ndarray) -> np.ndarray:
    """The hole predictor's mask (H, W) bool for a uint8 (H, W, 3) image."""
    self._check_image(image)
    padded = _pad_to_multiple(pixels.uint8_to_signed(image), self._multiple, "symmetric")
    holes = self._find_holes(self._predictor_variables, padded[None])
    height, width = image.shape[:2]
    return np.asarray(holes[0, :height, :width, 0] > 0.5)

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
    signed = _pad_to_multiple(pixels.uint8_to_signed(image), self._multiple, "symmetric")
    holes = _pad_to_multiple(mask, self._multiple, "constant")
    filler_input = corruption.corrupt(
        np.random.default_rng(self.config.seed), signed, holes,
        self.config.holes.corruption, self.config.holes.noise_intensity)
    filled = self._fill(self._filler_variables, filler_input[None],
                        holes[None, ..., None].astype(np.float32), signed[None])
    height, width = image.shape[:2]
    painted = pixels.signed_to_uint8(np.asarray(filled[0, :height, :width]))
    return np.where(mask[..., None], painted, image), mask

  def _check_image(self, image) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3):
      shape = getattr(image, "shape", None)
      dtype = getattr(image, "dtype", type(image).__name__)
      raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {dtype} of shape {shape}")
    check_pixel_count(*image.shape[:2], self.max_pixels)

