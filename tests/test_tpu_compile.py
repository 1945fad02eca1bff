"""benchmarks/tpu_compile.py's helpers on the CPU (no libtpu): phases, abstract batch,
memory and FLOPs of a compiled tiny step, and the batch search."""

import jax
import numpy as np

from benchmarks import tpu_compile
from configs import tiny
from genfill_jax import parallel, train_step
from genfill_jax.data import loader


def test_schedule_phases_of_tiny_and_tpu_configs():
  from configs import tpu

  reconstruction = train_step.Phase(hole_predictor=True, filler=True, adversarial=False)
  assert tpu_compile.schedule_phases(tiny.get_config()) == [reconstruction,
                                                            train_step.ALL_PLAYERS]
  assert tpu_compile.schedule_phases(tpu.get_config()) == [reconstruction,
                                                           train_step.ALL_PLAYERS]
  assert (tpu_compile.phase_label(train_step.ALL_PLAYERS)
          == "hole_predictor+filler+discriminator")


def test_abstract_batch_matches_the_loader():
  config = tiny.get_config()
  mesh = parallel.create_mesh()
  real = next(iter(loader.create_train_loader(config)))
  abstract = tpu_compile.abstract_batch(config, mesh)
  assert {name: (value.shape, np.dtype(value.dtype)) for name, value in abstract.items()} == {
      name: (value.shape, value.dtype) for name, value in real.items()}


def test_measure_compiles_the_tiny_step_on_cpu_devices():
  config = tiny.get_config()
  mesh = parallel.create_mesh(jax.devices()[:2])
  # The hole predictor's phase alone: the smallest program that has every part.
  phase = train_step.Phase(hole_predictor=True, filler=False, adversarial=False)
  record = tpu_compile.measure(config, mesh, phase, per_chip_batch=2)
  assert record["fits"] and record["global_batch"] == 4 and record["phase"] == "hole_predictor"
  memory = record["memory"]
  assert memory["total"] == (memory["argument"] + memory["output"] - memory["alias"]
                             + memory["temp"] + memory["code"]) > 0
  assert memory["alias"] > 0  # the state is donated
  assert record["flops"] > 0


def _affine_measure(fixed, per_image, limit, tried):
  def measure(batch):
    tried.append(batch)
    total = fixed + per_image * batch
    if total > limit:
      return dict(phase="p", per_chip_batch=batch, fits=False, compile_s=0.0)
    return dict(phase="p", per_chip_batch=batch, fits=True, flops=1.0, compile_s=0.0,
                memory=dict(total=total, argument=0, output=0, alias=0, temp=0, code=0))
  return measure


def test_search_finds_the_largest_batch_under_the_budget():
  tried = []
  measure = _affine_measure(fixed=10.0, per_image=3.0, limit=1e9, tried=tried)
  largest, exact, fitted, records = tpu_compile.search_largest_batch(
      measure, measure(8), budget=100.0, max_compiles=3)
  # 8 -> 16 (the fit's second point) -> 30 (the fit: (100 - 10) / 3) -> 31 (over).
  assert (largest, exact, fitted, tried) == (30, True, 30, [8, 16, 30, 31])
  assert len(records) == 3


def test_search_halves_after_an_out_of_memory_compile():
  tried = []
  measure = _affine_measure(fixed=10.0, per_image=3.0, limit=40.0, tried=tried)
  largest, exact, _, _ = tpu_compile.search_largest_batch(measure, measure(8), budget=100.0,
                                                          max_compiles=2)
  # 8 fits (34); 16 runs out of memory; bisection tries 12 (46, out of memory).
  assert (largest, exact, tried) == (8, False, [8, 16, 12])


def test_markdown_table_has_a_line_per_phase_and_marks_unavailable_targets():
  record = dict(phase="p", per_chip_batch=4, global_batch=32, fits=True,
                memory=dict(total=2 * tpu_compile.GIB), flops_per_image=2e9,
                images_per_second_per_chip=50.0)
  rows = [dict(target="v5e-8", chips=8, hosts=1, memory_budget=16 * tpu_compile.GIB,
               phases=[record], search_phase="p", largest_per_chip_batch=9,
               largest_is_exact=False, fitted_largest_per_chip_batch=10),
          dict(target="h200", unavailable="no plugin")]
  table = tpu_compile.markdown_table(rows, 0.4).splitlines()
  assert table[2] == "| v5e-8 | 8 (1) | p | 4 (32) | 2.00 (16.0) | 2.0 | 50 | 9 (fit: 10) |"
  assert "not described here: no plugin" in table[3]
