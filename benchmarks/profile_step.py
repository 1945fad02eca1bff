"""Where a train step's time goes: jax.profiler on the JAX step, torch.profiler on the original's.

    python -m benchmarks.profile_step [--config=configs/seed.py] [--steps=2] [--top=12]
        [--trace_dir=/tmp/genfill_profile] [--json=PATH] [--notorch]

Traces --steps compiled all-players steps (after a warm-up step) with
`jax.profiler.trace`, reads the Perfetto trace it writes, and sums the time of
each XLA operation (thunk) over the traced steps; ops are grouped by kind
(convolution, fusion, dot, copy/transpose, collective, ...). The same is done
for the PyTorch reference step of benchmarks/train_step.py with torch.profiler,
grouped by ATen operator. Both are printed as "ms per step" tables; the full
trace stays in --trace_dir for TensorBoard's profile plugin or ui.perfetto.dev.
"""

import collections
import gzip
import json
import re
import time
from pathlib import Path

import jax
import torch
from absl import app, flags

from benchmarks import common, torch_original
from genfill_jax import gan_state, parallel, train_step
from genfill_jax.data import loader

_CONFIG = flags.DEFINE_string("config", "configs/seed.py", "Config file to profile.")
_STEPS = flags.DEFINE_integer("steps", 2, "Traced steps (after one warm-up step).")
_TOP = flags.DEFINE_integer("top", 12, "Rows of each table.")
_TRACE_DIR = flags.DEFINE_string("trace_dir", "/tmp/genfill_profile", "Where traces go.")
_JSON = flags.DEFINE_string("json", None, "Write both breakdowns here as JSON.")
_TORCH = flags.DEFINE_bool("torch", True, "Also profile the PyTorch reference step.")

# First match wins; names are XLA thunk / HLO instruction names such as
# 'convolution.12', 'loop_multiply_fusion.3', 'copy.7', 'all-reduce.1'.
_KINDS = (
    # XLA:CPU hands convolutions (and some elementwise work) to YNNPACK as
    # 'ynn_fusion' ops; in the seed step's HLO most of them are convolutions.
    ("YNNPACK fusion (mostly conv)", r"ynn_fusion"),
    ("convolution", r"conv"),
    ("dot (matmul)", r"^dot|gemm"),
    ("collective", r"all-reduce|all-gather|reduce-scatter|collective|psum"),
    ("copy / transpose", r"^copy|transpose"),
    ("reduce", r"reduce"),
    ("elementwise fusion", r"fusion"),
    ("random bits", r"rng|random"),
    ("loop (own time)", r"^while|^call|^conditional"),
)


def op_kind(name: str) -> str:
  """The kind of an XLA op from its name ('other' when none matches)."""
  for kind, pattern in _KINDS:
    if re.search(pattern, name):
      return kind
  return "other"


def _read_perfetto(trace_dir: Path) -> list[dict]:
  traces = sorted(trace_dir.rglob("perfetto_trace.json.gz"), key=lambda p: p.stat().st_mtime)
  if not traces:
    raise FileNotFoundError(f"no perfetto_trace.json.gz under {trace_dir}")
  with gzip.open(traces[-1], "rt") as stream:
    trace = json.load(stream)
  return trace["traceEvents"] if isinstance(trace, dict) else trace


def _is_xla_op(name: str) -> bool:
  # Python frames ('$file:line name'), runtime scopes ('ThunkExecutor::Execute',
  # 'PjitFunction(...)', 'ParseArguments') are not ops; HLO names are.
  return not (name.startswith(("$", "PjitFunction", "ParseArguments")) or "::" in name)


def xla_op_times(events: list[dict]) -> dict[str, float]:
  """ms of self time per XLA op name (time inside nested ops excluded), all threads summed.

  XLA:CPU records one complete event per executed thunk, on the threads that
  run it; a `while` loop's event encloses its body's ops.
  """
  per_thread = collections.defaultdict(list)
  for event in events:
    if event.get("ph") == "X" and "dur" in event and _is_xla_op(event["name"]):
      per_thread[event["tid"]].append(event)
  per_op: dict[str, float] = collections.Counter()
  for thread_events in per_thread.values():
    thread_events.sort(key=lambda event: (event["ts"], -event["dur"]))
    open_events: list[list] = []  # [end, name, self time so far]
    for event in thread_events:
      while open_events and open_events[-1][0] <= event["ts"]:
        _, name, self_time = open_events.pop()
        per_op[name] += self_time / 1e3
      if open_events:
        open_events[-1][2] -= event["dur"]  # a child: not its parent's own time
      open_events.append([event["ts"] + event["dur"], event["name"], event["dur"]])
    for _, name, self_time in open_events:
      per_op[name] += self_time / 1e3
  return dict(per_op)


