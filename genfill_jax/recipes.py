"""The two training recipes: what each player minimises, and what D judges.

`for_config(config)` picks the recipe once; the train step and the evaluation
call its methods and never ask which recipe they run.

- `Original`: genFill's recipe. Plain BCE adversarial losses (the
  discriminator's targets softened by label noise), the discriminator judges
  the filler's raw output, the hole predictor learns the cell grid with BCE.
- `Ours`: L1 in the holes and on the known pixels, a mask-aware non-saturating
  adversarial loss and feature matching on composites, R1 on real inputs;
  BCE + soft dice for the hole predictor.

Losses return (loss, metrics); the metric names are the TensorBoard scalars.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from genfill_jax import losses, perceptual
from genfill_jax.pixels import SignedBatch

# The discriminator conditioned on this batch's filler input, its parameters
# fixed: candidate -> (patch logits, features of every block). With
# train.discriminator_augmentation it judges an augmented view of both.
Discriminate = Callable[[jax.Array], tuple[jax.Array, list[jax.Array]]]
# Hole probabilities (N, H, W, 1) of the hole predictor for images in [-1, 1].
PredictHoles = Callable[[jax.Array], jax.Array]
# The binary hole mask (N, H, W, 1) inference uses: thresholded (and dilated) probabilities.
FindHoles = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Original:
  """genFill's recipe (configs/seed.py)."""

  label_noise: float  # D's targets: 1 - label_noise * U(0, 1) and label_noise * U(0, 1)

  def candidate(self, output: jax.Array, known: jax.Array, mask: jax.Array) -> jax.Array:
    """What the discriminator judges and inference returns: the raw output."""
    del known, mask
    return output

  def hole_predictor_loss(self, logits: jax.Array, targets: jax.Array):
    loss = losses.original_hole_predictor(logits, targets)
    return loss, {"hole_predictor/bce": loss}

  def discriminator_loss(self, real_logits: jax.Array, fake_logits: jax.Array,
                         mask: jax.Array, rng: jax.Array,
                         real_input_gradient: Callable[[], jax.Array]):
    del mask, real_input_gradient
    loss = losses.original_discriminator(real_logits, fake_logits, rng, self.label_noise)
    return loss, {"discriminator/loss": loss}

  def filler_loss(self, output: jax.Array, candidate: jax.Array, batch: SignedBatch,
                  discriminate: Discriminate, adversarial: bool,
                  discriminator_mask: jax.Array | None = None):
    """BCE of D(output) against 'real'; the original has no reconstruction warm-up,
    so the filler learns from D whatever `adversarial` says."""
    del output, batch, adversarial, discriminator_mask
    fake_logits, _ = discriminate(candidate)
    loss = losses.original_generator(fake_logits)
    return loss, {"filler/loss": loss}

  def blind_inputs(self, batch: SignedBatch, predict_holes: PredictHoles,
                   find_holes: FindHoles):
    """The filler's (input, hole map, known pixels) when the mask is not given:
    the predictor's probabilities on the filler's own input condition it."""
    del find_holes
    return batch.filler_input, predict_holes(batch.filler_input), batch.filler_input


