"""The training loop: `train_and_evaluate(config, workdir)`."""

import json
import sys
import time

import jax
import ml_collections
import numpy as np
import tqdm
from etils import epath

from genfill_jax import (
  checkpoint,
  config_checks,
  evaluate,
  metric_writer,
  parallel,
  preemption,
  run_config,
  train_state,
  train_step,
)
from genfill_jax.data import loader


class NonFiniteLossError(FloatingPointError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


def _check_finite(history: list[tuple[int, dict]]) -> None:
  """Raises NonFiniteLossError naming the first non-finite loss and its step."""
  for step, metrics in history:
    for name, value in jax.device_get(metrics).items():
      if not np.isfinite(value):
        raise NonFiniteLossError(
            f"{name} is {float(value)} at step {step}; training stopped, the last "
            f"checkpoint before it is kept")


def _log_scalars(history, steps_done, seconds, batch_size, writer, bar):
  averaged = {name: float(np.mean([float(metrics[name]) for _, metrics in history
                                   if name in metrics]))
              for name in history[-1][1]}
  averaged["images_per_second"] = steps_done * batch_size / max(seconds, 1e-9)
  writer.write(history[-1][0], averaged)
  shown = {"filler/loss": "filler", "discriminator/loss": "disc",
           "hole_predictor/loss": "holes", "images_per_second": "img/s"}
  bar.set_postfix({label: f"{averaged[name]:.3g}" for name, label in shown.items()
                   if name in averaged})


def _evaluate_and_preview(config, state, mesh, workdir, writer, model_outputs) -> dict:
  step = int(state.step)
  results, previews = evaluate.evaluate(config, state, mesh, model_outputs=model_outputs)
  writer.write(step, evaluate.flatten_results(results))
  if jax.process_index() == 0:
    first_family = next(iter(previews.values()))  # one grid per evaluation while training
    evaluate.save_preview(first_family, epath.Path(workdir) / "previews" / f"step_{step:07d}.png",
                          config.eval.preview_examples)
    tqdm.tqdm.write(f"evaluation at step {step}:\n{evaluate.format_table(results)}")
  return results


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> train_state.GanState:
  """Trains (or resumes training) in `workdir`; returns the final state."""
  mesh = parallel.create_mesh()
  config_checks.validate_config(config, mesh.size)
  workdir_path = epath.Path(workdir)
  if jax.process_index() == 0:
    workdir_path.mkdir(parents=True, exist_ok=True)
    run_config.save(config, workdir)
  manager = checkpoint.create_manager(workdir, config.train.keep_checkpoints)
  if manager.latest_step() is not None:
    state = checkpoint.restore(manager, train_state.abstract_train_state(config, mesh))
  else:
    state = train_state.init_train_state(config, mesh)
  start_step = int(state.step)
  num_steps = config.train.num_train_steps
  data = iter(loader.create_train_loader(config, start_step=start_step))
  writer = metric_writer.MetricWriter(workdir)
  compiled_steps = {}
  eval_outputs = evaluate.compile_model_outputs(config)
  history: list[tuple[int, dict]] = []
  window_start, steps_in_window = time.perf_counter(), 0
  # Redirected to a log file (nohup), the bar is redrawn once a minute, not every step.
  bar = tqdm.tqdm(total=num_steps, initial=start_step, desc="train", unit="step",
                  disable=jax.process_index() != 0, dynamic_ncols=True,
                  mininterval=0.1 if sys.stderr.isatty() else 60)
  with preemption.watch_for_preemption():
    try:
      for step in range(start_step, num_steps):
        phase = train_step.phase_at(config, step)
        key = tuple(sorted(phase.items()))
        if key not in compiled_steps:
          compiled_steps[key] = train_step.make_train_step(config, mesh, phase)
        batch = parallel.shard_batch(next(data), mesh)
        state, metrics = compiled_steps[key](state, batch)
        history.append((step + 1, metrics))
        steps_in_window += 1
        bar.update(1)
        done = step + 1
        at_log = done % config.train.log_every_steps == 0 or done == num_steps
        at_checkpoint = done % config.train.checkpoint_every_steps == 0 or done == num_steps
        preempted = preemption.reached(done)  # every host calls it every step
        at_checkpoint = at_checkpoint or preempted
        if at_log or at_checkpoint:
          _check_finite(history)  # before anything is saved: never checkpoint a NaN
          _log_scalars(history, steps_in_window, time.perf_counter() - window_start,
                       config.data.batch_size, writer, bar)
          history, window_start, steps_in_window = [], time.perf_counter(), 0
        if at_checkpoint:
          checkpoint.save(manager, state)
        if preempted:
          tqdm.tqdm.write(f"SIGTERM: checkpoint of step {done} saved, stopping; rerun the "
                          "same command to continue")
          break
        if done % config.train.eval_every_steps == 0 or done == num_steps:
          results = _evaluate_and_preview(config, state, mesh, workdir, writer,
                                          eval_outputs)
          if jax.process_index() == 0:
            (workdir_path / "eval_results.json").write_text(
                json.dumps({"step": done, "results": results}, indent=2))
          window_start, steps_in_window = time.perf_counter(), 0
    finally:
      bar.close()
      manager.wait_until_finished()
      manager.close()
      writer.close()
  return state