def profile_jax(config, batch, steps: int, trace_dir: Path) -> dict:
  """ms per step by XLA op and by op kind for the compiled all-players step."""
  mesh = parallel.create_mesh()
  state = gan_state.init_gan_state(config, mesh)
  sharded = parallel.shard_batch(batch, mesh)
  compiled = train_step.make_train_step(config, mesh, train_step.ALL_PLAYERS).lower(
      state, sharded).compile()
  state, metrics = compiled(state, sharded)  # warm-up
  jax.block_until_ready(metrics)
  with jax.profiler.trace(str(trace_dir), create_perfetto_trace=True):
    start = time.perf_counter()
    for _ in range(steps):
      state, metrics = compiled(state, sharded)
      jax.block_until_ready(metrics)
    wall_ms = (time.perf_counter() - start) * 1e3
  return _breakdown(xla_op_times(_read_perfetto(trace_dir)), wall_ms, steps, op_kind)


def profile_torch(config, batch, steps: int) -> dict:
  """ms per step by ATen operator (self CPU time) for the original's PyTorch step."""
  one_step = torch_original.torch_step(config, batch)
  one_step()  # warm-up
  with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
    start = time.perf_counter()
    for _ in range(steps):
      one_step()
    wall_ms = (time.perf_counter() - start) * 1e3
  per_op = {row.key: row.self_cpu_time_total / 1e3 for row in profile.key_averages()}
  return _breakdown(per_op, wall_ms, steps, lambda name: op_kind(name.removeprefix("aten::")))


def _breakdown(per_op: dict, wall_ms: float, steps: int, kind_of) -> dict:
  """Per-step figures: wall time, op time (summed over threads) by kind and by op."""
  kinds: dict[str, float] = collections.Counter()
  for name, ms in per_op.items():
    kinds[kind_of(name)] += ms
  ops = sorted(per_op.items(), key=lambda item: -item[1])
  kinds_by_time = sorted(kinds.items(), key=lambda item: -item[1])
  return dict(
      wall_ms_per_step=round(wall_ms / steps, 1),
      op_ms_per_step=round(sum(per_op.values()) / steps, 1),
      by_kind={kind: round(ms / steps, 1) for kind, ms in kinds_by_time},
      top_ops=[(name, round(ms / steps, 1)) for name, ms in ops],
  )


def _print(title: str, result: dict, top: int) -> None:
  total = result["op_ms_per_step"]
  print(f"\n{title}: {result['wall_ms_per_step']:.0f} ms per step (traced); "
        f"{total:.0f} ms of op time, all threads")
  print(f"  {'kind':<28}{'ms/step':>10}{'share':>8}")
  for kind, ms in result["by_kind"].items():
    print(f"  {kind:<28}{ms:>10.1f}{ms / total:>8.1%}")
  print(f"  {'top ops':<48}{'ms/step':>10}")
  for name, ms in result["top_ops"][:top]:
    print(f"  {name[:46]:<48}{ms:>10.1f}")


def main(argv):
  del argv
  config = common.load_config(_CONFIG.value)
  config.data.num_workers = 0
  batch = next(iter(loader.create_train_loader(config)))
  results = {"config": _CONFIG.value, "steps": _STEPS.value,
             "jax": profile_jax(config, batch, _STEPS.value, Path(_TRACE_DIR.value))}
  _print(f"JAX {_CONFIG.value} ({jax.device_count()} device(s))", results["jax"], _TOP.value)
  if _TORCH.value:
    results["torch"] = profile_torch(config, batch, _STEPS.value)
    _print(f"PyTorch original step at {_CONFIG.value}", results["torch"], _TOP.value)
  if _JSON.value:
    for framework in ("jax", "torch"):
      if framework in results:
        results[framework]["top_ops"] = results[framework]["top_ops"][:50]
    Path(_JSON.value).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
  app.run(main)