@dataclasses.dataclass(frozen=True)
class Ours:
  """Our recipe (configs/default.py); the weights are config.loss's."""

  l1_hole: float
  l1_known: float
  adversarial: float
  feature_matching: float
  r1_gamma: float
  dice_weight: float
  patch_size: int  # the discriminator's patch: 2^num_downscales pixels
  perceptual: float = 0.0  # VGG16 feature loss of the composite (0: off)
  # The share of each device's batch the VGG16 loss is taken on (the first
  # examples: the batch is shuffled); 1 = all of it.
  perceptual_fraction: float = 1.0
  # VGG16 stages the perceptual loss compares (3: relu1_2..relu3_3; 5: to relu5_3).
  perceptual_stages: int = 3
  style: float = 0.0  # Gram (texture statistics) loss on the same VGG16 features (0: off)
  style_window: int = 0  # px: one Gram matrix per tile of this side (0: the whole image)

  def candidate(self, output: jax.Array, known: jax.Array, mask: jax.Array) -> jax.Array:
    """What the discriminator judges and inference returns: the output in the holes
    pasted onto the known pixels."""
    return losses.composite(output, known, mask)

  def hole_predictor_loss(self, logits: jax.Array, targets: jax.Array):
    loss, dice = losses.hole_predictor_bce_dice(logits, targets, self.dice_weight)
    return loss, {"hole_predictor/loss": loss, "hole_predictor/dice": dice}

  def discriminator_loss(self, real_logits: jax.Array, fake_logits: jax.Array,
                         mask: jax.Array, rng: jax.Array,
                         real_input_gradient: Callable[[], jax.Array]):
    """Mask-aware non-saturating loss, plus gamma / 2 * R1 when r1_gamma is set."""
    del rng
    patches = losses.hole_patches(mask, self.patch_size)
    adversarial = losses.discriminator_nonsaturating(real_logits, fake_logits, patches)
    metrics = {"discriminator/adversarial": adversarial,
               "discriminator/real_logit": jnp.mean(real_logits)}
    loss = adversarial
    if self.r1_gamma:
      penalty = losses.r1_penalty(real_input_gradient())
      loss = loss + self.r1_gamma / 2 * penalty
      metrics["discriminator/r1"] = penalty
    metrics["discriminator/loss"] = loss
    return loss, metrics

  def filler_loss(self, output: jax.Array, candidate: jax.Array, batch: SignedBatch,
                  discriminate: Discriminate, adversarial: bool,
                  discriminator_mask: jax.Array | None = None):
    """Weighted L1 in holes and on known pixels, the VGG feature loss of the
    composite; with `adversarial`, the adversarial loss on the painted patches and
    feature matching too. `discriminator_mask` is the hole mask as `discriminate`
    sees the images (shifted by discriminator_augment; default batch.mask): it
    says which of D's patches were painted."""
    hole_l1, known_l1 = losses.l1_in_holes_and_known(output, batch.image, batch.mask)
    loss = self.l1_hole * hole_l1 + self.l1_known * known_l1
    metrics = {"filler/l1_hole": hole_l1, "filler/l1_known": known_l1}
    if self.perceptual or self.style:
      count = max(1, round(candidate.shape[0] * self.perceptual_fraction))
      stages = self.perceptual_stages if self.perceptual else 0
      if self.style:
        stages = max(stages, perceptual.STYLE_STAGES)
      candidate_features = perceptual.vgg_features(candidate[:count], stages)
      image_features = perceptual.vgg_features(batch.image[:count], stages)
      if self.perceptual:
        feature_loss = perceptual.feature_distance(
            candidate_features[:self.perceptual_stages],
            image_features[:self.perceptual_stages])
        loss = loss + self.perceptual * feature_loss
        metrics["filler/perceptual"] = feature_loss
      if self.style:
        style_loss = perceptual.gram_distance(
            candidate_features[:perceptual.STYLE_STAGES],
            image_features[:perceptual.STYLE_STAGES], self.style_window)
        loss = loss + self.style * style_loss
        metrics["filler/style"] = style_loss
    if adversarial:
      fake_logits, fake_features = discriminate(candidate)
      _, real_features = discriminate(batch.image)
      seen_mask = batch.mask if discriminator_mask is None else discriminator_mask
      patches = losses.hole_patches(seen_mask, self.patch_size)
      adversarial_loss = losses.generator_nonsaturating(fake_logits, patches)
      matching = losses.feature_matching(real_features, fake_features)
      loss = loss + self.adversarial * adversarial_loss + self.feature_matching * matching
      metrics.update({"filler/adversarial": adversarial_loss,
                      "filler/feature_matching": matching})
    metrics["filler/loss"] = loss
    return loss, metrics

  def blind_inputs(self, batch: SignedBatch, predict_holes: PredictHoles,
                   find_holes: FindHoles):
    """The filler's (input, hole map, known pixels) when the mask is not given: the
    pixels found in the predictor's own input are treated as holes."""
    del predict_holes
    found = find_holes(batch.predictor_input)
    return batch.predictor_input * (1 - found), found, batch.predictor_input


Recipe = Original | Ours


def _original(config: ml_collections.ConfigDict) -> Original:
  return Original(label_noise=config.loss.label_noise)


def _ours(config: ml_collections.ConfigDict) -> Ours:
  weights = config.loss
  return Ours(l1_hole=weights.l1_hole, l1_known=weights.l1_known,
              adversarial=weights.adversarial, feature_matching=weights.feature_matching,
              r1_gamma=weights.r1_gamma, dice_weight=weights.dice_weight,
              patch_size=2**config.discriminator.num_downscales,
              perceptual=weights.perceptual,
              perceptual_fraction=weights.perceptual_fraction,
              perceptual_stages=weights.perceptual_stages, style=weights.style,
              style_window=weights.style_window)


_BUILDERS = {"ours": _ours, "original": _original}
RECIPES = tuple(_BUILDERS)  # the choices of config.train.recipe


def for_config(config: ml_collections.ConfigDict) -> Recipe:
  """The recipe named by config.train.recipe, with its weights."""
  return _BUILDERS[config.train.recipe](config)
