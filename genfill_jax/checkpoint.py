"""Orbax checkpoints of the whole game in <workdir>/checkpoints."""

import logging

import jax
import orbax.checkpoint as ocp
from etils import epath

from genfill_jax import paths
from genfill_jax.gan_state import GanState


def checkpoint_dir(workdir: str) -> epath.Path:
  """<workdir>/checkpoints, absolute (Orbax needs that), local or in a bucket."""
  return paths.absolute(workdir) / "checkpoints"


# Orbax splits each replicated array among its replicas so that every host writes
# a part ("replica-parallel" saving). For arrays as small as ours that means
# hundreds of tiny writes and, on the first save, one compiled slice program per
# array shape and replica (most of a tiny run's first save). Only slices of at least
# this size are worth it.
MIN_BYTES_PER_REPLICA_SLICE = 1 << 20


def _save_small_arrays_from_one_replica() -> None:
  # Orbax's handler registry is global: every later save in this process uses it.
  handler = ocp.type_handlers.ArrayHandler(
      min_slice_bytes_for_replica_parallel=MIN_BYTES_PER_REPLICA_SLICE)
  ocp.type_handlers.register_type_handler(jax.Array, handler, override=True)


def create_manager(workdir: str, keep: int, read_only: bool = False) -> ocp.CheckpointManager:
  """A CheckpointManager keeping the last `keep` steps (async saves, all hosts together)."""
  _save_small_arrays_from_one_replica()
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                         read_only=read_only)
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options)


def save(manager: ocp.CheckpointManager, state: GanState) -> None:
  """Saves `state` under its step (asynchronously; call wait_until_finished before exit)."""
  step = int(state.step)
  manager.save(step, args=ocp.args.StandardSave(state), force=True)
  logging.info("checkpoint saved at step %d", step)


def restore(manager: ocp.CheckpointManager, abstract_state: GanState,
            step: int | None = None) -> GanState:
  """Restores `step` (default the latest) onto the shardings of `abstract_state`."""
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"no checkpoint in {manager.directory}")
  if step not in manager.all_steps():
    raise FileNotFoundError(f"no checkpoint for step {step} in {manager.directory}; "
                            f"available: {sorted(manager.all_steps())}")
  logging.info("restoring checkpoint of step %d from %s", step, manager.directory)
  return manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
