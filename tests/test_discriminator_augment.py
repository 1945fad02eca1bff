"""The discriminator's augmented views: pairs and hole labels stay together, the
ops are differentiable, off is the identity, and a training step uses them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genfill_jax import config_checks, discriminator_augment

from helpers import run_steps, tiny_config


def _images_and_mask(size=64, batch=4):
  images = jax.random.uniform(jax.random.PRNGKey(0), (batch, size, size, 3), minval=-0.5,
                              maxval=0.5)
  mask = jnp.zeros((batch, size, size, 1)).at[:, 20:30, 5:40].set(1.0)
  return images, mask


def test_no_kind_is_the_identity_and_unknown_kinds_are_refused():
  images, mask = _images_and_mask()
  augmentation = discriminator_augment.sample(jax.random.PRNGKey(1), 4, 64, ())
  np.testing.assert_allclose(discriminator_augment.view(augmentation, images), images,
                             atol=1e-6)
  np.testing.assert_array_equal(discriminator_augment.move(augmentation, mask), mask)
  with pytest.raises(ValueError, match="cutout"):
    discriminator_augment.sample(jax.random.PRNGKey(1), 4, 64, ("cutout",))
  config = tiny_config()
  config.train.discriminator_augmentation = ("colour", "cutout")
  with pytest.raises(config_checks.ConfigError, match="train.discriminator_augmentation"):
    config_checks.check_for_training(config, device_count=1)


def test_translation_moves_the_hole_labels_with_the_images():
  images, mask = _images_and_mask(batch=16)
  marked = jnp.where(mask > 0, 0.9, images)  # hole pixels carry a value no other has
  augmentation = discriminator_augment.sample(jax.random.PRNGKey(2), 16, 64,
                                              ("translation",))
  shift = np.asarray(augmentation.shift)
  assert np.abs(shift).max() <= 8 and np.any(shift != 0)  # up to 1/8 of 64 px
  seen = np.asarray(discriminator_augment.view(augmentation, marked))
  moved = np.asarray(discriminator_augment.move(augmentation, mask))[..., 0] > 0
  assert moved.sum() == mask.sum()  # a circular shift loses no hole pixel
  np.testing.assert_allclose(seen[moved], 0.9, atol=1e-6)
  assert np.all(seen[~moved] < 0.6)
  # Each example is shifted by its own draw.
  row, column = shift[3]
  np.testing.assert_allclose(seen[3], np.roll(np.asarray(marked[3]), (row, column),
                                              axis=(0, 1)), atol=1e-6)


def test_colour_changes_stay_in_range_leave_the_mask_and_pass_gradients():
  images, mask = _images_and_mask(batch=32)
  augmentation = discriminator_augment.sample(jax.random.PRNGKey(3), 32, 64, ("colour",))
  assert np.all(np.abs(augmentation.brightness) <= 0.5)
  assert np.all((augmentation.saturation >= 0) & (augmentation.saturation <= 2))
  assert np.all((augmentation.contrast >= 0.5) & (augmentation.contrast <= 1.5))
  np.testing.assert_array_equal(discriminator_augment.move(augmentation, mask), mask)
  seen = discriminator_augment.view(augmentation, images)
  # Brightness moves each image's mean by its own draw (contrast keeps the mean).
  np.testing.assert_allclose(jnp.mean(seen, axis=(1, 2, 3)),
                             jnp.mean(images, axis=(1, 2, 3)) + augmentation.brightness[:, 0,
                                                                                       0, 0],
                             atol=1e-5)
  weights = jax.random.normal(jax.random.PRNGKey(4), images.shape)
  gradient = jax.grad(lambda x: jnp.sum(discriminator_augment.view(augmentation, x)
                                        * weights))(images)
  assert np.all(np.isfinite(gradient)) and np.abs(gradient).mean() > 0.1


def _adversarial_step_metrics(kinds):
  config = tiny_config()
  config.train.discriminator_augmentation = kinds
  assert config.train.adversarial_start_step == 1
  _, history = run_steps(config, jax.devices()[:2], 2)  # step 1 plays the whole game
  return history[1]


def test_a_training_step_judges_augmented_views_of_both_players():
  plain_metrics = _adversarial_step_metrics(())
  augmented_metrics = _adversarial_step_metrics(("colour", "translation"))
  assert all(np.isfinite(value) for value in augmented_metrics.values())
  # The same batches and the same start (step 0 trains no discriminator): at step 1
  # the discriminator and the filler's adversarial terms see other images; the
  # reconstruction terms do not.
  assert augmented_metrics["discriminator/loss"] != plain_metrics["discriminator/loss"]
  assert augmented_metrics["filler/adversarial"] != plain_metrics["filler/adversarial"]
  assert augmented_metrics["filler/l1_hole"] == plain_metrics["filler/l1_hole"]
  assert augmented_metrics["discriminator/r1"] != plain_metrics["discriminator/r1"]
