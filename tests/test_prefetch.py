"""Batches placed on the devices ahead of the step that uses them."""

import threading
import time

import jax
import numpy as np
import pytest

from genfill_jax import parallel


def _host_batches(count: int, pulled: list[int]):
  for index in range(count):
    pulled.append(index)
    yield {"image": np.full((8, 4, 4, 3), index, np.uint8)}


def _wait_for(condition, seconds: float = 10) -> bool:
  deadline = time.monotonic() + seconds
  while not condition() and time.monotonic() < deadline:
    time.sleep(0.01)
  return condition()


def test_prefetched_batches_are_the_loaders_in_order_and_sharded():
  mesh = parallel.create_mesh()
  batches = list(parallel.prefetch_to_devices(_host_batches(5, []), mesh))
  assert [int(batch["image"][0, 0, 0, 0]) for batch in batches] == [0, 1, 2, 3, 4]
  assert batches[0]["image"].sharding == parallel.batch_sharded(mesh)
  assert len(batches[0]["image"].addressable_shards) == jax.device_count()


def test_the_next_batches_are_placed_while_the_current_one_is_used():
  pulled = []
  stream = parallel.prefetch_to_devices(_host_batches(100, pulled), parallel.create_mesh(),
                                        depth=2)
  next(stream)
  # Without waiting for the consumer: the one in hand, two queued, one waiting to be queued.
  assert _wait_for(lambda: len(pulled) == 4)
  time.sleep(0.2)
  assert len(pulled) == 4  # and no further: the queue is bounded
  stream.close()


def test_closing_stops_the_thread_and_loader_errors_reach_the_consumer():
  stream = parallel.prefetch_to_devices(_host_batches(100, []), parallel.create_mesh())
  next(stream)
  stream.close()
  assert _wait_for(lambda: not any(thread.name == "prefetch_to_devices"
                                   for thread in threading.enumerate()))

  def broken():
    yield {"image": np.zeros((8, 4, 4, 3), np.uint8)}
    raise OSError("bucket unreachable")
  stream = parallel.prefetch_to_devices(broken(), parallel.create_mesh())
  next(stream)
  with pytest.raises(OSError, match="bucket unreachable"):
    next(stream)
