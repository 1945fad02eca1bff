"""genfill_jax: image inpainting with GANs in JAX/Flax."""
