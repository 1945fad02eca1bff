"""HBM, FLOPs and the largest batch of the train step on Cloud TPU slices and one GPU,
compiled on this CPU for machines it does not have.

    PYTHONPATH=LIBTPU_DIR[:CUDA_DIR] python -m benchmarks.tpu_compile \
        [--config=configs/tpu.py] [--gpu_config=configs/gpu.py] \
        [--targets=v5e-8,v4-8,v4-32,h200] [--search=v5e-8,v4-8,h200] \
        [--max_search_compiles=2] [--markdown=PATH] [--json=PATH]

LIBTPU_DIR holds libtpu (`pip install --target LIBTPU_DIR "libtpu==0.0.42.*"`),
CUDA_DIR the CUDA plugin of the installed jaxlib (`pip install --no-deps --target
CUDA_DIR jax-cuda13-plugin==0.10.2 jax-cuda13-pjrt==0.10.2`); both only describe
devices here (`jax.experimental.topologies`), nothing runs on them. libtpu's
warnings about TPU_ACCELERATOR_TYPE and TPU_WORKER_HOSTNAMES are harmless.

For each target: a mesh over all its chips (all hosts of a multi-host slice), the
config's global batch split over them, and each phase the config's schedule goes
through (`train_step.phase_at` at every boundary) lowered on abstract inputs and
compiled. Reported per chip: the memory the compiled program needs (arguments +
outputs - donated aliases + temporaries + code), FLOPs per image from XLA's cost
analysis (of the per-device program, under shard_map), and the images/s per chip
that --utilization of the chip's dense bfloat16 peak would give. For the targets
in --search, the largest per-chip batch of the phase that needs the most memory:
an affine fit of memory against batch through two compiles, then compiles that
close in on the limit (the compiler's out-of-memory error or the target's budget).
"""

import importlib.metadata
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

# Before jax is imported: the step runs nowhere, so no backend but the CPU starts.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import ml_collections
from absl import app, flags
from jax.experimental import topologies

from benchmarks import common
from genfill_jax import gan_state, parallel, train_step

_CONFIG = flags.DEFINE_string("config", "configs/tpu.py", "Config of the TPU targets.")
_GPU_CONFIG = flags.DEFINE_string("gpu_config", "configs/gpu.py", "Config of the GPU targets.")
_TARGETS = flags.DEFINE_list("targets", ["v5e-8", "v4-8", "v4-32", "h200"],
                             "Targets to compile for (names in TARGETS).")
_SEARCH = flags.DEFINE_list("search", ["v5e-8", "v4-8", "h200"],
                            "Targets whose largest per-chip batch is searched (compiles take "
                            "minutes here; v4-32 runs v4-8's per-chip program).")
_MAX_SEARCH = flags.DEFINE_integer(
    "max_search_compiles", 2, "Compiles per search after the one at the config's batch "
    "(large batches take host memory: v4 at 158 per chip needed over 24 GB).")
_UTILIZATION = flags.DEFINE_float("utilization", 0.4, "Fraction of peak FLOP/s assumed.")
_MARKDOWN = flags.DEFINE_string("markdown", None, "Write the table here as Markdown.")
_JSON = flags.DEFINE_string("json", None, "Write every compile's figures here as JSON.")

GIB = 2**30

# An H200 SXM as XLA:GPU's compiler sees it (its GpuTargetConfig), from NVIDIA's
# published figures: 132 SMs of compute capability 9.0, 143771 MiB of HBM3e.
H200_TARGET_CONFIG = """
gpu_device_info {
  threads_per_block_limit: 1024 threads_per_warp: 32 threads_per_core_limit: 2048
  shared_memory_per_block: 49152 shared_memory_per_block_optin: 232448
  shared_memory_per_core: 233472 core_count: 132 fpus_per_core: 128
  block_dim_limit_x: 2147483647 block_dim_limit_y: 65535 block_dim_limit_z: 65535
  memory_bandwidth: 4800000000000 l2_cache_size: 52428800 clock_rate_ghz: 1.98
  device_memory_size: 150754820096
  registers_per_core_limit: 65536 registers_per_block_limit: 65536
  cuda_compute_capability { major: 9 minor: 0 }
}
platform_name: "CUDA"
dnn_version_info { major: 9 minor: 8 }
runtime_version { major: 13 minor: 0 }
device_description_str: "NVIDIA H200"
"""


