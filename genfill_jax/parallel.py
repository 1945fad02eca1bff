"""Devices: the 1-D data mesh, shardings, multi-host start-up, batch placement."""

import logging
import os
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def maybe_initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """Starts JAX's multi-host runtime when there are several processes.

  On a Cloud TPU pod (or a cluster JAX detects) the environment says so and
  `jax.distributed.initialize()` finds everything itself; elsewhere explicit
  `config.distributed` settings (coordinator address, process count and id)
  are used. One machine with neither does nothing.
  """
  settings = config.distributed
  if settings.coordinator_address:
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
    )
  elif _pod_environment():
    jax.distributed.initialize()
  else:
    return
  logging.info("process %d of %d, %d local / %d global devices", jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())


def _pod_environment() -> bool:
  # Multi-host Cloud TPU VMs name their workers; SLURM and Open MPI name tasks.
  hostnames = os.environ.get("TPU_WORKER_HOSTNAMES", "")
  return ("," in hostnames or int(os.environ.get("SLURM_NTASKS", "1")) > 1
          or int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1")) > 1)


def create_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh over all (or the given) devices, axis 'data'."""
  devices = list(jax.devices() if devices is None else devices)
  return Mesh(np.array(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def shard_batch(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """This host's part of a global batch -> global arrays split over the data axis."""
  sharding = batch_sharded(mesh)
  return {name: jax.make_array_from_process_local_data(sharding, value)
          for name, value in batch.items()}
