"""Inpainting with a trained run: `Inpainter.from_workdir(workdir)(image, mask=None)`.

Images of any size are processed fully convolutionally: padded (mirrored) to
one of a few bucket shapes (so that photos of many sizes share a handful of
compiled programs), filled, cropped back. Photos larger than the training size
go through a high-resolution strategy (`strategies`). Known pixels are returned
exactly as they came in; only hole pixels are painted.
"""

import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genfill_jax import errors, models, parallel, pixels, recipes, runs, strategies
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


# The flips whose fills the filler averages, for each choice of
# config.filler.test_time_flips (models.networks.FILLER_TEST_TIME_FLIPS).
# Training flips left-right only: up-down flipped photos are ones it never saw.
FILLER_FLIPS = {"none": ((),), "left_right": ((), (2,)), "all": _FLIPS}


def _flip(images: jax.Array, axes: tuple[int, ...]) -> jax.Array:
  return jnp.flip(images, axes) if axes else images


def _dilate(holes: jax.Array, radius: int) -> jax.Array:
  """Every hole pixel (N, H, W, 1) grown to a (2 radius + 1)^2 square."""
  window = (2 * radius + 1, 2 * radius + 1)
  return nn.max_pool(holes, window, strides=(1, 1), padding="SAME")


def grow_holes(holes: jax.Array, candidates: jax.Array) -> jax.Array:
  """`holes` (N, H, W, 1) float grown, pixel by pixel through their 8 neighbours,
  into every `candidates` pixel connected to them, until nothing changes (the
  hysteresis of a two-threshold edge detector). A missed noise pixel stays in the
  result and the filler takes it as known, so beside a hole a weaker probability
  is enough, but not in the middle of known content."""
  candidates = candidates.astype(holes.dtype)

  def grow_once(state):
    grown, _ = state
    new = jnp.maximum(grown, _dilate(grown, 1) * candidates)
    return new, jnp.any(new != grown)

  # The first step outside the loop gives the flag the holes' sharding (per-device
  # under shard_map), which the loop's carry must keep.
  grown, _ = jax.lax.while_loop(lambda state: state[1], grow_once,
                                grow_once((holes, None)))
  return grown


def find_holes(config: ml_collections.ConfigDict, hole_predictor_variables: dict,
               image: jax.Array) -> jax.Array:
  """The hole mask (N, H, W, 1) float, 1 = hole, that blind inpainting fills: the
  predictor's probabilities (averaged over the four flips of the image with
  hole_predictor.test_time_flips) above hole_predictor.threshold, grown into the
  neighbouring pixels above hole_predictor.grow_threshold (0: not grown), then
  dilated by hole_predictor.dilation pixels."""
  if config.hole_predictor.test_time_flips:
    probabilities = sum(
        _flip(predict_holes(config, hole_predictor_variables, _flip(image, axes)), axes)
        for axes in _FLIPS) / len(_FLIPS)
  else:
    probabilities = predict_holes(config, hole_predictor_variables, image)
  holes = (probabilities > config.hole_predictor.threshold).astype(jnp.float32)
  if config.hole_predictor.grow_threshold:
    holes = grow_holes(holes, probabilities > config.hole_predictor.grow_threshold)
  if config.hole_predictor.dilation:
    holes = _dilate(holes, config.hole_predictor.dilation)
  return holes


def fill(config: ml_collections.ConfigDict, filler_variables: dict, filler_input: jax.Array,
         hole_map: jax.Array, known: jax.Array) -> jax.Array:
  """The filler's result in [-1, 1], as the recipe returns it (our recipe pastes the
  output in the holes of `hole_map` onto `known`; the original returns it raw).
  With filler.test_time_flips the output is the mean of the filler's outputs on
  the flipped inputs, each flipped back."""
  networks = models.create_models(config)
  flips = FILLER_FLIPS[config.filler.test_time_flips]
  # One first-guess solve serves every flip: the solve is flip-equivariant up to
  # its tolerance (a mirrored solve differs by up to 0.01 at 1e-3, README).
  guess = networks.filler.first_guess(filler_input, hole_map) if len(flips) > 1 else None
  output = sum(
      _flip(networks.filler.apply(
          filler_variables, _flip(filler_input, axes), _flip(hole_map, axes), train=False,
          first_guess=None if guess is None else _flip(guess, axes)), axes)
      for axes in flips) / len(flips)
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