class Target(NamedTuple):
  """A machine that `jax.experimental.topologies` can describe without having it."""

  platform: str  # 'tpu' or 'cuda'
  topology_name: str  # TPU: the slice, 'v4:2x2x1'; CUDA: slices x hosts x GPUs, '1x1x1'
  options: dict  # further arguments of topologies.get_topology_desc
  memory_budget: float  # bytes one chip's program may use
  peak_flops: float  # dense bfloat16 FLOP/s of one chip
  gpu: bool = False  # compiled with --gpu_config
  compiler_options: dict | None = None  # XLA debug options for this target's compiles


TARGETS = {
    # One host of 8 chips (a host of 4 is libtpu's default for v5e).
    "v5e-8": Target("tpu", "v5e:2x4", dict(chips_per_host_bounds=(2, 4, 1)), 16 * GIB, 197e12),
    # 'megacore_dense': one device per chip, both TensorCores, as JAX runs v4;
    # without it the topology lists each TensorCore as a device.
    "v4-8": Target("tpu", "v4:2x2x1", dict(chip_config_name="megacore_dense"), 32 * GIB, 275e12),
    "v4-32": Target("tpu", "v4:2x2x4", dict(chip_config_name="megacore_dense"), 32 * GIB,
                    275e12),
    # JAX's GPU client takes 75% of the device's memory by default.
    # Without a GPU XLA cannot autotune, and its Triton GEMM tiling then fails on
    # small dots (the filler's resize); cuBLAS takes them instead.
    "h200": Target("cuda", "1x1x1", dict(target_config=H200_TARGET_CONFIG),
                   0.75 * 150754820096, 989e12, gpu=True,
                   compiler_options=dict(xla_gpu_enable_triton_gemm=False)),
}


def target_devices(target: Target) -> list:
  """All devices of the target, of every host, as compile-only devices."""
  name_field = "topology_name" if target.platform == "tpu" else "topology"
  options = dict(target.options) | {name_field: target.topology_name}
  return topologies.get_topology_desc(platform=target.platform, **options).devices


def schedule_phases(config: ml_collections.ConfigDict) -> list[train_step.Phase]:
  """The distinct phases a run of `config` goes through, in order of their first step."""
  if config.data.large_image_size:
    raise ValueError("data.large_image_size is set: this benchmark compiles the "
                     "image_size step only, not multi-scale training's large steps")
  train = config.train
  boundaries = {0, train.filler_start_step, train.adversarial_start_step,
                train.hole_predictor_end_step}
  phases = []
  for step in sorted(step for step in boundaries if step < train.num_train_steps):
    phase = train_step.phase_at(config, step)
    if phase not in phases:
      phases.append(phase)
  return phases


def phase_label(phase: train_step.Phase) -> str:
  """The players a phase trains, e.g. 'hole_predictor+filler+discriminator'."""
  players = [name for name, trained in (("hole_predictor", phase.hole_predictor),
                                        ("filler", phase.filler),
                                        ("discriminator", phase.adversarial)) if trained]
  return "+".join(players) or "nothing"


def abstract_batch(config: ml_collections.ConfigDict, mesh) -> dict[str, jax.ShapeDtypeStruct]:
  """A loader batch (uint8 NHWC images, bool hole mask) as shapes split over the mesh."""
  size = config.data.image_size
  shape = (config.data.batch_size, size, size)
  sharding = parallel.batch_sharded(mesh)
  batch = {name: jax.ShapeDtypeStruct(shape + (3,), jnp.uint8, sharding=sharding)
           for name in ("image", "filler_input", "predictor_input")}
  batch["mask"] = jax.ShapeDtypeStruct(shape + (1,), jnp.bool_, sharding=sharding)
  return batch


