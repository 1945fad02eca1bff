"""Differentiable augmentation of what the discriminator sees (DiffAugment-style).

On a small training set the discriminator can learn its photos by heart; judging
randomly recoloured and shifted views of real and painted pairs alike makes that
harder without changing what the filler is asked to paint (Zhao et al. 2020,
"Differentiable Augmentation for Data-Efficient GAN Training"). Every op is
differentiable, so the filler learns through it.

One draw per example and step is applied to the condition, to the candidate
(real or painted) and, for the shift, to the hole mask that labels D's patches,
so a pair stays a pair and its labels stay on its holes. Images are in [-1, 1],
as in the DiffAugment paper, whose ranges these are.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

KINDS = ("colour", "translation")
# The largest shift, as a fraction of the image side (DiffAugment's 1/8).
TRANSLATION_FRACTION = 0.125


class Augmentation(NamedTuple):
  """One draw for a batch: per-example colour changes and a circular shift."""

  brightness: jax.Array  # (N, 1, 1, 1), added: U(-0.5, 0.5)
  saturation: jax.Array  # (N, 1, 1, 1), factor on the distance to the gray value: U(0, 2)
  contrast: jax.Array  # (N, 1, 1, 1), factor on the distance to the mean: U(0.5, 1.5)
  shift: jax.Array  # (N, 2) int32: rows and columns the image is rolled by


def sample(rng: jax.Array, batch_size: int, image_size: int,
           kinds: tuple[str, ...]) -> Augmentation:
  """Draws an augmentation of the given kinds; the others are the identity."""
  unknown = set(kinds) - set(KINDS)
  if unknown:
    raise ValueError(f"unknown discriminator augmentations {sorted(unknown)}; "
                     f"choose from {KINDS}")
  brightness_rng, saturation_rng, contrast_rng, shift_rng = jax.random.split(rng, 4)
  factor_shape = (batch_size, 1, 1, 1)
  if "colour" in kinds:
    brightness = jax.random.uniform(brightness_rng, factor_shape) - 0.5
    saturation = 2 * jax.random.uniform(saturation_rng, factor_shape)
    contrast = jax.random.uniform(contrast_rng, factor_shape) + 0.5
  else:
    brightness = jnp.zeros(factor_shape)
    saturation = contrast = jnp.ones(factor_shape)
  if "translation" in kinds:
    largest = int(image_size * TRANSLATION_FRACTION)
    shift = jax.random.randint(shift_rng, (batch_size, 2), -largest, largest + 1)
  else:
    shift = jnp.zeros((batch_size, 2), jnp.int32)
  return Augmentation(brightness, saturation, contrast, shift)


def _roll(images: jax.Array, shift: jax.Array) -> jax.Array:
  return jax.vmap(lambda image, by: jnp.roll(image, by, axis=(0, 1)))(images, shift)


def move(augmentation: Augmentation, mask: jax.Array) -> jax.Array:
  """The mask (N, H, W, 1) shifted as `view` shifts the images; no colour change."""
  return _roll(mask, augmentation.shift)


def view(augmentation: Augmentation, images: jax.Array) -> jax.Array:
  """The images (N, H, W, C) recoloured, then shifted, as the discriminator sees them."""
  images = images + augmentation.brightness.astype(images.dtype)
  gray = jnp.mean(images, axis=-1, keepdims=True)
  images = (images - gray) * augmentation.saturation.astype(images.dtype) + gray
  mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
  images = (images - mean) * augmentation.contrast.astype(images.dtype) + mean
  return _roll(images, augmentation.shift)
