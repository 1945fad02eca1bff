"""XLA flags for the suite's processes: simulated CPU devices, cheap code generation."""

import os

# The suite's time goes mostly into compiling many small programs. LLVM's
# cheapest code generation and XLA:CPU's older (simpler) fusion emitters compile
# them in less than half the time; every result stays within its test's tolerance.
# These are XLA:CPU flags of the pinned jaxlib, and XLA refuses unknown flags:
# check them when upgrading JAX.
FAST_COMPILE = ("--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
                " --xla_cpu_use_fusion_emitters=false")


def flags(device_count: int) -> str:
  """XLA_FLAGS for `device_count` simulated CPU devices that compile quickly."""
  return f"--xla_force_host_platform_device_count={device_count} {FAST_COMPILE}"


def environment(device_count: int) -> dict[str, str]:
  """This process's environment with XLA_FLAGS for a subprocess of `device_count` devices."""
  return dict(os.environ, XLA_FLAGS=flags(device_count))
