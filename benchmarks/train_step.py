"""ms per train step (all three players) in JAX and in the original's PyTorch step.

    python -m benchmarks.train_step [--config=configs/seed.py] [--runs=5] [--json=PATH]
        [--peak_tflops=T] [--set=loss.perceptual_fraction=0.5 ...]

For each config (default: tiny, default and seed): the compiled JAX step of the
full GAN phase (hole predictor, discriminator and filler updated) on a cached
real batch, after warm-up, median of --runs; then, in the same process, a PyTorch
implementation of the original's step at the same size (the reference networks
of genfill_jax/torch_reference.py, the original's losses: predictor BCE on cells, D
BCE with label noise 0.05, G BCE; Adam as in the original) and the ratio.
Achieved FLOP/s come from XLA's cost analysis of the compiled step, as a fraction
of the machine's peak (estimated from /proc/cpuinfo on a CPU, or --peak_tflops).

For configs of our recipe the two steps do different work (ours adds L1,
feature matching, R1, the harmonic first guess); the seed config is the
like-for-like comparison.
"""

import json
import os
from pathlib import Path

import jax
from absl import app, flags

from benchmarks import common, torch_original
from genfill_jax import gan_state, parallel, train_step
from genfill_jax.data import loader

_CONFIG = flags.DEFINE_list(
    "config", ["configs/tiny.py", "configs/default.py", "configs/seed.py"],
    "Config file(s) to measure.")
_RUNS = flags.DEFINE_integer("runs", 5, "Timed steps per measurement (the median is reported).")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps first (compilation, caches).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")
_PEAK = flags.DEFINE_float("peak_tflops", 0.0, "Peak float32 TFLOP/s of the machine "
                           "(0: estimate for a CPU from /proc/cpuinfo).")
_TORCH = flags.DEFINE_bool("torch", True, "Also time the PyTorch reference step.")
_SET = flags.DEFINE_multi_string("set", [], "'section.field=value' set in every config "
                                 "before measuring (repeatable).")



def cpu_peak_flops() -> float:
  """Float32 FLOP/s of this CPU: cores x clock x FMA lanes (AVX-512: 64, AVX2+FMA: 32)."""
  info = Path("/proc/cpuinfo").read_text()
  megahertz = max(float(line.split(":")[1]) for line in info.splitlines()
                  if line.startswith("cpu MHz"))
  flags_line = next(line for line in info.splitlines() if line.startswith("flags"))
  per_cycle = 64 if "avx512f" in flags_line else 32 if "fma" in flags_line else 8
  return os.cpu_count() * megahertz * 1e6 * per_cycle


def time_jax_step(config, batch, warmup, runs) -> tuple[float, float]:
  """(median ms per step, FLOPs per step) of the compiled all-players step."""
  mesh = parallel.create_mesh()
  state = gan_state.init_gan_state(config, mesh)
  sharded = parallel.shard_batch(batch, mesh)
  step_fn = train_step.make_train_step(config, mesh, train_step.ALL_PLAYERS)
  compiled = step_fn.lower(state, sharded).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  flops = float(cost.get("flops", 0.0)) * jax.device_count()  # per-device program
  holder = {"state": state}

  def one_step():
    holder["state"], metrics = compiled(holder["state"], sharded)
    jax.block_until_ready(metrics)

  return common.median_ms(one_step, runs, warmup), flops


def time_torch_step(config, batch, warmup, runs) -> float:
  """Median ms of the original's PyTorch step at `config`'s size."""
  return common.median_ms(torch_original.torch_step(config, batch), runs, warmup)


def measure(path: str, warmup: int, runs: int, peak: float, with_torch: bool,
            overrides: list[str]) -> dict:
  """One config's row: JAX and PyTorch ms/step, images/s, FLOP/s and their ratios."""
  config = common.apply_overrides(common.load_config(path), overrides)
  config.data.num_workers = 0
  batch = next(iter(loader.create_train_loader(config)))
  images = config.data.batch_size
  jax_ms, flops = time_jax_step(config, batch, warmup, runs)
  row = dict(config=path, overrides=overrides, image_size=config.data.image_size,
             images_per_step=images, backend=jax.default_backend(), devices=jax.device_count(),
             jax_ms_per_step=round(jax_ms, 2), jax_images_per_second=round(
                 images / jax_ms * 1e3, 2),
             flops_per_step=flops, achieved_tflops=round(flops / jax_ms / 1e9, 4),
             fraction_of_peak=round(flops / (jax_ms / 1e3) / peak, 4))
  if with_torch:
    torch_ms = time_torch_step(config, batch, warmup, runs)
    row.update(torch_ms_per_step=round(torch_ms, 2),
               torch_images_per_second=round(images / torch_ms * 1e3, 2),
               jax_over_torch_time=round(jax_ms / torch_ms, 3))
  return row


def main(argv):
  del argv
  peak = _PEAK.value * 1e12 or cpu_peak_flops()
  print(f"backend {jax.default_backend()}, {jax.device_count()} device(s), "
        f"peak {peak / 1e12:.3f} TFLOP/s float32", flush=True)
  print(f"{'config':<22} {'px':>4} {'batch':>5} {'JAX ms':>9} {'torch ms':>9} "
        f"{'JAX/torch':>9} {'JAX img/s':>9} {'TFLOP/s':>8} {'of peak':>8}", flush=True)
  rows = []
  for path in _CONFIG.value:
    row = measure(path, _WARMUP.value, _RUNS.value, peak, _TORCH.value, _SET.value)
    rows.append(row)
    print(f"{path:<22} {row['image_size']:>4} {row['images_per_step']:>5} "
          f"{row['jax_ms_per_step']:>9.1f} {row.get('torch_ms_per_step', float('nan')):>9.1f} "
          f"{row.get('jax_over_torch_time', float('nan')):>9.3f} "
          f"{row['jax_images_per_second']:>9.1f} {row['achieved_tflops']:>8.4f} "
          f"{row['fraction_of_peak']:>8.2%}", flush=True)
  if _JSON.value:
    payload = dict(rows[0], peak_flops=peak) if len(rows) == 1 else dict(rows=rows,
                                                                          peak_flops=peak)
    Path(_JSON.value).write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
  app.run(main)
