"""The three building blocks of genFill (DownScale, Res, Upscale), NHWC.

Each block reproduces the original PyTorch block layer by layer, including its
unusual order: in DownScale and Res the PReLU comes *before* the BatchNorm
(`genfill_jax/torch_reference.py` is the PyTorch description).
"""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

# PyTorch defaults, which the original used everywhere.
PRELU_INIT = 0.25
BATCH_NORM_EPSILON = 1e-5
# PyTorch's momentum 0.1 means "keep 0.9 of the running average".
BATCH_NORM_MOMENTUM = 0.9

NORM_PATTERNS = ("even", "all", "none")


def uses_norm(norm_pattern: str, index: int) -> bool:
  """Whether block `index` of a stack carries BatchNorm under `norm_pattern`.

  'even' is the original's pattern (blocks 0, 2, 4, ... are normalised).
  """
  if norm_pattern == "even":
    return index % 2 == 0
  return norm_pattern == "all"  # or 'none'


def pixel_shuffle(inputs: jax.Array, upscale_factor: int) -> jax.Array:
  """NHWC version of `torch.nn.PixelShuffle`, with the same channel order.

  Channel `c * r * r + i * r + j` of input pixel (h, w) becomes channel `c` of
  output pixel (h * r + i, w * r + j), exactly as PyTorch orders it in NCHW.
  """
  batch, height, width, channels = inputs.shape
  factor = upscale_factor
  if channels % (factor * factor):
    raise ValueError(
        f"pixel_shuffle by {factor} needs channels divisible by {factor**2}, "
        f"got {channels}"
    )
  out_channels = channels // (factor * factor)
  x = inputs.reshape(batch, height, width, out_channels, factor, factor)
  x = x.transpose(0, 1, 4, 2, 5, 3)
  return x.reshape(batch, height * factor, width * factor, out_channels)


def batch_norm(train: bool, dtype: Any, axis_name: str | None, name: str) -> nn.BatchNorm:
  """BatchNorm with PyTorch's defaults; statistics over `axis_name` when training."""
  return nn.BatchNorm(
      use_running_average=not train,
      axis_name=axis_name if train else None,
      momentum=BATCH_NORM_MOMENTUM,
      epsilon=BATCH_NORM_EPSILON,
      use_fast_variance=False,
      dtype=dtype,
      name=name,
  )


