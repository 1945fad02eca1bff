"""Preemption: SIGTERM (how Cloud TPU announces it) ends training with a checkpoint.

On one process a SIGTERM handler sets a flag that the loop checks after every
step. On several processes JAX's preemption service (started by
`jax.distributed.initialize`) catches the signal on any host and agrees on one
step at which every host saves: `multihost_utils.reached_preemption_sync_point`.
"""

import contextlib
import signal
import threading

import jax
from jax.experimental import multihost_utils

_requested = threading.Event()


def _multihost_service() -> bool:
  from jax._src import distributed  # JAX keeps the service state here

  return (jax.process_count() > 1
          and distributed.global_state.preemption_sync_manager is not None)


@contextlib.contextmanager
def watch_for_preemption():
  """While active, SIGTERM requests a checkpoint and a clean stop (one process).

  With JAX's multi-host preemption service running, that service owns SIGTERM
  and nothing is installed. The previous handler is restored on exit.
  """
  _requested.clear()
  if _multihost_service() or threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = signal.signal(signal.SIGTERM, lambda signum, frame: _requested.set())
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def reached(step: int) -> bool:
  """True when training should save at `step` and stop (the same step on every host)."""
  if _multihost_service():
    return multihost_utils.reached_preemption_sync_point(step)
  return _requested.is_set()
