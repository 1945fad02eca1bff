"""The compiled, data-parallel train step: hole predictor, discriminator, filler.

Per-device code runs under `jax.shard_map` over the 1-D 'data' mesh inside
`jax.jit`; gradients, losses and BatchNorm statistics are averaged over
devices with `lax.pmean` (BatchNorm also normalises with statistics over all
devices), so N devices compute what one device would on the same global batch.
What each player minimises is the recipe's (`recipes.py`); this module only
runs the networks, splits the gradients and applies the updates.
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import ml_collections
import optax
from jax.sharding import PartitionSpec

from genfill_jax import discriminator_augment, models, parallel, pixels, recipes
from genfill_jax.data import loader
from genfill_jax.gan_state import GanState, PlayerState
from genfill_jax.pixels import SignedBatch

AXIS = parallel.DATA_AXIS


class Phase(NamedTuple):
  """Which players train at a step. Static: one compiled program per phase."""

  hole_predictor: bool
  filler: bool
  adversarial: bool  # the discriminator trains and the filler learns from it


ALL_PLAYERS = Phase(hole_predictor=True, filler=True, adversarial=True)


def phase_at(config: ml_collections.ConfigDict, step: int) -> Phase:
  """The phase of global step `step` (0-based) under config.train's schedule.

  A multi-scale large step trains the hole predictor only when
  config.data.large_crops_train_hole_predictor says so.
  """
  train, data = config.train, config.data
  filler = step >= train.filler_start_step
  predictor_skips = (not data.large_crops_train_hole_predictor
                     and loader.is_large_step(data, step))
  return Phase(hole_predictor=step < train.hole_predictor_end_step and not predictor_skips,
               filler=filler,
               adversarial=filler and step >= train.adversarial_start_step)


class _Setup(NamedTuple):
  """What every part of a step reads: the config, its recipe, its networks."""

  config: ml_collections.ConfigDict
  recipe: recipes.Recipe
  networks: models.Models


class FillerPass(NamedTuple):
  """The filler's one forward pass of a step.

  The discriminator learns from `candidate`; the filler's loss is then taken
  of (output, candidate) and `pullback` turns its gradient into the params'
  gradient, so the filler runs forward once per step, not twice. (XLA merges
  the two passes of a plain value_and_grad when the filler has no BatchNorm,
  but not with it: the seed config's step then costs 9.5% more FLOPs.)
  """

  output: jax.Array  # the network's raw output in [-1, 1]
  candidate: jax.Array  # what the discriminator judges (the recipe's)
  batch_stats: Any  # the filler's BatchNorm statistics after this pass
  pullback: Callable  # cotangent of (output, candidate) -> (cotangent of the params,)


def _variables(player: PlayerState, params=None) -> dict:
  return {"params": player.params if params is None else params,
          "batch_stats": player.batch_stats}


def _apply_update(player: PlayerState, grads, batch_stats) -> PlayerState:
  grads = jax.lax.pmean(grads, AXIS)
  batch_stats = jax.lax.pmean(batch_stats, AXIS)
  return player.apply_gradients(grads=grads, batch_stats=batch_stats)


def cell_targets(mask: jax.Array, cell_size: int) -> jax.Array:
  """The original's label: 1 for each cell that is mostly hole."""
  pooled = jax.lax.reduce_window(mask, 0.0, jax.lax.add, (1, cell_size, cell_size, 1),
                                 (1, cell_size, cell_size, 1), "VALID")
  return (pooled / cell_size**2 > 0.5).astype(mask.dtype)


def _hole_predictor_targets(config, mask):
  if config.hole_predictor.output_resolution == "full":
    return mask
  return cell_targets(mask, 2**config.hole_predictor.num_downscales)


def _hole_predictor_update(setup: _Setup, state: GanState, batch: SignedBatch):
  targets = _hole_predictor_targets(setup.config, batch.mask)
  predictor = state.hole_predictor

  def loss_fn(params):
    logits, updates = setup.networks.hole_predictor.apply(
        _variables(predictor, params), batch.predictor_input, train=True,
        mutable=["batch_stats"])
    loss, metrics = setup.recipe.hole_predictor_loss(logits, targets)
    return loss, (updates["batch_stats"], metrics)

  (_, (batch_stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      predictor.params)
  return _apply_update(predictor, grads, batch_stats), metrics


def _filler_hole_map(setup: _Setup, state: GanState, batch: SignedBatch) -> jax.Array:
  """The hole map given to the filler: the true mask, or the frozen predictor's output."""
  if setup.config.train.filler_condition == "true_mask":
    return batch.mask
  logits = setup.networks.hole_predictor.apply(_variables(state.hole_predictor),
                                               batch.filler_input, train=False)
  return jax.lax.stop_gradient(jax.nn.sigmoid(logits))


def _filler_forward(setup: _Setup, filler: PlayerState, batch: SignedBatch,
                    hole_map: jax.Array) -> FillerPass:
  def forward(params):
    output, updates = setup.networks.filler.apply(
        _variables(filler, params), batch.filler_input, hole_map, train=True,
        mutable=["batch_stats"])
    candidate = setup.recipe.candidate(output, batch.image, batch.mask)
    return (output, candidate), updates["batch_stats"]

  (output, candidate), pullback, batch_stats = jax.vjp(forward, filler.params, has_aux=True)
  return FillerPass(output, candidate, batch_stats, pullback)


def _discriminator_logits(setup: _Setup, params, batch_stats, condition, candidate):
  """D in training mode; returns ((logits, features), BatchNorm updates)."""
  return setup.networks.discriminator.apply(
      {"params": params, "batch_stats": batch_stats}, condition, candidate, train=True,
      return_features=True, mutable=["batch_stats"])


class _DiscriminatorView(NamedTuple):
  """This step's batch as the discriminator sees it (discriminator_augment)."""

  condition: jax.Array
  real: jax.Array
  mask: jax.Array  # labels D's patches: shifted with the images
  candidate: Callable[[jax.Array], jax.Array]  # a candidate, seen the same way


def _discriminator_view(batch: SignedBatch,
                        augmentation: discriminator_augment.Augmentation | None
                        ) -> _DiscriminatorView:
  if augmentation is None:
    return _DiscriminatorView(batch.filler_input, batch.image, batch.mask, lambda x: x)
  look = functools.partial(discriminator_augment.view, augmentation)
  return _DiscriminatorView(look(batch.filler_input), look(batch.image),
                            discriminator_augment.move(augmentation, batch.mask), look)


def _discriminator_update(setup: _Setup, state: GanState, seen: _DiscriminatorView,
                          fake: jax.Array, rng: jax.Array):
  discriminator = state.discriminator
  fake = seen.candidate(jax.lax.stop_gradient(fake))

  def loss_fn(params):
    judge = functools.partial(_discriminator_logits, setup, params)
    (real_logits, _), updates = judge(discriminator.batch_stats, seen.condition, seen.real)
    (fake_logits, _), updates = judge(updates["batch_stats"], seen.condition, fake)

    def real_input_gradient():
      def real_score(real_images):
        (logits, _), _ = judge(discriminator.batch_stats, seen.condition, real_images)
        return logits.sum()
      return jax.grad(real_score)(seen.real)

    loss, metrics = setup.recipe.discriminator_loss(real_logits, fake_logits, seen.mask,
                                                    rng, real_input_gradient)
    return loss, (updates["batch_stats"], metrics)

  (_, (batch_stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      discriminator.params)
  return _apply_update(discriminator, grads, batch_stats), metrics


def _filler_update(setup: _Setup, state: GanState, batch: SignedBatch,
                   seen: _DiscriminatorView, filler_pass: FillerPass, adversarial: bool):
  """Updates the filler from its loss, pulled back through the step's one forward pass."""
  discriminator = state.discriminator

  def discriminate(candidate):
    outputs, _ = _discriminator_logits(setup, discriminator.params,
                                       discriminator.batch_stats, seen.condition,
                                       seen.candidate(candidate))
    return outputs

  def loss_fn(outputs):
    output, candidate = outputs
    return setup.recipe.filler_loss(output, candidate, batch, discriminate, adversarial,
                                    discriminator_mask=seen.mask)

  (_, metrics), output_grads = jax.value_and_grad(loss_fn, has_aux=True)(
      (filler_pass.output, filler_pass.candidate))
  (grads,) = filler_pass.pullback(output_grads)
  return _apply_update(state.filler, grads, filler_pass.batch_stats), metrics


def _discriminator_augmentation(config: ml_collections.ConfigDict, batch: SignedBatch,
                                rng: jax.Array) -> discriminator_augment.Augmentation | None:
  """This step's draw (one per example, the same for both players), or None when off."""
  kinds = tuple(config.train.discriminator_augmentation)
  if not kinds:
    return None
  batch_size, image_size = batch.mask.shape[:2]
  return discriminator_augment.sample(jax.random.fold_in(rng, 1), batch_size, image_size,
                                      kinds)


def _per_device_step(config: ml_collections.ConfigDict, phase: Phase, state: GanState,
                     batch: dict) -> tuple[GanState, dict]:
  setup = _Setup(config, recipes.for_config(config),
                 models.create_models(config, batch_norm_axis_name=AXIS))
  rng = jax.random.fold_in(jax.random.fold_in(state.rng, state.step),
                           jax.lax.axis_index(AXIS))
  batch = pixels.to_signed_batch(batch)
  metrics: dict[str, Any] = {}
  updated: dict[str, Any] = {}  # new players; `state` keeps the old ones until the end
  if phase.hole_predictor:
    updated["hole_predictor"], player_metrics = _hole_predictor_update(setup, state, batch)
    metrics.update(player_metrics)
  if phase.filler:
    # With filler_condition='predicted', the hole map comes from the predictor as it
    # was before this step's update.
    hole_map = _filler_hole_map(setup, state, batch)
    filler_pass = _filler_forward(setup, state.filler, batch, hole_map)
    # Only the adversarial phase shows the discriminator anything.
    augmentation = (_discriminator_augmentation(config, batch, rng) if phase.adversarial
                    else None)
    seen = _discriminator_view(batch, augmentation)
    if phase.adversarial:
      discriminator, player_metrics = _discriminator_update(setup, state, seen,
                                                            filler_pass.candidate, rng)
      metrics.update(player_metrics)
      updated["discriminator"] = discriminator
      state = state.replace(discriminator=discriminator)
    filler, player_metrics = _filler_update(setup, state, batch, seen, filler_pass,
                                            phase.adversarial)
    metrics.update(player_metrics)
    updated["filler"] = filler
    updated["filler_ema_params"] = optax.incremental_update(
        filler.params, state.filler_ema_params, step_size=1 - config.train.ema_decay)
  metrics = jax.lax.pmean(metrics, AXIS)
  return state.replace(step=state.step + 1, **updated), metrics


def make_train_step(config: ml_collections.ConfigDict, mesh, phase: Phase):
  """jit(shard_map(per-device step)): (state, sharded batch) -> (state, metrics).

  The state is replicated and donated; the batch is split over the 'data' axis.
  """
  per_device = functools.partial(_per_device_step, config, phase)
  mapped = jax.shard_map(
      per_device, mesh=mesh,
      in_specs=(PartitionSpec(), PartitionSpec(AXIS)),
      out_specs=(PartitionSpec(), PartitionSpec()),
  )
  return jax.jit(mapped, donate_argnums=0)