def space_to_depth(x: jax.Array) -> jax.Array:
  """(N, H, W, C) -> (N, H/2, W/2, 4C): each 2 x 2 cell's pixels, in (dy, dx, c) order."""
  batch, height, width, channels = x.shape
  cells = x.reshape(batch, height // 2, 2, width // 2, 2, channels)
  return cells.transpose(0, 1, 3, 2, 4, 5).reshape(
      batch, height // 2, width // 2, 4 * channels)


class PatchConv(nn.Module):
  """A 2x2 stride-2 VALID conv, computed as space-to-depth and one matrix product.

  Same parameters ('kernel' (2, 2, C, F), optional 'bias'), initialisation and
  result (up to float summation order) as nn.Conv(F, (2, 2), strides=(2, 2),
  padding='VALID'). The patches do not overlap, so the conv is a matrix
  product; written as one, its kernel gradient is a matrix product too. As a
  strided conv, XLA:CPU turns that gradient into a window-dilated convolution
  that ran at a few percent of the CPU's peak (benchmarks/profile_step.py).
  """

  features: int
  use_bias: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    kernel = self.param("kernel", nn.linear.default_kernel_init,
                        (2, 2, channels, self.features), jnp.float32)
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    patches = space_to_depth(x)  # (dy, dx, c), the kernel's order
    y = jnp.dot(patches, kernel.reshape(4 * channels, self.features))
    if self.use_bias:
      bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
      y = y + bias.astype(y.dtype)
    return y


class OverlapConv(nn.Module):
  """A 4x4 stride-2 conv with 1 px of zero padding, computed as space-to-depth
  and a 2x2 stride-1 conv.

  Same parameter ('kernel' (4, 4, C, F), no bias) and result (up to float
  summation order) as nn.Conv(F, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1))),
  pix2pix's downsampling: neighbouring outputs share half their window, so an
  edge that crosses a 2 x 2 cell is seen whole. Written as a stride-1 conv on
  2 x 2 cells, for the reason `PatchConv` gives: XLA:CPU's gradients of
  strided convs are slow.
  """

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    kernel = self.param("kernel", nn.linear.default_kernel_init,
                        (4, 4, channels, self.features), jnp.float32)
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    cells = space_to_depth(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))))  # (dy, dx, c)
    # Kernel row 2 * cell_y + dy of the 4 x 4 window is row dy of cell cell_y.
    cell_kernel = kernel.reshape(2, 2, 2, 2, channels, self.features)
    cell_kernel = cell_kernel.transpose(0, 2, 1, 3, 4, 5).reshape(
        2, 2, 4 * channels, self.features)
    return jax.lax.conv_general_dilated(
        cells, cell_kernel, window_strides=(1, 1), padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"))


# The DownScale block's conv: 'patch' (the original's 2x2 stride 2) or 'overlap' (4x4 stride 2).
DOWNSCALE_CONVS = ("patch", "overlap")


class DownScale(nn.Module):
  """Conv stride 2 (no bias) -> PReLU -> optional BatchNorm; halves H, W.

  The conv is 2x2 (`conv_kind='patch'`, the original's) or 4x4 with 1 px
  padding (`conv_kind='overlap'`).
  """

  features: int
  norm: bool
  dtype: Any = jnp.float32
  # Set inside a data-parallel map: batch statistics over all devices (sync BN).
  batch_norm_axis_name: str | None = None
  conv_kind: str = "patch"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    if self.conv_kind == "overlap":
      x = OverlapConv(self.features, dtype=self.dtype, name="conv")(x)
    else:
      x = PatchConv(self.features, use_bias=False, dtype=self.dtype, name="conv")(x)
    x = nn.PReLU(negative_slope_init=PRELU_INIT, name="prelu")(x)
    if self.norm:
      x = batch_norm(train, self.dtype, self.batch_norm_axis_name, "norm")(x)
    return x


class Res(nn.Module):
  """Two rounds of [Conv 3x3 -> PReLU -> optional BatchNorm], plus the input."""

  norm: bool
  dtype: Any = jnp.float32
  # Set inside a data-parallel map: batch statistics over all devices (sync BN).
  batch_norm_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    features = x.shape[-1]
    y = x
    for round_index in (1, 2):
      y = nn.Conv(
          features, (3, 3), padding=((1, 1), (1, 1)), use_bias=False,
          dtype=self.dtype, name=f"conv{round_index}",
      )(y)
      y = nn.PReLU(negative_slope_init=PRELU_INIT, name=f"prelu{round_index}")(y)
      if self.norm:
        y = batch_norm(
            train, self.dtype, self.batch_norm_axis_name, f"norm{round_index}")(y)
    return x + y


class Upscale(nn.Module):
  """Conv 2x2 stride 2 to 16x features -> BatchNorm -> PixelShuffle(4) -> PReLU.

  The stride-2 conv halves H and W and the shuffle by 4 quadruples them, so the
  block doubles the resolution.
  """

  features: int
  norm: bool
  dtype: Any = jnp.float32
  # Set inside a data-parallel map: batch statistics over all devices (sync BN).
  batch_norm_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = PatchConv(self.features * 16, use_bias=True, dtype=self.dtype, name="conv")(x)
    if self.norm:
      x = batch_norm(train, self.dtype, self.batch_norm_axis_name, "norm")(x)
    x = pixel_shuffle(x, 4)
    return nn.PReLU(negative_slope_init=PRELU_INIT, name="prelu")(x)


class ResizeUpscale(nn.Module):
  """Nearest-neighbour 2x upsampling -> Conv 3x3 -> optional BatchNorm -> PReLU.

  Doubles the resolution as `Upscale` does, but every output pixel comes from a
  3x3 neighbourhood of the upsampled map, instead of each 4 x 4 pixel block from
  one position of the half-resolution map.
  """

  features: int
  norm: bool
  dtype: Any = jnp.float32
  batch_norm_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    x = nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype,
                name="conv")(x)
    if self.norm:
      x = batch_norm(train, self.dtype, self.batch_norm_axis_name, "norm")(x)
    return nn.PReLU(negative_slope_init=PRELU_INIT, name="prelu")(x)


UPSCALE_BLOCKS = {"shuffle": Upscale, "resize_conv": ResizeUpscale}


def encoder_widths(base_width: int, num_downscales: int) -> Sequence[int]:
  """Output widths of the DownScale stack: base * 2, base * 4, ..."""
  return [base_width * 2 ** (index + 1) for index in range(num_downscales)]


def required_multiple(num_downscales: int, has_decoder: bool) -> int:
  """The number H and W must be multiples of.

  2^k for an encoder. A decoder needs one factor of 2 more: its first Upscale
  block applies a stride-2 conv to the 1/2^k feature map before shuffling by
  4, so that map must have even height and width.
  """
  return 2 ** (num_downscales + int(has_decoder))


def check_divisible(
    height: int, width: int, num_downscales: int, has_decoder: bool, model: str
) -> None:
  """Raises ValueError unless H and W are multiples of `required_multiple`."""
  multiple = required_multiple(num_downscales, has_decoder)
  if height % multiple or width % multiple:
    why = f"2^num_downscales = 2^{num_downscales}"
    if has_decoder:
      why = f"2^(num_downscales + 1) = 2^{num_downscales + 1}, the decoder needs an even bottleneck"
    raise ValueError(
        f"{model}: image size {height}x{width} is not divisible by {multiple} "
        f"({why}); resize or pad the input to a multiple of {multiple}"
    )