def with_batch(config: ml_collections.ConfigDict, global_batch: int):
  """A copy of `config` with data.batch_size = `global_batch`."""
  config = config.copy_and_resolve_references()
  config.data.batch_size = global_batch
  return config


def compile_step(config: ml_collections.ConfigDict, mesh, phase: train_step.Phase,
                 compiler_options: dict | None = None):
  """The train step of `phase`, lowered on abstract state and batch and compiled."""
  step = train_step.make_train_step(config, mesh, phase)
  lowered = step.lower(gan_state.abstract_gan_state(config, mesh), abstract_batch(config, mesh))
  return lowered.compile(compiler_options)


def memory_figures(compiled) -> dict[str, int]:
  """Bytes of the compiled program per device, as XLA's memory analysis gives them,
  and their 'total': arguments + outputs - aliases (donated) + temporaries + code."""
  stats = compiled.memory_analysis()
  figures = dict(argument=stats.argument_size_in_bytes, output=stats.output_size_in_bytes,
                 alias=stats.alias_size_in_bytes, temp=stats.temp_size_in_bytes,
                 code=stats.generated_code_size_in_bytes)
  figures["total"] = (figures["argument"] + figures["output"] - figures["alias"]
                      + figures["temp"] + figures["code"])
  return figures


def device_flops(compiled) -> float | None:
  """FLOPs of the per-device program (XLA's cost analysis); None where it has none."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  return float(cost["flops"]) if cost and "flops" in cost else None


def host_flops_per_image(config: ml_collections.ConfigDict, phase: train_step.Phase,
                         batch: int) -> float:
  """FLOPs per image of the step as written (XLA's count of the unoptimised program,
  lowered for one CPU device at `batch`): for compilers that give no cost analysis."""
  config = with_batch(config, batch)
  mesh = parallel.create_mesh(jax.devices("cpu")[:1])
  step = train_step.make_train_step(config, mesh, phase)
  lowered = step.lower(gan_state.abstract_gan_state(config, mesh), abstract_batch(config, mesh))
  return float(lowered.cost_analysis()["flops"]) / batch


def measure(config: ml_collections.ConfigDict, mesh, phase: train_step.Phase,
            per_chip_batch: int, compiler_options: dict | None = None) -> dict[str, Any]:
  """Compiles one step; its memory and FLOPs, or fits=False on an out-of-memory error."""
  start = time.perf_counter()
  record: dict[str, Any] = dict(phase=phase_label(phase), per_chip_batch=per_chip_batch,
                                global_batch=per_chip_batch * mesh.size)
  try:
    compiled = compile_step(with_batch(config, per_chip_batch * mesh.size), mesh, phase,
                            compiler_options)
  except jax.errors.JaxRuntimeError as error:
    if "RESOURCE_EXHAUSTED" not in str(error):
      raise
    record.update(fits=False, error=str(error).splitlines()[0][:300])
  else:
    record.update(fits=True, memory=memory_figures(compiled), flops=device_flops(compiled))
  record["compile_s"] = round(time.perf_counter() - start, 1)
  return record


def fits(record: dict, budget: float) -> bool:
  return record["fits"] and record["memory"]["total"] <= budget


def affine_limit(records: list[dict], budget: float) -> int | None:
  """The batch at which a line through the two largest compiled batches' memory meets
  `budget` (rounded down); None without two such compiles."""
  sized = sorted((r for r in records if r["fits"]), key=lambda r: r["per_chip_batch"])[-2:]
  if len(sized) < 2 or sized[1]["per_chip_batch"] == sized[0]["per_chip_batch"]:
    return None
  (b0, m0), (b1, m1) = ((r["per_chip_batch"], r["memory"]["total"]) for r in sized)
  slope = (m1 - m0) / (b1 - b0)
  return math.floor(b1 + (budget - m1) / slope) if slope > 0 else None


def next_batch(records: list[dict], budget: float) -> int | None:
  """The next per-chip batch to compile in the search for the largest that fits, or None
  once the largest that fits and the smallest that does not are neighbours."""
  good = [r["per_chip_batch"] for r in records if fits(r, budget)]
  bad = [r["per_chip_batch"] for r in records if not fits(r, budget)]
  low, high = max(good, default=0), min(bad, default=math.inf)
  if high <= low + 1:
    return None
  guess = affine_limit(records, budget)
  if guess is None:
    guess = 2 * low if high == math.inf else (low + high) // 2
  # Inside the bracket, and at least one closer to its open end.
  if guess >= high:
    guess = high - 1
  if guess <= low:
    guess = low + 1 if high == math.inf else (low + high + 1) // 2
  return guess if guess < high else None


def search_largest_batch(measure_batch: Callable[[int], dict], first: dict, budget: float,
                         max_compiles: int) -> tuple[int, bool, int | None, list[dict]]:
  """(largest per-chip batch found to fit, whether the next one up is known not to, the
  affine fit's limit, the new compiles' records), from `first` and at most `max_compiles`
  more compiles."""
  records = [first]
  for _ in range(max_compiles):
    batch = next_batch(records, budget)
    if batch is None:
      break
    records.append(measure_batch(batch))
    print(_record_line(records[-1]), flush=True)
  good = [r["per_chip_batch"] for r in records if fits(r, budget)]
  largest = max(good, default=0)
  return (largest, next_batch(records, budget) is None, affine_limit(records, budget),
          records[1:])


def _record_line(record: dict) -> str:
  head = f"  {record['phase']:<36} batch {record['per_chip_batch']:>4}/chip"
  if not record["fits"]:
    return f"{head}: out of memory ({record['compile_s']:.0f} s)"
  memory = record["memory"]
  flops = "n/a" if record["flops"] is None else f"{record['flops']:.4g}"
  return (f"{head}: total {memory['total'] / GIB:6.2f} GiB (arg {memory['argument'] / GIB:.2f}"
          f" out {memory['output'] / GIB:.2f} alias {memory['alias'] / GIB:.2f} temp "
          f"{memory['temp'] / GIB:.2f} code {memory['code'] / GIB:.2f}), FLOPs {flops} "
          f"({record['compile_s']:.0f} s)")


def measure_target(name: str, devices: list, config: ml_collections.ConfigDict, search: bool,
                   max_compiles: int, utilization: float) -> dict:
  """Every phase at the config's batch, then the search for the largest batch."""
  target = TARGETS[name]
  mesh = parallel.create_mesh(devices)
  hosts = len({device.process_index for device in devices})
  print(f"{name}: {len(devices)} x {devices[0].device_kind} on {hosts} host(s)", flush=True)
  per_chip = config.data.batch_size // len(devices)
  if per_chip * len(devices) != config.data.batch_size:
    raise ValueError(f"data.batch_size={config.data.batch_size} does not split over "
                     f"{len(devices)} chips of {name}")
  records = []
  for phase in schedule_phases(config):
    records.append(measure(config, mesh, phase, per_chip, target.compiler_options)
                   | dict(phase_fields=phase._asdict()))
    print(_record_line(records[-1]), flush=True)
  row = dict(target=name, chips=len(devices), hosts=hosts, device_kind=devices[0].device_kind,
             memory_budget=target.memory_budget, peak_flops=target.peak_flops,
             per_chip_batch=per_chip, phases=records)
  for record in records:
    phase = train_step.Phase(**record["phase_fields"])
    record["host_flops_per_image"] = host_flops_per_image(config, phase, per_chip)
    if record["fits"] and record["flops"]:
      record["flops_per_image"] = record["flops"] / per_chip
      # Near 1: the compiled count is of one device's share of the batch.
      ratio = record["flops_per_image"] / record["host_flops_per_image"]
      print(f"  {record['phase']}: compiled FLOPs / (per-chip batch x FLOPs per image "
            f"lowered for the CPU) = {ratio:.3f}", flush=True)
    else:
      record["flops_per_image"] = record["host_flops_per_image"]
      record["flops_from_host"] = True
    record["images_per_second_per_chip"] = (utilization * target.peak_flops
                                            / record["flops_per_image"])
  binding = max(records, key=lambda r: r["memory"]["total"] if r["fits"] else math.inf)
  if search:
    phase = train_step.Phase(**binding["phase_fields"])
    largest, exact, fitted, tried = search_largest_batch(
        lambda batch: measure(config, mesh, phase, batch, target.compiler_options), binding,
        target.memory_budget, max_compiles)
    row.update(search_phase=binding["phase"], largest_per_chip_batch=largest,
               largest_is_exact=exact, fitted_largest_per_chip_batch=fitted,
               search_compiles=tried)
  return row


