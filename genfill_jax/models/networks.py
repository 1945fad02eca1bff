"""HolePredictor, Filler and Discriminator: genFill's three networks, NHWC.

All three share one layout: `num_downscales` (k) DownScale blocks, then
`num_res_blocks` (r) Res blocks at the narrowest resolution, then either a 3x3
conv head (cell-resolution outputs) or k Upscale blocks with additive skips from
the encoder and a 3x3 conv head (full-resolution outputs). Images enter in
[-1, 1]; all heads return logits or tanh outputs, never probabilities, so that
losses can use the numerically stable `*_with_logits` forms.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genfill_jax.models import blocks, fourier
from genfill_jax.models.opencv_guess import opencv_fill
from genfill_jax.models.pull_push import harmonic_first_guess, pull_push_fill

# The choices of the networks' string settings (config_checks checks configs against them).
HOLE_PREDICTOR_OUTPUTS = ("cells", "full")
HOLE_MAP_INPUTS = ("bottleneck", "input", "both")
HOLE_FILLS = ("none", "pull_push", "harmonic")
# Inference only (inpaint.fill): the flips of its input whose outputs the filler averages.
FILLER_TEST_TIME_FLIPS = ("none", "left_right", "all")
# The filler's residual blocks: 'conv' (the original's Res) or 'fourier' (FFC, LaMa).
RES_BLOCKS = {"conv": blocks.Res, "fourier": fourier.FourierRes}


def _encode(x, train, *, num_downscales, base_width, norm_pattern, dtype, axis_name,
            downsampling="patch"):
  """Runs the DownScale stack; returns every block's output (the skips)."""
  features = []
  for index, width in enumerate(blocks.encoder_widths(base_width, num_downscales)):
    x = blocks.DownScale(
        width, blocks.uses_norm(norm_pattern, index), dtype=dtype,
        batch_norm_axis_name=axis_name, conv_kind=downsampling, name=f"downscalers_{index}",
    )(x, train)
    features.append(x)
  return features


def _residual_stack(x, train, *, num_res_blocks, norm_pattern, dtype, axis_name,
                    first_index=0, res_block="conv"):
  for index in range(first_index, first_index + num_res_blocks):
    x = RES_BLOCKS[res_block](
        blocks.uses_norm(norm_pattern, index), dtype=dtype,
        batch_norm_axis_name=axis_name, name=f"res_blocks_{index}",
    )(x, train)
  return x


def _decode(x, skips, train, *, num_downscales, base_width, norm_pattern, dtype, axis_name,
            upsampling="shuffle"):
  """Runs the Upscale stack, adding encoder output k - i - 2 after block i."""
  for index in range(num_downscales):
    width = base_width * 2 ** (num_downscales - 1 - index)
    x = blocks.UPSCALE_BLOCKS[upsampling](
        width, blocks.uses_norm(norm_pattern, index), dtype=dtype,
        batch_norm_axis_name=axis_name, name=f"upscalers_{index}",
    )(x, train)
    if index < num_downscales - 1:
      x = x + skips[num_downscales - index - 2]
  return x


def _head(x, features, dtype, zero_init=False, name="final_conv"):
  kernel_init = nn.initializers.zeros if zero_init else nn.linear.default_kernel_init
  return nn.Conv(
      features, (3, 3), padding=((1, 1), (1, 1)), use_bias=True, dtype=dtype,
      kernel_init=kernel_init, name=name,
  )(x)


def _conv_prelu_layers(x, features, num_layers, dtype, prefix):
  """`num_layers` full-resolution 3x3 conv + PReLU layers, `features` wide."""
  for index in range(num_layers):
    x = nn.Conv(features, (3, 3), padding=((1, 1), (1, 1)), dtype=dtype,
                name=f"{prefix}_conv{index}")(x)
    x = nn.PReLU(negative_slope_init=blocks.PRELU_INIT, name=f"{prefix}_prelu{index}")(x)
  return x


