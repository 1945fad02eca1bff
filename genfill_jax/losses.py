"""Losses of the three players: the original recipe and ours.

Every loss is a mean over all pixels or patches of the local batch, so that
averaging it over devices (`lax.pmean`) gives exactly the global-batch value.
Masks are float (N, H, W, 1), 1 = hole; images are in [-1, 1].
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax


def composite(output: jax.Array, image: jax.Array, mask: jax.Array) -> jax.Array:
  """The filler's output in the holes, the known pixels everywhere else."""
  return mask * output + (1 - mask) * image


def hole_patches(mask: jax.Array, patch_size: int) -> jax.Array:
  """1 for each patch_size x patch_size patch that contains any hole pixel."""
  return nn.max_pool(mask, (patch_size, patch_size), strides=(patch_size, patch_size))


def l1_in_holes_and_known(output: jax.Array, image: jax.Array,
                          mask: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Mean absolute error over all pixels, split into the hole and the known part."""
  error = jnp.abs(output - image)
  return jnp.mean(error * mask), jnp.mean(error * (1 - mask))


def discriminator_nonsaturating(real_logits: jax.Array, fake_logits: jax.Array,
                                fake_hole_patches: jax.Array) -> jax.Array:
  """Mask-aware non-saturating D loss: real all real; of the fake, only hole patches are fake.

  Known patches of a composite are real pixels, so they are labelled real
  (LaMa's trick): D learns to find the painted region, not just "any fake".
  """
  real = optax.sigmoid_binary_cross_entropy(real_logits, jnp.ones_like(real_logits))
  fake = optax.sigmoid_binary_cross_entropy(fake_logits, 1 - fake_hole_patches)
  return jnp.mean(real) + jnp.mean(fake)


def generator_nonsaturating(fake_logits: jax.Array, fake_hole_patches: jax.Array) -> jax.Array:
  """-log D(fake) on the patches the filler painted."""
  return jnp.mean(jax.nn.softplus(-fake_logits) * fake_hole_patches)


def feature_matching(real_features: list[jax.Array],
                     fake_features: list[jax.Array]) -> jax.Array:
  """Mean squared distance between D's features of the real and the filled image
  (in float32 whatever the features' compute dtype)."""
  distances = [jnp.mean((jax.lax.stop_gradient(real).astype(jnp.float32)
                         - fake.astype(jnp.float32)) ** 2)
               for real, fake in zip(real_features, fake_features, strict=True)]
  return sum(distances) / len(distances)


def r1_penalty(input_gradients: jax.Array) -> jax.Array:
  """Mean over examples of |grad_x D(x)|^2 on real inputs (gamma / 2 applied by the caller)."""
  return jnp.mean(jnp.sum(input_gradients**2, axis=(1, 2, 3)))


def hole_predictor_bce_dice(logits: jax.Array, mask: jax.Array,
                            dice_weight: float) -> tuple[jax.Array, jax.Array]:
  """Per-pixel BCE and a soft dice term (per example) against the true mask."""
  bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, mask))
  probabilities = jax.nn.sigmoid(logits)
  overlap = jnp.sum(probabilities * mask, axis=(1, 2, 3))
  total = jnp.sum(probabilities + mask, axis=(1, 2, 3))
  dice = jnp.mean(1 - (2 * overlap + 1) / (total + 1))
  return bce + dice_weight * dice, dice


def original_discriminator(real_logits: jax.Array, fake_logits: jax.Array, rng: jax.Array,
                           label_noise: float) -> jax.Array:
  """The original's D loss: BCE with targets 1 - noise * u (real) and noise * u (fake)."""
  real_rng, fake_rng = jax.random.split(rng)
  real_targets = 1 - label_noise * jax.random.uniform(real_rng, real_logits.shape)
  fake_targets = label_noise * jax.random.uniform(fake_rng, fake_logits.shape)
  return (jnp.mean(optax.sigmoid_binary_cross_entropy(real_logits, real_targets))
          + jnp.mean(optax.sigmoid_binary_cross_entropy(fake_logits, fake_targets)))


def original_generator(fake_logits: jax.Array) -> jax.Array:
  """The original's G loss: BCE of D(generated) against 1, nothing else."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(fake_logits, jnp.ones_like(fake_logits)))


def original_hole_predictor(logits: jax.Array, cell_targets: jax.Array) -> jax.Array:
  """The original's predictor loss: BCE against the cell grid."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, cell_targets))
