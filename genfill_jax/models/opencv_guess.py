"""OpenCV's inpainting (Telea, Navier-Stokes) as a first guess inside the filler.

OpenCV runs on the host: jitted code reaches it through `jax.pure_callback`, so
the same filler trains, evaluates and inpaints on CPU, GPU and TPU (there, each
device's images travel to its host and back once per call). The guess is a
constant to the filler: no gradient flows through it.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from genfill_jax import baselines, pixels


def _fill_on_host(image: np.ndarray, holes: np.ndarray, method: str) -> np.ndarray:
  """cv2.inpaint of signed float images (N, H, W, 3); known pixels come back as given."""
  image = np.asarray(image, np.float32)
  holes = np.asarray(holes) > 0.5
  filled = pixels.uint8_to_signed(
      baselines.opencv_inpaint(pixels.signed_to_uint8(image), holes, method))
  return np.where(holes, filled, image)


def opencv_fill(image: jax.Array, holes: jax.Array, method: str) -> jax.Array:
  """The holes (holes == 1) of `image` (N, H, W, 3, in [-1, 1]) filled by OpenCV's
  `method` from the known pixels (rounded to uint8 first, as OpenCV needs), in
  float32; known pixels unchanged. Callable under `jax.jit` and `jax.shard_map`.
  """
  image = jax.lax.stop_gradient(image.astype(jnp.float32))
  holes = jax.lax.stop_gradient(holes.astype(jnp.float32))
  return jax.pure_callback(
      functools.partial(_fill_on_host, method=method),
      jax.ShapeDtypeStruct(image.shape, jnp.float32), image, holes,
      vmap_method="sequential")
