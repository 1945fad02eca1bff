"""Preemption: SIGTERM (how Cloud TPU announces it) ends training with a checkpoint.

On one process a SIGTERM handler sets a flag that the loop checks after every
step and every evaluation batch. On several processes JAX's preemption service
(started by `jax.distributed.initialize`) catches the signal on any host and
agrees on one check at which every host stops:
`multihost_utils.reached_preemption_sync_point`, counted in checks rather than
steps, since every host checks at the same points (training steps and evaluation
batches alike) and the count must keep growing through an evaluation.
"""

import contextlib
import itertools
import signal
import threading

import jax
from jax.experimental import multihost_utils

_requested = threading.Event()
_checks = itertools.count()


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
  global _checks
  _requested.clear()
  _checks = itertools.count()
  if _multihost_service() or threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = signal.signal(signal.SIGTERM, lambda signum, frame: _requested.set())
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def reached() -> bool:
  """True when the run should save and stop now (at the same check on every host)."""
  check = next(_checks)
  if _multihost_service():
    return multihost_utils.reached_preemption_sync_point(check)
  return _requested.is_set()
