"""The compiled, data-parallel train step: hole predictor, discriminator, filler.

Per-device code runs under `jax.shard_map` over the 1-D 'data' mesh inside
`jax.jit`; gradients, losses and BatchNorm statistics are averaged over
devices with `lax.pmean` (BatchNorm also normalises with statistics over all
devices), so N devices compute what one device would on the same global batch.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax.sharding import PartitionSpec

from genfill_jax import losses, models, parallel
from genfill_jax.train_state import GanState, PlayerState

AXIS = parallel.DATA_AXIS
RECIPES = ("ours", "original")


def to_unit_range(image: jax.Array) -> jax.Array:
  """uint8 [0, 255] -> float32 [-1, 1], on the device."""
  return image.astype(jnp.float32) / 127.5 - 1


def _update(player: PlayerState, grads, batch_stats) -> PlayerState:
  grads = jax.lax.pmean(grads, AXIS)
  batch_stats = jax.lax.pmean(batch_stats, AXIS)
  return player.apply_gradients(grads=grads, batch_stats=batch_stats)


def _variables(player: PlayerState, params=None) -> dict:
  return {"params": player.params if params is None else params,
          "batch_stats": player.batch_stats}


def cell_targets(mask: jax.Array, cell_size: int) -> jax.Array:
  """The original's label: 1 for each cell that is mostly hole."""
  pooled = jax.lax.reduce_window(mask, 0.0, jax.lax.add, (1, cell_size, cell_size, 1),
                                 (1, cell_size, cell_size, 1), "VALID")
  return (pooled / cell_size**2 > 0.5).astype(jnp.float32)


def _hole_predictor_targets(config, mask):
  if config.hole_predictor.output_resolution == "full":
    return mask
  return cell_targets(mask, 2**config.hole_predictor.num_downscales)


