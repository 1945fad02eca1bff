"""Devices: the 1-D data mesh, shardings, multi-host start-up, batch placement."""

import logging
import queue
import threading
from collections.abc import Iterator, Sequence

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from genfill_jax import errors

DATA_AXIS = "data"


def maybe_initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """Starts JAX's multi-host runtime when this process is one of several.

  Explicit `config.distributed` settings (coordinator address, process count
  and id) win; otherwise JAX's own cluster detection decides (Cloud TPU VM
  metadata, GKE, SLURM, Open MPI, Kubernetes), so a pod started with
  `gcloud ... ssh --worker=all` needs no flags. A single process does nothing.
  Call it before anything touches a JAX backend.
  """
  settings = config.distributed
  if settings.coordinator_address:
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
    )
    return
  cluster = multi_process_cluster()
  if cluster is not None:
    logging.info("multi-process %s environment detected", cluster.__name__)
    jax.distributed.initialize()


def multi_process_cluster() -> type | None:
  """The cluster environment JAX detects here when it has several processes, else None.

  The same detection as `jax.distributed.initialize()` without arguments, so
  that we start the runtime exactly when JAX can: a one-process cluster (a
  single-host TPU VM, a one-task SLURM job) needs none.
  """
  # JAX keeps its cluster registry private; jax.distributed.initialize() walks it.
  from jax._src import clusters

  for cluster in clusters.ClusterEnv._cluster_types:
    if cluster.opt_in_only_method or not cluster.is_env_present():
      continue
    return cluster if cluster.get_process_count() > 1 else None
  return None


def check_platform(config: ml_collections.ConfigDict) -> None:
  """Stops with one line when `config.platform` names another backend than JAX's.

  Without it a GPU install whose CUDA libraries clash (for example with the
  ones torch brings) falls back to the CPU with only a log warning.
  """
  backend = jax.default_backend()
  if config.platform and backend != config.platform:
    raise errors.UserError(
        f"config.platform={config.platform!r} but JAX's default backend is {backend!r} "
        f"({jax.devices()[0].device_kind}); install the matching jax build (README, "
        f"'Installing for GPU and TPU') or set --config.platform=''")


def describe_runtime() -> str:
  """One line: backend, device kind and counts, this process among all."""
  return (f"runtime: {jax.default_backend()} backend, {jax.device_count()} x "
          f"{jax.devices()[0].device_kind} ({jax.local_device_count()} local), process "
          f"{jax.process_index()} of {jax.process_count()}")


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


def prefetch_to_devices(batches: Iterator[dict[str, np.ndarray]], mesh: Mesh,
                        depth: int = 2) -> Iterator[dict[str, jax.Array]]:
  """`shard_batch` of each host batch, placed up to `depth` batches ahead.

  A background thread takes the next batches from the loader and puts them on
  the devices while the current step runs, so the step never waits on the host
  when the loader keeps up. The order is the loader's. Closing the generator
  stops the thread; an error in the loader is raised here.
  """
  ready: queue.Queue = queue.Queue(maxsize=depth)
  stop = threading.Event()

  def fill() -> None:
    try:
      for batch in batches:
        item = shard_batch(batch, mesh)
        while not stop.is_set():
          try:
            ready.put(item, timeout=0.1)
            break
          except queue.Full:
            continue
        if stop.is_set():
          return
      ready.put(_END)
    except BaseException as error:  # handed to the consumer, raised there
      ready.put(error)

  thread = threading.Thread(target=fill, name="prefetch_to_devices", daemon=True)
  thread.start()
  try:
    while True:
      item = ready.get()
      if item is _END:
        return
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    stop.set()


_END = object()  # prefetch_to_devices: the loader is exhausted