def _full_resolution_head_features(decoded, inputs, pixel_features, head_layers, width,
                                   dtype, reach=None):
  """What a full-resolution head's final conv sees, beyond the decoder's output.

  The decoder's last Upscale paints each 4 x 4 pixel block from one 1/4-resolution
  position, so a head on it alone sees no feature finer than that. This joins
  the network's full-resolution `inputs`, optionally a branch of two 3x3 conv +
  PReLU layers (`pixel_features` wide) on them, and then runs `head_layers` 3x3
  conv + PReLU layers (`width` wide) on the joined features. `reach` (N, H, W, 1),
  if given, multiplies the full-resolution features (inputs and branch) before
  they join the decoder's: where it is 0 the head sees the decoder alone.
  """
  full = inputs.astype(decoded.dtype)
  if pixel_features:
    pixels = _conv_prelu_layers(inputs.astype(dtype), pixel_features, 2, dtype, "pixel")
    full = jnp.concatenate([full, pixels.astype(decoded.dtype)], axis=-1)
  if reach is not None:
    full = full * reach.astype(full.dtype)
  x = jnp.concatenate([decoded, full], axis=-1)
  return _conv_prelu_layers(x, width, head_layers, dtype, "head")


def near_known_pixels(holes: jax.Array, reach: int) -> jax.Array:
  """1 where a known pixel (holes == 0) lies within `reach` pixels (a square of
  side 2 * reach + 1), else 0; `holes` is (N, H, W, 1) with 1 = hole."""
  window = (2 * reach + 1, 2 * reach + 1)
  return nn.max_pool(1 - holes, window, strides=(1, 1), padding="SAME")


class HolePredictor(nn.Module):
  """Finds the holes in a corrupted image.

  Attributes:
    num_downscales: k, the number of DownScale blocks.
    num_res_blocks: r, the number of Res blocks.
    base_width: the first DownScale block outputs 2 * base_width channels.
    norm_pattern: which blocks carry BatchNorm: 'even' (original), 'all', 'none'.
    output_resolution: 'cells' (the original: one logit per 2^k x 2^k cell) or
      'full' (a decoder back to one logit per pixel, its head seeing the
      input pixels too).
    pixel_features: with 'full', the width of two 3x3 conv + PReLU layers run
      on the raw image at full resolution and fed to the head (0 = none). The
      encoder's first 2x2 stride-2 conv never compares a pixel with its
      neighbours across a 2x2 cell, which is what one-pixel strokes need.
    head_layers: with 'full', the number of 3x3 conv + PReLU layers (base_width
      wide) between the joined decoder, pixel and branch features and the final
      conv (0: the final conv alone, a linear map of them). They let the head
      combine what the context says ("a stroke passes here") with what the
      pixel says ("this value is an outlier") nonlinearly.
    downsampling: the encoder's DownScale convs: 'patch' (the original's 2x2
      stride 2: each sees one 2 x 2 cell) or 'overlap' (4x4 stride 2).
  """

  num_downscales: int = 4
  num_res_blocks: int = 2
  base_width: int = 32
  norm_pattern: str = "even"
  output_resolution: str = "cells"
  pixel_features: int = 0
  head_layers: int = 0
  downsampling: str = "patch"
  dtype: Any = jnp.float32
  batch_norm_axis_name: str | None = None  # sync BN inside a data-parallel map

  @nn.compact
  def __call__(self, image: jax.Array, train: bool = False) -> jax.Array:
    """Maps an image in [-1, 1], (N, H, W, C), to hole logits (N, h, w, 1).

    h = H / 2^k for 'cells', h = H for 'full'. sigmoid(logits) is the
    original model's probability output.
    """
    blocks.check_divisible(
        *image.shape[1:3], self.num_downscales,
        self.output_resolution == "full", "HolePredictor",
    )
    arch = dict(norm_pattern=self.norm_pattern, dtype=self.dtype,
                axis_name=self.batch_norm_axis_name)
    skips = _encode(
        image, train, num_downscales=self.num_downscales,
        base_width=self.base_width, downsampling=self.downsampling, **arch,
    )
    x = _residual_stack(skips[-1], train, num_res_blocks=self.num_res_blocks, **arch)
    if self.output_resolution == "full":
      x = _decode(
          x, skips, train, num_downscales=self.num_downscales,
          base_width=self.base_width, **arch,
      )
      # The head also sees the raw pixels, so hole edges are placed to the pixel.
      x = _full_resolution_head_features(x, image, self.pixel_features, self.head_layers,
                                         self.base_width, self.dtype)
    return _head(x, 1, self.dtype).astype(jnp.float32)