def _hole_predictor_update(config, built, state, noisy, mask):
  targets = _hole_predictor_targets(config, mask)
  player = state.hole_predictor

  def loss_fn(params):
    logits, updates = built.hole_predictor.apply(
        _variables(player, params), noisy, train=True, mutable=["batch_stats"])
    if config.train.recipe == "original":
      loss = losses.original_hole_predictor(logits, targets)
      return loss, (updates, {"hole_predictor/bce": loss})
    loss, dice = losses.hole_predictor_bce_dice(logits, targets, config.loss.dice_weight)
    return loss, (updates, {"hole_predictor/loss": loss, "hole_predictor/dice": dice})

  (_, (updates, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(player.params)
  return _update(player, grads, updates["batch_stats"]), metrics


def _filler_condition(config, built, state, corrupted, mask):
  """The hole map given to the filler: the true mask, or the frozen predictor's output."""
  if config.train.filler_condition == "true_mask":
    return mask
  logits = built.hole_predictor.apply(_variables(state.hole_predictor), corrupted, train=False)
  return jax.lax.stop_gradient(jax.nn.sigmoid(logits))


def _fill(config, built, filler: PlayerState, params, corrupted, hole_map, image, mask):
  """Runs the filler (training mode); returns (raw output, candidate for D, BN updates)."""
  output, updates = built.filler.apply(_variables(filler, params), corrupted, hole_map,
                                       train=True, mutable=["batch_stats"])
  if config.train.recipe == "original":
    return output, output, updates
  return output, losses.composite(output, image, mask), updates


def _discriminate(built, discriminator: PlayerState, params, batch_stats, condition,
                  candidate, return_features=False):
  return built.discriminator.apply(
      {"params": params, "batch_stats": batch_stats}, condition, candidate, train=True,
      return_features=return_features, mutable=["batch_stats"])


def _discriminator_update(config, built, state, corrupted, image, mask, fake, rng):
  player = state.discriminator
  patches = losses.hole_patches(mask, 2**config.discriminator.num_downscales)
  fake = jax.lax.stop_gradient(fake)

  def loss_fn(params):
    real_logits, updates = _discriminate(built, player, params, player.batch_stats,
                                         corrupted, image)
    fake_logits, updates = _discriminate(built, player, params, updates["batch_stats"],
                                         corrupted, fake)
    if config.train.recipe == "original":
      loss = losses.original_discriminator(real_logits, fake_logits, rng,
                                           config.loss.label_noise)
      return loss, (updates, {"discriminator/loss": loss})
    adversarial = losses.discriminator_nonsaturating(real_logits, fake_logits, patches)
    metrics = {"discriminator/adversarial": adversarial,
               "discriminator/real_logit": jnp.mean(real_logits)}
    loss = adversarial
    if config.loss.r1_gamma:
      def real_score(real_images):
        logits, _ = _discriminate(built, player, params, player.batch_stats, corrupted,
                                  real_images)
        return jnp.sum(logits)
      penalty = losses.r1_penalty(jax.grad(real_score)(image))
      loss = loss + config.loss.r1_gamma / 2 * penalty
      metrics["discriminator/r1"] = penalty
    metrics["discriminator/loss"] = loss
    return loss, (updates, metrics)

  (_, (updates, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(player.params)
  return _update(player, grads, updates["batch_stats"]), metrics


def _filler_forward(config, built, filler: PlayerState, corrupted, hole_map, image, mask):
  """The filler's one forward pass of a step, with its VJP for the update later.

  Returns ((raw output, candidate for D), vjp_fn, BatchNorm updates). The
  discriminator's update uses the candidate and the filler's gradients are
  pulled back through the same pass, so the filler runs forward once per step.
  """
  def forward(params):
    output, candidate, updates = _fill(config, built, filler, params, corrupted, hole_map,
                                       image, mask)
    return (output, candidate), updates

  return jax.vjp(forward, filler.params, has_aux=True)


def _filler_update(config, built, state, outputs, filler_vjp, bn_updates, corrupted, image,
                   mask, adversarial):
  """Updates the filler from the loss of its outputs, pulled back through `filler_vjp`."""
  critic = state.discriminator
  patches = losses.hole_patches(mask, 2**config.discriminator.num_downscales)
  weights = config.loss

  def loss_fn(outputs):
    output, candidate = outputs
    metrics = {}
    if config.train.recipe == "original":
      fake_logits, _ = _discriminate(built, critic, critic.params, critic.batch_stats,
                                     corrupted, candidate)
      loss = losses.original_generator(fake_logits)
      return loss, {"filler/loss": loss}
    hole_l1, known_l1 = losses.l1_in_holes_and_known(output, image, mask)
    loss = weights.l1_hole * hole_l1 + weights.l1_known * known_l1
    metrics.update({"filler/l1_hole": hole_l1, "filler/l1_known": known_l1})
    if adversarial:
      (fake_logits, fake_features), _ = _discriminate(
          built, critic, critic.params, critic.batch_stats, corrupted, candidate, True)
      (_, real_features), _ = _discriminate(
          built, critic, critic.params, critic.batch_stats, corrupted, image, True)
      adversarial_loss = losses.generator_nonsaturating(fake_logits, patches)
      matching = losses.feature_matching(real_features, fake_features)
      loss = loss + weights.adversarial * adversarial_loss + weights.feature_matching * matching
      metrics.update({"filler/adversarial": adversarial_loss,
                      "filler/feature_matching": matching})
    metrics["filler/loss"] = loss
    return loss, metrics

  (_, metrics), output_grads = jax.value_and_grad(loss_fn, has_aux=True)(outputs)
  (grads,) = filler_vjp(output_grads)
  return _update(state.filler, grads, bn_updates["batch_stats"]), metrics


def _per_device_step(config, phase, state: GanState, batch) -> tuple[GanState, dict]:
  built = models.create_models(config, batch_norm_axis_name=AXIS)
  rng = jax.random.fold_in(jax.random.fold_in(state.rng, state.step),
                           jax.lax.axis_index(AXIS))
  image = to_unit_range(batch["image"])
  corrupted = to_unit_range(batch["corrupted"])
  noisy = to_unit_range(batch["noisy"])
  mask = batch["mask"].astype(jnp.float32)
  metrics: dict[str, Any] = {}
  new = {}
  if phase["hole_predictor"]:
    new["hole_predictor"], player_metrics = _hole_predictor_update(config, built, state,
                                                                   noisy, mask)
    metrics.update(player_metrics)
  if phase["gan"]:
    hole_map = _filler_condition(config, built, state, corrupted, mask)
    outputs, filler_vjp, bn_updates = _filler_forward(config, built, state.filler, corrupted,
                                                      hole_map, image, mask)
    if phase["adversarial"]:
      new["discriminator"], player_metrics = _discriminator_update(
          config, built, state, corrupted, image, mask, outputs[1], rng)
      metrics.update(player_metrics)
      state = state.replace(discriminator=new["discriminator"])
    new["filler"], player_metrics = _filler_update(
        config, built, state, outputs, filler_vjp, bn_updates, corrupted, image, mask,
        phase["adversarial"])
    metrics.update(player_metrics)
    decay = config.train.ema_decay
    new["filler_ema_params"] = optax.incremental_update(
        new["filler"].params, state.filler_ema_params, step_size=1 - decay)
  metrics = jax.lax.pmean(metrics, AXIS)
  return state.replace(step=state.step + 1, **new), metrics


def phase_at(config: ml_collections.ConfigDict, step: int) -> dict[str, bool]:
  """Which players train at `step` (a static choice: one compiled step per phase)."""
  train = config.train
  gan = step >= train.gan_start_step
  return {
      "hole_predictor": step < train.hole_predictor_steps,
      "gan": gan,
      "adversarial": gan and step >= train.adversarial_start_step,
  }


def make_train_step(config: ml_collections.ConfigDict, mesh, phase: dict[str, bool]):
  """jit(shard_map(per-device step)): (state, sharded batch) -> (state, metrics).

  The state is replicated and donated; the batch is split over the 'data' axis.
  """
  frozen_phase = dict(phase)
  per_device = functools.partial(_per_device_step, config, frozen_phase)
  mapped = jax.shard_map(
      per_device, mesh=mesh,
      in_specs=(PartitionSpec(), PartitionSpec(AXIS)),
      out_specs=(PartitionSpec(), PartitionSpec()),
  )
  return jax.jit(mapped, donate_argnums=0)
