"""The losses, the cell targets and the two recipes, specified on tiny hand-computed cases.

Masks are (N, H, W, 1) floats, 1 = hole. Expected values are written out by hand;
softplus(x) = log(1 + e^x) is BCE against 0 and softplus(-x) is BCE against 1.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genfill_jax import losses, perceptual, recipes
from genfill_jax.pixels import SignedBatch
from genfill_jax.train_step import cell_targets

LOG2 = np.log(2.0)


def _softplus(x):
  return np.log1p(np.exp(x))


def _image(rows):
  """A (1, H, W, 1) array from a nested list of rows."""
  return jnp.asarray(rows, jnp.float32)[None, :, :, None]


def _never_called(*args):
  raise AssertionError("must not be called")


def _ours(**overrides):
  weights = dict(l1_hole=1.0, l1_known=1.0, adversarial=1.0, feature_matching=1.0,
                 r1_gamma=0.0, dice_weight=1.0, patch_size=2)
  weights.update(overrides)
  return recipes.Ours(**weights)


# composite


def test_composite_takes_output_in_holes_and_image_elsewhere():
  output = jnp.full((1, 1, 3, 3), 5.0)
  image = jnp.asarray([[[[1.0, 2.0, 3.0], [4.0, 5.5, 6.0], [7.0, 8.0, 9.0]]]])
  mask = _image([[1.0, 0.0, 1.0]])
  expected = [[[[5.0, 5.0, 5.0], [4.0, 5.5, 6.0], [5.0, 5.0, 5.0]]]]
  np.testing.assert_array_equal(losses.composite(output, image, mask), expected)


# hole_patches


def test_hole_patches_marks_every_patch_with_any_hole_pixel():
  mask = _image([[0, 1, 0, 0],
                 [0, 0, 0, 0],
                 [0, 0, 0, 0],
                 [0, 0, 0, 1]])
  # One hole pixel is enough: top-left and bottom-right patches are 1.
  np.testing.assert_array_equal(losses.hole_patches(mask, 2), _image([[1, 0], [0, 1]]))


def test_hole_patches_of_full_and_empty_patches():
  mask = _image([[1, 1, 0, 0],
                 [1, 1, 0, 0],
                 [0, 0, 0, 0],
                 [0, 0, 1, 1]])
  np.testing.assert_array_equal(losses.hole_patches(mask, 2), _image([[1, 0], [0, 1]]))
  np.testing.assert_array_equal(losses.hole_patches(mask, 4), _image([[1]]))


# l1_in_holes_and_known


def test_l1_in_holes_and_known_are_means_over_all_pixels():
  image = jnp.zeros((1, 1, 2, 3))
  output = jnp.asarray([[[[1.0, -2.0, 3.0], [4.0, 4.0, -4.0]]]])
  mask = _image([[1.0, 0.0]])
  hole, known = losses.l1_in_holes_and_known(output, image, mask)
  # 6 values in all: hole |1| + |-2| + |3| = 6 -> 6 / 6; known 4 + 4 + 4 = 12 -> 12 / 6.
  np.testing.assert_allclose(hole, 1.0, rtol=1e-6)
  np.testing.assert_allclose(known, 2.0, rtol=1e-6)


# discriminator_nonsaturating


def test_discriminator_nonsaturating_labels_known_fake_patches_real_and_hole_patches_fake():
  real_logits = _image([[0.0, 2.0]])
  fake_logits = _image([[1.0, 3.0]])
  patches = _image([[0.0, 1.0]])  # the fake's first patch is known, the second painted
  loss = losses.discriminator_nonsaturating(real_logits, fake_logits, patches)
  real = (_softplus(-0.0) + _softplus(-2.0)) / 2  # both against 1
  fake = (_softplus(-1.0) + _softplus(3.0)) / 2  # known patch against 1, hole patch against 0
  np.testing.assert_allclose(loss, real + fake, rtol=1e-6)


def test_discriminator_nonsaturating_falls_when_a_known_fake_patch_looks_more_real():
  real_logits = _image([[0.0, 0.0]])
  patches = _image([[0.0, 1.0]])
  before = losses.discriminator_nonsaturating(real_logits, _image([[1.0, 1.0]]), patches)
  after = losses.discriminator_nonsaturating(real_logits, _image([[2.0, 1.0]]), patches)
  # Fake term, known patch: softplus(-1) / 2 -> softplus(-2) / 2.
  np.testing.assert_allclose(after - before, (_softplus(-2.0) - _softplus(-1.0)) / 2,
                             rtol=1e-5)
  assert after < before


def test_discriminator_nonsaturating_rises_when_a_hole_fake_patch_looks_more_real():
  real_logits = _image([[0.0, 0.0]])
  patches = _image([[0.0, 1.0]])
  before = losses.discriminator_nonsaturating(real_logits, _image([[1.0, 1.0]]), patches)
  after = losses.discriminator_nonsaturating(real_logits, _image([[1.0, 2.0]]), patches)
  # Fake term, hole patch: softplus(1) / 2 -> softplus(2) / 2.
  np.testing.assert_allclose(after - before, (_softplus(2.0) - _softplus(1.0)) / 2, rtol=1e-5)
  assert after > before


# generator_nonsaturating


def test_generator_nonsaturating_is_softplus_of_minus_logit_on_hole_patches_over_all_patches():
  fake_logits = _image([[1.0, 3.0], [-2.0, 0.0]])
  patches = _image([[1.0, 0.0], [0.0, 1.0]])
  # Only the two hole patches count, divided by all 4 patches.
  expected = (_softplus(-1.0) + _softplus(-0.0)) / 4
  np.testing.assert_allclose(losses.generator_nonsaturating(fake_logits, patches), expected,
                             rtol=1e-6)


# feature_matching


def test_feature_matching_is_mean_of_per_layer_mean_squared_errors():
  real = [jnp.zeros((1, 2)), jnp.zeros((1, 4))]
  fake = [jnp.asarray([[1.0, 3.0]]), jnp.ones((1, 4))]
  # Layer 1: (1 + 9) / 2 = 5; layer 2: 1; mean of the layers (5 + 1) / 2 = 3
  # (pooling all 6 values would give 14 / 6).
  np.testing.assert_allclose(losses.feature_matching(real, fake), 3.0, rtol=1e-6)


def test_feature_matching_gradient_does_not_flow_into_real_features():
  real = [jnp.asarray([[0.5, -1.0]]), jnp.asarray([[2.0]])]
  fake = [jnp.asarray([[1.0, 3.0]]), jnp.asarray([[0.0]])]
  gradient = jax.grad(losses.feature_matching)(real, fake)
  np.testing.assert_array_equal(gradient[0], np.zeros((1, 2)))
  np.testing.assert_array_equal(gradient[1], np.zeros((1, 1)))


def test_feature_matching_gradient_flows_into_fake_features():
  real = [jnp.asarray([[0.5, -1.0]]), jnp.asarray([[2.0]])]
  fake = [jnp.asarray([[1.0, 3.0]]), jnp.asarray([[0.0]])]
  gradient = jax.grad(losses.feature_matching, argnums=1)(real, fake)
  # d/dfake of (1/2) * mean((fake - real)^2) = (fake - real) / n_values_of_layer.
  np.testing.assert_allclose(gradient[0], [[0.25, 2.0]], rtol=1e-6)
  np.testing.assert_allclose(gradient[1], [[-2.0]], rtol=1e-6)


# r1_penalty


def test_r1_penalty_of_linear_discriminator_is_squared_norm_of_weights():
  weights = jnp.asarray([[[1.0, 2.0, 0.0], [-1.0, 0.0, 2.0]]])  # (H, W, C) = (1, 2, 3)

  def score(images):  # as the train step: the sum of D's logits over the batch
    return jnp.sum(jnp.sum(weights * images, axis=(1, 2, 3)))

  images = jax.random.normal(jax.random.key(0), (3, 1, 2, 3))
  gradients = jax.grad(score)(images)  # w for every example
  # sum(w^2) = 1 + 4 + 1 + 4 = 10 for each of the 3 examples; mean 10.
  np.testing.assert_allclose(losses.r1_penalty(gradients), 10.0, rtol=1e-6)


def test_r1_penalty_sums_per_example_and_averages_over_examples():
  gradients = jnp.asarray([[3.0, 4.0], [0.0, 0.0]]).reshape(2, 1, 1, 2)
  # Per example: 9 + 16 = 25 and 0; mean 12.5.
  np.testing.assert_allclose(losses.r1_penalty(gradients), 12.5, rtol=1e-6)


# hole_predictor_bce_dice


def test_hole_predictor_bce_dice_perfect_logits_give_near_zero_dice_and_bce():
  mask = jnp.asarray([[[1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]])[..., None]
  logits = 30.0 * (2 * mask - 1)
  loss, dice = losses.hole_predictor_bce_dice(logits, mask, dice_weight=1.0)
  np.testing.assert_allclose(dice, 0.0, atol=1e-6)
  np.testing.assert_allclose(loss, 0.0, atol=1e-6)


def test_hole_predictor_bce_dice_smoothed_dice_per_example_for_zero_logits():
  mask = jnp.asarray([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])[..., None]
  logits = jnp.zeros_like(mask)  # probabilities 0.5
  _, dice = losses.hole_predictor_bce_dice(logits, mask, dice_weight=1.0)
  # Example 1: overlap 0.5, total 4 * 0.5 + 1 = 3 -> 1 - (2 * 0.5 + 1) / (3 + 1) = 1/2.
  # Example 2: overlap 0, total 2 -> 1 - 1 / 3 = 2/3. Mean 7/12 (a pooled dice would be 2/3).
  np.testing.assert_allclose(dice, 7 / 12, rtol=1e-6)


def test_hole_predictor_bce_dice_loss_is_bce_plus_weighted_dice():
  mask = jnp.asarray([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])[..., None]
  logits = jnp.zeros_like(mask)
  loss, _ = losses.hole_predictor_bce_dice(logits, mask, dice_weight=3.0)
  # BCE of logit 0 is log 2 whatever the target; dice 7/12 as above.
  np.testing.assert_allclose(loss, LOG2 + 3.0 * 7 / 12, rtol=1e-6)


# original_discriminator


def test_original_discriminator_without_noise_is_bce_against_one_and_zero():
  real_logits = jnp.asarray([0.0, 2.0])
  fake_logits = jnp.asarray([1.0, -1.0])
  loss = losses.original_discriminator(real_logits, fake_logits, jax.random.key(0), 0.0)
  expected = (_softplus(-0.0) + _softplus(-2.0)) / 2 + (_softplus(1.0) + _softplus(-1.0)) / 2
  np.testing.assert_allclose(loss, expected, rtol=1e-6)


def _targets_behind(real_logit, fake_logit, noise):
  """The targets each of 1000 keys drew, read back from the loss.

  BCE(x, t) = softplus(x) - x * t, and BCE(0, t) = log 2 for any t; with one
  logit 2 and the other 0, loss = softplus(2) - 2 * t + log 2.
  """
  keys = jax.random.split(jax.random.key(1), 1000)
  loss = jax.vmap(lambda key: losses.original_discriminator(
      jnp.asarray([real_logit]), jnp.asarray([fake_logit]), key, noise))(keys)
  return (_softplus(2.0) + LOG2 - np.asarray(loss)) / 2


def test_original_discriminator_real_targets_lie_between_one_minus_noise_and_one():
  targets = _targets_behind(real_logit=2.0, fake_logit=0.0, noise=0.2)
  assert targets.min() >= 0.8 - 1e-5 and targets.max() <= 1.0 + 1e-5
  # Spread over the whole range (1000 uniform draws), not a constant.
  assert targets.min() < 0.81 and targets.max() > 0.99


def test_original_discriminator_fake_targets_lie_between_zero_and_noise():
  targets = _targets_behind(real_logit=0.0, fake_logit=2.0, noise=0.2)
  assert targets.min() >= -1e-5 and targets.max() <= 0.2 + 1e-5
  assert targets.min() < 0.01 and targets.max() > 0.19


# original_generator, original_hole_predictor


def test_original_generator_is_bce_against_one():
  fake_logits = jnp.asarray([0.0, 2.0, -1.0])
  expected = (_softplus(-0.0) + _softplus(-2.0) + _softplus(1.0)) / 3
  np.testing.assert_allclose(losses.original_generator(fake_logits), expected, rtol=1e-6)


def test_original_hole_predictor_is_bce_against_cell_targets():
  logits = jnp.asarray([0.0, 2.0, -1.0, 3.0])
  targets = jnp.asarray([1.0, 0.0, 0.0, 1.0])
  expected = (_softplus(-0.0) + _softplus(2.0) + _softplus(-1.0) + _softplus(-3.0)) / 4
  np.testing.assert_allclose(losses.original_hole_predictor(logits, targets), expected,
                             rtol=1e-6)


# train_step.cell_targets


def test_cell_targets_is_one_for_cells_more_than_half_hole():
  mask = _image([[1, 1, 0, 0],
                 [1, 0, 0, 0],
                 [1, 1, 0, 0],
                 [1, 1, 0, 1]])
  # Cells: 3/4 -> 1, 0/4 -> 0, 4/4 -> 1, 1/4 -> 0.
  np.testing.assert_array_equal(cell_targets(mask, 2), _image([[1, 0], [1, 0]]))


def test_cell_targets_is_zero_for_cells_exactly_half_hole():
  mask = _image([[1, 1, 1, 0],
                 [0, 0, 1, 0],
                 [1, 0, 0, 0],
                 [1, 0, 0, 0]])
  # Every cell has exactly 2 of 4 hole pixels.
  np.testing.assert_array_equal(cell_targets(mask, 2), _image([[0, 0], [0, 0]]))


# recipes


def test_ours_candidate_is_the_composite():
  output = jnp.full((1, 1, 2, 3), 0.5)
  known = jnp.full((1, 1, 2, 3), -1.0)
  mask = _image([[0.0, 1.0]])
  expected = [[[[-1.0, -1.0, -1.0], [0.5, 0.5, 0.5]]]]
  np.testing.assert_array_equal(_ours().candidate(output, known, mask), expected)


def test_original_candidate_is_the_raw_output():
  output = jnp.full((1, 1, 2, 3), 0.5)
  known = jnp.full((1, 1, 2, 3), -1.0)
  mask = _image([[0.0, 1.0]])
  np.testing.assert_array_equal(recipes.Original(label_noise=0.1).candidate(output, known, mask),
                                output)


def _discriminator_loss_case():
  """Zero logits: BCE is log 2 for any target, so the adversarial loss is 2 log 2."""
  logits = jnp.zeros((2, 1, 1, 1))
  mask = jnp.asarray([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])[..., None]
  return logits, logits, mask


def test_ours_discriminator_loss_adds_half_gamma_times_r1_when_gamma_is_set():
  real_logits, fake_logits, mask = _discriminator_loss_case()
  gradient = jnp.asarray([[3.0, 4.0], [0.0, 0.0]]).reshape(2, 1, 1, 2)  # R1 = (25 + 0) / 2
  loss, metrics = _ours(r1_gamma=4.0).discriminator_loss(
      real_logits, fake_logits, mask, jax.random.key(0), lambda: gradient)
  # 2 log 2 + 4 / 2 * 12.5.
  np.testing.assert_allclose(loss, 2 * LOG2 + 25.0, rtol=1e-6)
  np.testing.assert_allclose(metrics["discriminator/r1"], 12.5, rtol=1e-6)


def test_ours_discriminator_loss_without_gamma_never_computes_r1():
  real_logits, fake_logits, mask = _discriminator_loss_case()
  loss, metrics = _ours(r1_gamma=0.0).discriminator_loss(
      real_logits, fake_logits, mask, jax.random.key(0), _never_called)
  np.testing.assert_allclose(loss, 2 * LOG2, rtol=1e-6)
  assert "discriminator/r1" not in metrics


def test_filler_perceptual_loss_on_a_fraction_of_the_batch_uses_the_first_examples():
  images = jax.random.uniform(jax.random.key(0), (4, 16, 16, 3), minval=-1.0, maxval=1.0)
  mask = jnp.zeros((4, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
  batch = SignedBatch(image=images, filler_input=images, predictor_input=images, mask=mask)
  output = -images  # every example differs in its hole
  weights = dict(l1_hole=0.0, l1_known=0.0, perceptual=1.0)
  full_recipe, half_recipe = _ours(**weights), _ours(**weights, perceptual_fraction=0.5)
  candidate = full_recipe.candidate(output, images, mask)
  _, full = full_recipe.filler_loss(output, candidate, batch, _never_called, False)
  _, half = half_recipe.filler_loss(output, candidate, batch, _never_called, False)
  np.testing.assert_allclose(full["filler/perceptual"],
                             perceptual.vgg_feature_loss(candidate, images), rtol=1e-5)
  np.testing.assert_allclose(half["filler/perceptual"],
                             perceptual.vgg_feature_loss(candidate[:2], images[:2]), rtol=1e-5)
  assert float(half["filler/perceptual"]) != float(full["filler/perceptual"])


def test_filler_style_loss_is_the_gram_distance_of_the_composite_and_adds_to_the_loss():
  images = jax.random.uniform(jax.random.key(1), (2, 16, 16, 3), minval=-1.0, maxval=1.0)
  mask = jnp.zeros((2, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
  batch = SignedBatch(image=images, filler_input=images, predictor_input=images, mask=mask)
  recipe = _ours(l1_hole=0.0, l1_known=0.0, perceptual=0.0, style=0.5)
  candidate = recipe.candidate(-images, images, mask)
  loss, metrics = recipe.filler_loss(-images, candidate, batch, _never_called, False)
  expected = perceptual.gram_distance(perceptual.vgg_features(candidate),
                                      perceptual.vgg_features(images))
  np.testing.assert_allclose(metrics["filler/style"], expected, rtol=1e-5)
  np.testing.assert_allclose(loss, 0.5 * expected, rtol=1e-5)
  assert float(expected) > 0 and "filler/perceptual" not in metrics
  windowed = _ours(l1_hole=0.0, l1_known=0.0, perceptual=0.0, style=0.5, style_window=8)
  _, windowed_metrics = windowed.filler_loss(-images, candidate, batch, _never_called, False)
  np.testing.assert_allclose(
      windowed_metrics["filler/style"],
      perceptual.gram_distance(perceptual.vgg_features(candidate),
                               perceptual.vgg_features(images), window=8), rtol=1e-5)
  assert float(windowed_metrics["filler/style"]) > float(expected)


def test_filler_perceptual_loss_on_five_vgg_stages_adds_the_deep_ones_and_style_keeps_three():
  images = jax.random.uniform(jax.random.key(2), (2, 32, 32, 3), minval=-1.0, maxval=1.0)
  mask = jnp.zeros((2, 32, 32, 1)).at[:, 8:24, 8:24].set(1.0)
  batch = SignedBatch(image=images, filler_input=images, predictor_input=images, mask=mask)
  weights = dict(l1_hole=0.0, l1_known=0.0, perceptual=1.0, style=0.5)
  shallow, deep = _ours(**weights), _ours(**weights, perceptual_stages=5)
  candidate = shallow.candidate(-images, images, mask)
  _, shallow_metrics = shallow.filler_loss(-images, candidate, batch, _never_called, False)
  deep_loss, deep_metrics = deep.filler_loss(-images, candidate, batch, _never_called, False)
  candidate_features = perceptual.vgg_features(candidate, 5)
  image_features = perceptual.vgg_features(images, 5)
  deep_stages = perceptual.feature_distance(candidate_features[3:], image_features[3:])
  assert float(deep_stages) > 0
  np.testing.assert_allclose(deep_metrics["filler/perceptual"],
                             shallow_metrics["filler/perceptual"] + deep_stages, rtol=1e-5)
  np.testing.assert_allclose(deep_metrics["filler/style"], shallow_metrics["filler/style"],
                             rtol=1e-5)
  np.testing.assert_allclose(
      deep_loss, deep_metrics["filler/perceptual"] + 0.5 * deep_metrics["filler/style"],
      rtol=1e-5)


def _filler_case():
  """A 2x2 image with one hole pixel; output off by 2 in the hole, by 1 elsewhere."""
  image = jnp.zeros((1, 2, 2, 3))
  mask = _image([[1.0, 0.0], [0.0, 0.0]])
  output = image + 1.0 + mask  # 2 in the hole, 1 on the known pixels
  batch = SignedBatch(image=image, filler_input=image, predictor_input=image, mask=mask)
  return output, batch


def test_ours_filler_loss_without_adversarial_is_weighted_l1_and_never_asks_d():
  output, batch = _filler_case()
  recipe = _ours(l1_hole=10.0, l1_known=4.0)
  candidate = recipe.candidate(output, batch.image, batch.mask)
  loss, metrics = recipe.filler_loss(output, candidate, batch, _never_called, adversarial=False)
  # 12 values: hole 3 * 2 / 12 = 0.5, known 9 * 1 / 12 = 0.75; 10 * 0.5 + 4 * 0.75 = 8.
  np.testing.assert_allclose(metrics["filler/l1_hole"], 0.5, rtol=1e-6)
  np.testing.assert_allclose(metrics["filler/l1_known"], 0.75, rtol=1e-6)
  np.testing.assert_allclose(loss, 8.0, rtol=1e-6)


def test_ours_filler_loss_with_adversarial_adds_generator_and_feature_matching_on_candidate():
  output, batch = _filler_case()
  recipe = _ours(l1_hole=10.0, l1_known=4.0, adversarial=0.5, feature_matching=3.0)
  candidate = recipe.candidate(output, batch.image, batch.mask)

  def discriminate(images):  # one patch of logit 0; the only feature is the image itself
    return jnp.zeros((1, 1, 1, 1)), [images]

  loss, metrics = recipe.filler_loss(output, candidate, batch, discriminate, adversarial=True)
  # Adversarial: softplus(-0) = log 2 on the one (hole) patch. Feature matching of the
  # composite: only the hole pixel differs, by 2 in 3 channels -> 12 / 12 = 1
  # (of the raw output it would be (12 + 9) / 12).
  np.testing.assert_allclose(metrics["filler/adversarial"], LOG2, rtol=1e-6)
  np.testing.assert_allclose(metrics["filler/feature_matching"], 1.0, rtol=1e-6)
  np.testing.assert_allclose(loss, 8.0 + 0.5 * LOG2 + 3.0 * 1.0, rtol=1e-6)


@pytest.mark.parametrize("adversarial", [False, True])
def test_original_filler_loss_is_bce_of_d_on_candidate_whatever_adversarial_says(adversarial):
  output, batch = _filler_case()
  recipe = recipes.Original(label_noise=0.1)
  seen = []

  def discriminate(images):
    seen.append(images)
    return jnp.asarray([[2.0]]), []

  loss, _ = recipe.filler_loss(output, output, batch, discriminate, adversarial=adversarial)
  np.testing.assert_allclose(loss, _softplus(-2.0), rtol=1e-6)
  assert len(seen) == 1 and seen[0] is output


def test_original_discriminator_loss_ignores_r1():
  logits = jnp.asarray([0.0, 2.0])
  loss, _ = recipes.Original(label_noise=0.0).discriminator_loss(
      logits, -logits, jnp.ones((1, 2, 2, 1)), jax.random.key(0), _never_called)
  # Real [0, 2] against 1, fake [0, -2] against 0: both softplus(0) and softplus(-2).
  np.testing.assert_allclose(loss, LOG2 + _softplus(-2.0), rtol=1e-6)