class Discriminator(nn.Module):
  """Six-channel PatchGAN: judges (condition, candidate) image pairs.

  The original's HolePredictor trunk with a 6-channel input and no sigmoid:
  one logit per 2^k x 2^k patch. Attributes as in `HolePredictor`; with
  `downsampling='overlap'` (pix2pix's 4x4 stride-2 convs) neighbouring patches
  share half their windows at every level.
  """

  num_downscales: int = 4
  num_res_blocks: int = 12
  base_width: int = 32
  norm_pattern: str = "even"
  downsampling: str = "patch"
  dtype: Any = jnp.float32
  batch_norm_axis_name: str | None = None  # sync BN inside a data-parallel map

  @nn.compact
  def __call__(
      self, condition: jax.Array, candidate: jax.Array, train: bool = False,
      return_features: bool = False,
  ) -> jax.Array | tuple[jax.Array, list[jax.Array]]:
    """Returns real/fake logits (N, H / 2^k, W / 2^k, 1) for images in [-1, 1].

    With return_features, also the output of every block (for feature matching).
    """
    if condition.shape != candidate.shape:
      raise ValueError(
          f"Discriminator: condition {condition.shape} and candidate "
          f"{candidate.shape} must have the same shape"
      )
    blocks.check_divisible(
        *condition.shape[1:3], self.num_downscales, False, "Discriminator"
    )
    x = jnp.concatenate([condition, candidate], axis=-1)
    arch = dict(norm_pattern=self.norm_pattern, dtype=self.dtype,
                axis_name=self.batch_norm_axis_name)
    skips = _encode(
        x, train, num_downscales=self.num_downscales,
        base_width=self.base_width, downsampling=self.downsampling, **arch,
    )
    features = list(skips)
    x = skips[-1]
    for index in range(self.num_res_blocks):
      x = _residual_stack(x, train, num_res_blocks=1, first_index=index, **arch)
      features.append(x)
    logits = _head(x, 1, self.dtype).astype(jnp.float32)
    return (logits, features) if return_features else logits


def resize_hole_map(hole_map: jax.Array, height: int, width: int) -> jax.Array:
  """Brings a (N, h, w, 1) hole map to (N, height, width, 1).

  Down: average over each cell (the fraction of the cell that is hole).
  Up: nearest neighbour (each cell value covers its pixels).
  """
  map_height, map_width = hole_map.shape[1:3]
  if (map_height, map_width) == (height, width):
    return hole_map
  if map_height % height == 0 and map_width % width == 0 and (
      map_height // height == map_width // width
  ):
    factor = map_height // height
    return nn.avg_pool(hole_map, (factor, factor), strides=(factor, factor))
  if height % map_height == 0 and width % map_width == 0 and (
      height // map_height == width // map_width
  ):
    factor = height // map_height
    return jnp.repeat(jnp.repeat(hole_map, factor, axis=1), factor, axis=2)
  raise ValueError(
      f"a hole map of {map_height}x{map_width} cannot be matched to "
      f"{height}x{width}; give it at full or 1/2^k resolution"
  )