def bucket_side(side: int, multiple: int) -> int:
  """The padded length of an image side: the smallest multiple of `multiple` of
  the form multiple x {1, 2, 3} or multiple x {4, 5, 6, 7} x 2^e that is at least
  `side`. Consecutive buckets differ by at most 25% above 4 x multiple, so padding
  costs at most that much while any number of sizes share a few programs."""
  if side <= 4 * multiple:
    return multiple * -(-side // multiple)
  scale = multiple
  while True:
    for factor in (4, 5, 6, 7):
      if factor * scale >= side:
        return factor * scale
    scale *= 2


def _pad_to_bucket(array: np.ndarray, multiple: int, mode: str,
                   side: int | None = None) -> np.ndarray:
  """Padded to the bucket of each side, or of `side` for both."""
  height, width = array.shape[:2]
  pad = [(0, bucket_side(side or height, multiple) - height),
         (0, bucket_side(side or width, multiple) - width)] + [(0, 0)] * (array.ndim - 2)
  return np.pad(array, pad, mode=mode)


def default_compilation_cache_dir() -> str:
  """$GENFILL_JAX_CACHE, else ~/.cache/genfill_jax/xla: where inference keeps its programs."""
  return os.environ.get("GENFILL_JAX_CACHE",
                        os.path.join(os.path.expanduser("~"), ".cache", "genfill_jax", "xla"))


def enable_compilation_cache(directory: str | None = None) -> str:
  """Keeps compiled programs in `directory` (default `default_compilation_cache_dir()`)
  across processes: a second start skips compiling the shapes seen before.
  Returns the directory. Every program is kept, however fast it compiled."""
  directory = directory or default_compilation_cache_dir()
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return directory


class Inpainter:
  """A trained hole predictor and filler (EMA weights), jitted for inference.

  Call it with a uint8 (H, W, 3) image and optionally a bool (H, W) mask
  (True = hole); without a mask the hole predictor finds the holes (at the
  photo's own size), then the holes are filled with the high-resolution
  strategy (config.inference.strategy unless the call names one). Inputs are
  padded to bucket shapes (`bucket_side`): each bucket compiles once.
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
                   max_pixels: int = DEFAULT_MAX_PIXELS,
                   overrides: dict | None = None) -> "Inpainter":
    """Restores checkpoint `step` (default the latest) of a run, config included.

    overrides: config fields to change for inference, e.g.
    {"inference.strategy": "crop", "filler.harmonic_solver": "multigrid"}.
    """
    config, state = runs.restore_run(workdir, step,
                                     mesh=parallel.create_mesh(jax.local_devices()[:1]))
    if overrides:
      config = runs.with_overrides(config, overrides)
    predictor_variables, filler_variables = inference_variables(state)
    return cls(config, predictor_variables, filler_variables, int(state.step), max_pixels)

  def find_holes(self, image: np.ndarray) -> np.ndarray:
    """The hole predictor's mask (H, W) bool for a uint8 (H, W, 3) image."""
    self._check_image(image)
    padded = _pad_to_bucket(pixels.uint8_to_signed(image), self._multiple, "symmetric")
    holes = self._find_holes(self._predictor_variables, padded[None])
    height, width = image.shape[:2]
    return np.asarray(holes[0, :height, :width, 0] > 0.5)

  def __call__(self, image: np.ndarray, mask: np.ndarray | None = None,
               strategy: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fills the holes of `image`; returns (result uint8 (H, W, 3), mask bool (H, W)).

    mask: True where the image is missing; None lets the hole predictor find
    the holes, and the mask it found is returned. strategy: one of
    `strategies.STRATEGIES`; None takes config.inference.strategy.
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
    settings = self.config.inference
    strategy = strategy or settings.strategy
    # Crops come in every aspect ratio: square buckets keep them to a few programs.
    fill = functools.partial(self.fill_at_size, square=strategy == "crop")
    result = strategies.inpaint_with_strategy(
        fill, image, mask, strategy, settings.size_limit, settings.crop_margin,
        settings.crop_min_margin)
    return result, mask

  def fill_at_size(self, image: np.ndarray, mask: np.ndarray,
                   square: bool = False) -> np.ndarray:
    """The filler run once on the whole uint8 image at its own size (padded to its
    bucket, or with `square` to the square bucket of its longest side); known
    pixels returned unchanged."""
    side = max(image.shape[:2]) if square else None
    signed = _pad_to_bucket(pixels.uint8_to_signed(image), self._multiple, "symmetric", side)
    holes = _pad_to_bucket(mask, self._multiple, "constant", side)
    filler_input = corruption.corrupt(
        np.random.default_rng(self.config.seed), signed, holes,
        self.config.holes.corruption, self.config.holes.noise_intensity)
    filled = self._fill(self._filler_variables, filler_input[None],
                        holes[None, ..., None].astype(np.float32), signed[None])
    height, width = image.shape[:2]
    painted = pixels.signed_to_uint8(np.asarray(filled[0, :height, :width]))
    return np.where(mask[..., None], painted, image)

  def _check_image(self, image) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3):
      shape = getattr(image, "shape", None)
      dtype = getattr(image, "dtype", type(image).__name__)
      raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {dtype} of shape {shape}")
    check_pixel_count(*image.shape[:2], self.max_pixels)

