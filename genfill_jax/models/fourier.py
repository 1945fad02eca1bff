"""Fast Fourier Convolution residual block (LaMa), NHWC: a receptive field that
covers the whole image at any size.

The channels split into a local part (3x3 convolutions, as in `blocks.Res`)
and a global part (3/4 of them by default) whose spectral transform mixes
channels pointwise in the 2-D Fourier domain: one 1x1 convolution there
touches every pixel of the image, whatever its size.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genfill_jax.models import blocks


def global_channels(features: int, global_fraction: float) -> int:
  """How many of `features` channels take the spectral (global) path."""
  return min(features - 1, max(2, round(features * global_fraction)))


class FourierUnit(nn.Module):
  """Real FFT over H, W -> 1x1 conv on (real, imaginary) channels -> PReLU -> inverse FFT.

  The FFT runs in float32 whatever the compute dtype (bfloat16 FFTs lose too
  much precision), with the orthonormal scaling so that the unit's gain does
  not depend on the image size.
  """

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    height, width = x.shape[1:3]
    spectrum = jnp.fft.rfft2(x.astype(jnp.float32), axes=(1, 2), norm="ortho")
    stacked = jnp.concatenate([spectrum.real, spectrum.imag], axis=-1)
    mixed = nn.Conv(2 * self.features, (1, 1), use_bias=False, dtype=self.dtype,
                    name="spectral_conv")(stacked.astype(self.dtype))
    mixed = nn.PReLU(negative_slope_init=blocks.PRELU_INIT, name="prelu")(mixed)
    real, imaginary = jnp.split(mixed.astype(jnp.float32), 2, axis=-1)
    spatial = jnp.fft.irfft2(jax.lax.complex(real, imaginary), s=(height, width),
                             axes=(1, 2), norm="ortho")
    return spatial.astype(self.dtype)


class SpectralTransform(nn.Module):
  """1x1 conv to half the channels -> PReLU -> plus its FourierUnit -> 1x1 conv back."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    hidden = max(1, self.features // 2)
    reduced = nn.Conv(hidden, (1, 1), use_bias=False, dtype=self.dtype, name="reduce")(x)
    reduced = nn.PReLU(negative_slope_init=blocks.PRELU_INIT, name="prelu")(reduced)
    spectral = FourierUnit(hidden, dtype=self.dtype, name="fourier_unit")(reduced)
    return nn.Conv(self.features, (1, 1), use_bias=False, dtype=self.dtype,
                   name="expand")(reduced + spectral)


class FastFourierConv(nn.Module):
  """One FFC layer: local <- 3x3 conv of all channels; global <- 3x3 conv of the
  local channels + the spectral transform of the global ones. Keeps C channels,
  the last `global_features` of them global."""

  global_features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    local_features = features - self.global_features
    local_in = x[..., :local_features]
    global_in = x[..., local_features:]
    conv3x3 = dict(kernel_size=(3, 3), padding=((1, 1), (1, 1)), use_bias=False,
                   dtype=self.dtype)
    local_out = nn.Conv(local_features, name="to_local", **conv3x3)(x)
    global_out = nn.Conv(self.global_features, name="local_to_global", **conv3x3)(local_in)
    global_out = global_out + SpectralTransform(
        self.global_features, dtype=self.dtype, name="spectral")(global_in)
    return jnp.concatenate([local_out, global_out], axis=-1)


class FourierRes(nn.Module):
  """A drop-in for `blocks.Res`: two rounds of [FFC -> PReLU -> optional
  BatchNorm], plus the input. Same channels in and out, any H and W."""

  norm: bool
  global_fraction: float = 0.75
  dtype: Any = jnp.float32
  # Set inside a data-parallel map: batch statistics over all devices (sync BN).
  batch_norm_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    global_features = global_channels(x.shape[-1], self.global_fraction)
    y = x
    for round_index in (1, 2):
      y = FastFourierConv(global_features, dtype=self.dtype, name=f"ffc{round_index}")(y)
      y = nn.PReLU(negative_slope_init=blocks.PRELU_INIT, name=f"prelu{round_index}")(y)
      if self.norm:
        y = blocks.batch_norm(
            train, self.dtype, self.batch_norm_axis_name, f"norm{round_index}")(y)
    return x + y