class Filler(nn.Module):
  """The generator: paints the holes of an image given a hole map.

  Attributes:
    num_downscales, num_res_blocks, base_width, norm_pattern: as in
      `HolePredictor`.
    hole_map_input: where the hole map enters: 'bottleneck' (the original:
      concatenated to the encoder output at 1/2^k resolution), 'input' (a
      fourth, full-resolution input channel) or 'both'.
    hole_fill: 'none' (the original: the network sees the corrupted image and
      paints every pixel), 'pull_push' or 'harmonic' (holes are first filled
      smoothly from the known pixels, see `pull_push.py`, and the network
      predicts a correction: output = clip(first guess + tanh(head), -1, 1)).
    harmonic_solver: 'jacobi' (a fixed number of sweeps) or 'conjugate_gradient'
      (to `harmonic_tolerance`) for the 'harmonic' first guess.
    harmonic_iterations: Jacobi sweeps, or at most this many CG steps.
    harmonic_tolerance: CG stops when no hole pixel's residual exceeds it.
    res_block: 'conv' (the original's Res blocks) or 'fourier' (Fast Fourier
      Convolution blocks, `fourier.py`: a receptive field over the whole image).
    opencv_guesses: OpenCV methods ('telea', 'navier_stokes') whose fills join
      the first guess (`opencv_guess.py`; needs a `hole_fill`). The network sees
      every guess and paints a per-pixel blend of them (softmax weights, equal at
      initialisation) plus its correction.
    pixel_features, head_layers: as in `HolePredictor`, on the filler's own
      full-resolution input (the first guesses and the hole map); with either
      above 0 the head also sees that input. 0 and 0 (as the original): the
      head sees the decoder's output alone (with `upsampling='shuffle'`, its
      4 x 4 pixel blocks each come from one 1/4-resolution position).
    pixel_reach: px (0 = everywhere): the full-resolution features reach the
      head only at pixels within this distance of a known pixel (a square
      window), so that the inside of a large hole is painted from the decoder
      alone.
    upsampling: the decoder's blocks: 'shuffle' (the original's `Upscale`: a
      stride-2 conv, then each position paints a 4 x 4 pixel block) or
      'resize_conv' (`ResizeUpscale`: 2x nearest-neighbour, then a 3x3 conv).
    downsampling: the encoder's DownScale convs: 'patch' (the original's 2x2
      stride 2: each sees one 2 x 2 cell) or 'overlap' (4x4 stride 2).
    stem_features: 0 (the original) or the width of a full-resolution 3x3 conv
      + PReLU layer on the network's input, before the encoder.
  """

  num_downscales: int = 4
  num_res_blocks: int = 12
  base_width: int = 32
  norm_pattern: str = "even"
  hole_map_input: str = "bottleneck"
  hole_fill: str = "none"
  harmonic_solver: str = "jacobi"
  harmonic_iterations: int = 200
  harmonic_tolerance: float = 1e-3
  res_block: str = "conv"
  opencv_guesses: tuple[str, ...] = ()
  pixel_features: int = 0
  head_layers: int = 0
  pixel_reach: int = 0
  upsampling: str = "shuffle"
  downsampling: str = "patch"
  stem_features: int = 0
  dtype: Any = jnp.float32
  batch_norm_axis_name: str | None = None  # sync BN inside a data-parallel map

  def first_guess(self, image: jax.Array, hole_map: jax.Array) -> jax.Array | None:
    """The smooth fill of the holes (`hole_fill`) that the network corrects, in
    `image`'s dtype; None for hole_fill='none'. It has no parameters: pass it to
    `__call__` to reuse one solve for several calls, e.g. on the flips of an image
    (the solve is flip-equivariant up to its tolerance)."""
    if self.hole_fill == "none":
      return None
    height, width = image.shape[1:3]
    holes = (resize_hole_map(hole_map.astype(image.dtype), height, width) > 0.5
             ).astype(image.dtype)
    if self.hole_fill == "pull_push":
      return pull_push_fill(image, holes)
    return harmonic_first_guess(image, holes, self.harmonic_solver,
                                self.harmonic_iterations, self.harmonic_tolerance)

  @nn.compact
  def __call__(
      self, image: jax.Array, hole_map: jax.Array, train: bool = False,
      first_guess: jax.Array | None = None,
  ) -> jax.Array:
    """Fills `image` (N, H, W, 3) in [-1, 1]; returns (N, H, W, 3) in [-1, 1].

    Args:
      image: the corrupted image.
      hole_map: (N, h, w, 1) in [0, 1], 1 = hole, either at full resolution
        (h = H) or at the hole predictor's cell resolution (h = H / 2^k).
      train: use batch statistics (and update the running ones) if True.
      first_guess: `self.first_guess(image, hole_map)` if already solved;
        None solves it here.
    """
    height, width = image.shape[1:3]
    blocks.check_divisible(height, width, self.num_downscales, True, "Filler")
    hole_map = hole_map.astype(image.dtype)
    x = image
    # The pixels to paint, at full resolution: the first guess fills them and
    # `pixel_reach` measures from them.
    holes = (resize_hole_map(hole_map, height, width) > 0.5).astype(image.dtype)
    if self.hole_fill != "none":
      if first_guess is None:
        first_guess = self.first_guess(image, hole_map)
      guesses = [jax.lax.stop_gradient(first_guess.astype(image.dtype))]
      for method in self.opencv_guesses:
        # Initialisation needs shapes only: no host round trip (the init of a
        # multi-host game runs outside the per-device map).
        guesses.append(guesses[0] if self.is_initializing()
                       else opencv_fill(image, holes, method).astype(image.dtype))
      x = jnp.concatenate(guesses, axis=-1)
    if self.hole_map_input in ("input", "both"):
      x = jnp.concatenate([x, resize_hole_map(hole_map, height, width)], axis=-1)
    network_input = x
    arch = dict(norm_pattern=self.norm_pattern, dtype=self.dtype,
                axis_name=self.batch_norm_axis_name)
    if self.stem_features:
      x = _conv_prelu_layers(x, self.stem_features, 1, self.dtype, "stem")
    skips = _encode(
        x, train, num_downscales=self.num_downscales,
        base_width=self.base_width, downsampling=self.downsampling, **arch,
    )
    x = skips[-1]
    if self.hole_map_input in ("bottleneck", "both"):
      cells = resize_hole_map(hole_map, *x.shape[1:3])
      x = jnp.concatenate([x, cells.astype(x.dtype)], axis=-1)
    x = _residual_stack(x, train, num_res_blocks=self.num_res_blocks,
                        res_block=self.res_block, **arch)
    x = _decode(
        x, skips, train, num_downscales=self.num_downscales,
        base_width=self.base_width, upsampling=self.upsampling, **arch,
    )
    if self.pixel_features or self.head_layers:
      reach = near_known_pixels(holes, self.pixel_reach) if self.pixel_reach else None
      x = _full_resolution_head_features(x, network_input, self.pixel_features,
                                         self.head_layers, self.base_width, self.dtype,
                                         reach)
    # With a first guess the correction starts at exactly zero.
    painted = jnp.tanh(
        _head(x, 3, self.dtype, zero_init=self.hole_fill != "none").astype(jnp.float32))
    if self.hole_fill == "none":
      return painted
    if len(guesses) == 1:
      return jnp.clip(guesses[0].astype(jnp.float32) + painted, -1, 1)
    weights = jax.nn.softmax(
        _head(x, len(guesses), self.dtype, zero_init=True, name="blend_conv")
        .astype(jnp.float32), axis=-1)
    blend = sum(weights[..., index, None] * guess.astype(jnp.float32)
                for index, guess in enumerate(guesses))
    return jnp.clip(blend + painted, -1, 1)