def _versions() -> dict[str, str]:
  found = {}
  for package in ("jax", "jaxlib", "libtpu", "jax-cuda13-plugin"):
    try:
      found[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      pass
  return found


def markdown_table(rows: list[dict], utilization: float) -> str:
  """One line per target and phase: memory, FLOPs per image, images/s, largest batch."""
  lines = [f"| target | chips (hosts) | phase | batch/chip (global) | memory/chip GiB (budget) "
           f"| GFLOPs/image | img/s/chip at {utilization:.0%} of peak | largest batch/chip |",
           "|---|---|---|---|---|---|---|---|"]
  for row in rows:
    if "unavailable" in row:
      lines.append(f"| {row['target']} | - | not described here: {row['unavailable']} "
                   "| - | - | - | - | - |")
      continue
    for record in row["phases"]:
      memory = (f"{record['memory']['total'] / GIB:.2f} ({row['memory_budget'] / GIB:.1f})"
                if record["fits"] else "out of memory")
      flops = f"{record['flops_per_image'] / 1e9:.1f}" + ("*" if "flops_from_host" in record
                                                            else "")
      speed = record["images_per_second_per_chip"]
      largest = "-"
      if row.get("search_phase") == record["phase"]:
        fitted = row["fitted_largest_per_chip_batch"]
        largest = (f"{row['largest_per_chip_batch']}"
                   + (" (exact)" if row["largest_is_exact"] else f" (fit: {fitted})"))
      elif "search_phase" not in row:
        largest = "not searched"
      lines.append(
          f"| {row['target']} | {row['chips']} ({row['hosts']}) | {record['phase']} "
          f"| {record['per_chip_batch']} ({record['global_batch']}) | {memory} "
          f"| {flops} | {speed:.0f} | {largest} |")
  if any("flops_from_host" in record for row in rows for record in row.get("phases", [])):
    lines.append("\n\\* no cost analysis from this compiler without the device: FLOPs of "
                 "the step as written, lowered for the CPU.")
  return "\n".join(lines)


def main(argv):
  del argv
  print(f"versions: {_versions()}", flush=True)
  rows = []
  for name in _TARGETS.value:
    target = TARGETS[name]
    config = common.load_config(_GPU_CONFIG.value if target.gpu else _CONFIG.value)
    try:
      devices = target_devices(target)
    except (RuntimeError, NotImplementedError) as error:
      # No libtpu, no CUDA plugin, or a plugin that cannot describe a device it lacks.
      print(f"{name}: cannot be described here: {error}", flush=True)
      rows.append(dict(target=name, unavailable=str(error).splitlines()[0][:200]))
      continue
    rows.append(measure_target(name, devices, config, name in _SEARCH.value,
                               _MAX_SEARCH.value, _UTILIZATION.value))
    _write(rows)  # after each target: a run cut short keeps what it measured
  print(markdown_table(rows, _UTILIZATION.value))


def _write(rows: list[dict]) -> None:
  if _MARKDOWN.value:
    Path(_MARKDOWN.value).write_text(markdown_table(rows, _UTILIZATION.value) + "\n")
  if _JSON.value:
    Path(_JSON.value).write_text(json.dumps(dict(versions=_versions(), rows=rows), indent=2))


if __name__ == "__main__":
  app.run(main)
