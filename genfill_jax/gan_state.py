"""The whole game as one pytree: three players, the filler's EMA, step and PRNG key."""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax.training import train_state as flax_train_state

from genfill_jax import models, parallel


class PlayerState(flax_train_state.TrainState):
  """One network: params, optimizer state and BatchNorm statistics."""

  batch_stats: Any = None


@flax.struct.dataclass
class GanState:
  """Everything a checkpoint holds. `step` counts completed steps."""

  step: jax.Array
  rng: jax.Array  # raw uint32 key data, folded with the step inside the train step
  hole_predictor: PlayerState
  filler: PlayerState
  discriminator: PlayerState
  filler_ema_params: Any  # exponential moving average of the filler's params


SCHEDULES = ("constant", "cosine", "stepwise")  # the choices of config.optim.*.schedule


def learning_rate_schedule(optim: ml_collections.ConfigDict) -> optax.Schedule:
  """optax schedule of one player: 'constant', 'cosine' (both after a linear warm-up)
  or 'stepwise' (the original: multiply by decay_rate every decay_steps)."""
  if optim.schedule == "stepwise":
    return optax.exponential_decay(optim.learning_rate, transition_steps=optim.decay_steps,
                                   decay_rate=optim.decay_rate, staircase=True)
  warmup = optax.linear_schedule(0.0, optim.learning_rate, max(optim.warmup_steps, 1))
  if optim.schedule == "constant":
    after = optax.constant_schedule(optim.learning_rate)
  else:  # 'cosine'
    after = optax.cosine_decay_schedule(optim.learning_rate, max(optim.decay_steps, 1),
                                        alpha=optim.final_fraction)
  return optax.join_schedules([warmup, after], [optim.warmup_steps])


def optimizer(optim: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam with the player's schedule, after global-norm gradient clipping (if set)."""
  adam = optax.adam(learning_rate_schedule(optim), b1=optim.b1, b2=optim.b2)
  if optim.clip_norm:
    return optax.chain(optax.clip_by_global_norm(optim.clip_norm), adam)
  return adam


def _player(model, optim, rng, inputs) -> PlayerState:
  variables = model.init(rng, *inputs)
  return PlayerState.create(apply_fn=model.apply, params=variables["params"],
                            tx=optimizer(optim), batch_stats=variables.get("batch_stats", {}))


def create_gan_state(config: ml_collections.ConfigDict) -> GanState:
  """A freshly initialised game (call under jit, or through `init_gan_state`)."""
  networks = models.create_models(config)
  size = config.data.image_size
  rng = jax.random.PRNGKey(config.seed)
  predictor_rng, filler_rng, discriminator_rng, step_rng = jax.random.split(rng, 4)
  filler = _player(networks.filler, config.optim.filler, filler_rng,
                   models.example_inputs(networks.filler, size))
  return GanState(
      step=jnp.zeros((), jnp.int32),
      rng=step_rng,
      hole_predictor=_player(networks.hole_predictor, config.optim.hole_predictor, predictor_rng,
                             models.example_inputs(networks.hole_predictor, size)),
      filler=filler,
      discriminator=_player(networks.discriminator, config.optim.discriminator,
                            discriminator_rng,
                            models.example_inputs(networks.discriminator, size)),
      filler_ema_params=filler.params,
  )


def init_gan_state(config: ml_collections.ConfigDict, mesh) -> GanState:
  """A new game, initialised on the devices, replicated over the mesh."""
  return jax.jit(lambda: create_gan_state(config),
                 out_shardings=parallel.replicated(mesh))()


def abstract_gan_state(config: ml_collections.ConfigDict, mesh) -> GanState:
  """Shapes, dtypes and shardings of the game, for restoring checkpoints."""
  shapes = jax.eval_shape(lambda: create_gan_state(config))
  sharding = parallel.replicated(mesh)
  return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                                        sharding=sharding), shapes)
