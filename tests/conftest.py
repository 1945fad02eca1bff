"""Test set-up: 8 simulated CPU devices, and a run with skipped tests fails."""

import os
import tempfile

import xla_flags

# Must happen before JAX is imported anywhere, so the multi-device tests see 8.
os.environ.setdefault("XLA_FLAGS", xla_flags.flags(8))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# XLA:CPU takes 1-3 s to compile each threefry draw of a new shape, which adds
# minutes to a suite that initialises many small models; the 'rbg' generator
# compiles ten times faster. Only the random bits differ, not the code paths.
os.environ.setdefault("JAX_DEFAULT_PRNG_IMPL", "rbg")
# Many tests train the same tiny config, in this process and in subprocesses
# (which inherit the environment): a persistent compilation cache, fresh for
# each session, compiles each distinct program once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      tempfile.mkdtemp(prefix="genfill_jax_test_compile_cache_"))
# --mode=inpaint/serve keep their programs there too, not in ~/.cache.
os.environ.setdefault("GENFILL_JAX_CACHE", os.environ["JAX_COMPILATION_CACHE_DIR"])
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# gcsfs reads this when first imported: its probe of a bucket's layout goes over
# gRPC, which the storage emulator of the gs:// tests does not serve.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import pytest


@pytest.fixture(scope="session")
def tiny_trained_run(tmp_path_factory):
  """A run of configs/tiny.py trained for 2 steps on 8 devices, every family evaluated."""
  # Imported here, after the environment above is set.
  from configs import tiny
  from genfill_jax import train

  config = tiny.get_config()
  config.train.num_train_steps = 2
  config.eval.families = ("blocks", "box", "thin", "medium", "thick")
  workdir = tmp_path_factory.mktemp("tiny_trained_run")
  train.train_and_evaluate(config, str(workdir))
  return workdir


def pytest_sessionfinish(session, exitstatus):
  """A skipped check is a defect: turn a green run with skips into a failure."""
  reporter = session.config.pluginmanager.get_plugin("terminalreporter")
  if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
    reporter.write_line("FAILED: tests were skipped; every check must run.", red=True)
    session.exitstatus = 1
