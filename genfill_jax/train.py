"""The training loop: `train_and_evaluate(config, workdir)`."""

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
  gan_state,
  metric_writer,
  parallel,
  preemption,
  runs,
  train_step,
)
from genfill_jax.data import listing, loader


class NonFiniteLossError(FloatingPointError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


def itstime(step: int, every: int, total: int) -> bool:
  """Whether something done every `every` steps is due after `step` completed steps
  (always after the last one, `total`)."""
  return step % every == 0 or step == total


class _LogWindow:
  """The metrics of the steps since the last log and the time they took to train
  (evaluation excluded), for averaged scalars and images/s."""

  def __init__(self):
    self._reset()

  def _reset(self) -> None:
    self.history: list[tuple[int, dict]] = []
    self._examples = 0
    self._seconds = 0.0
    self._started = time.perf_counter()

  def add(self, step: int, metrics: dict, batch_size: int) -> None:
    self.history.append((step, metrics))
    self._examples += batch_size

  def pause(self) -> None:
    self._seconds += time.perf_counter() - self._started

  def resume(self) -> None:
    self._started = time.perf_counter()

  def check_finite(self) -> None:
    """Raises NonFiniteLossError naming the first non-finite loss and its step."""
    for step, metrics in self.history:
      for name, value in jax.device_get(metrics).items():
        if not np.isfinite(value):
          raise NonFiniteLossError(
              f"{name} is {float(value)} at step {step}; training stopped, the last "
              f"checkpoint before it is kept")

  def flush(self) -> tuple[int, dict[str, float]]:
    """(last step, scalars averaged over the window with images_per_second); starts anew."""
    self.pause()
    # Not every step trains every player (multi-scale large steps can skip the
    # hole predictor): each name is averaged over the steps that have it.
    names = dict.fromkeys(name for _, metrics in self.history for name in metrics)
    averaged = {name: float(np.mean([float(metrics[name]) for _, metrics in self.history
                                     if name in metrics]))
                for name in names}
    averaged["images_per_second"] = self._examples / max(self._seconds, 1e-9)
    last_step = self.history[-1][0]
    self._reset()
    return last_step, averaged


_SHOWN_ON_BAR = {"filler/loss": "filler", "discriminator/loss": "disc",
                 "hole_predictor/loss": "holes", "images_per_second": "img/s"}


def _log(window: _LogWindow, writer, bar) -> None:
  """Checks the window's losses are finite, then writes their averages and shows them."""
  window.check_finite()
  step, scalars = window.flush()
  writer.write(step, scalars)
  bar.set_postfix({label: f"{scalars[name]:.3g}"
                   for name, label in _SHOWN_ON_BAR.items() if name in scalars})


def _evaluate(config, state, mesh, workdir, writer, model_outputs) -> None:
  """Evaluates, logs the scalars and writes metrics.json with the first family's preview."""
  step = int(state.step)
  results, comparisons, previews = evaluate.evaluate(
      config, state, mesh, model_outputs=model_outputs, stop_requested=preemption.reached)
  writer.write(step, evaluate.flatten_results(results))
  if jax.process_index() == 0:
    first_family = next(iter(previews))  # one grid per evaluation while training
    evaluate.write_evaluation(evaluate.evaluation_dir(workdir, step, config), step,
                              (results, comparisons, {first_family: previews[first_family]}),
                              config)
    tqdm.tqdm.write(f"evaluation at step {step}:\n"
                    f"{evaluate.format_table(results, comparisons)}")


def _start(config, mesh, manager) -> gan_state.GanState:
  """The latest checkpoint's state, or a new game."""
  if manager.latest_step() is not None:
    return checkpoint.restore(manager, gan_state.abstract_gan_state(config, mesh))
  return gan_state.init_gan_state(config, mesh)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> gan_state.GanState:
  """Trains (or resumes training) in `workdir`; returns the final state.

  Raises config_checks.ConfigError before anything is written for a config
  that cannot work.
  """
  mesh = parallel.create_mesh()
  config_checks.check_for_training(config, mesh.size)
  if jax.process_index() == 0:
    epath.Path(workdir).mkdir(parents=True, exist_ok=True)
    runs.save_config(config, workdir)
  listing.prepare(config, workdir)  # each image folder listed once, by one process
  manager = checkpoint.create_manager(workdir, config.train.keep_checkpoints)
  state = _start(config, mesh, manager)
  start_step, num_steps = int(state.step), config.train.num_train_steps
  data = parallel.prefetch_to_devices(iter(loader.create_train_loader(config, start_step)),
                                      mesh)
  writer = metric_writer.MetricWriter(workdir, start_step)
  compiled_steps: dict[train_step.Phase, object] = {}
  eval_outputs = evaluate.compile_model_outputs(config, mesh)
  window = _LogWindow()
  # Redirected to a log file (nohup), the bar is redrawn once a minute, not every step.
  bar = tqdm.tqdm(total=num_steps, initial=start_step, desc="train", unit="step",
                  disable=jax.process_index() != 0, dynamic_ncols=True,
                  mininterval=0.1 if sys.stderr.isatty() else 60)
  with preemption.watch_for_preemption():
    try:
      for step in range(start_step, num_steps):
        phase = train_step.phase_at(config, step)
        if phase not in compiled_steps:
          compiled_steps[phase] = train_step.make_train_step(config, mesh, phase)
        state, metrics = compiled_steps[phase](state, next(data))
        done = step + 1
        window.add(done, metrics, loader.global_batch_size_at(config.data, step))
        bar.update(1)
        preempted = preemption.reached()  # every host calls it every step
        at_checkpoint = itstime(done, config.train.checkpoint_every_steps, num_steps) or preempted
        if at_checkpoint or itstime(done, config.train.log_every_steps, num_steps):
          _log(window, writer, bar)  # raises on a NaN: never saved
        if at_checkpoint:
          checkpoint.save(manager, state)
        if preempted:
          tqdm.tqdm.write(f"SIGTERM: checkpoint of step {done} saved, stopping; rerun the "
                          "same command to continue")
          break
        if itstime(done, config.train.eval_every_steps, num_steps):
          window.pause()
          try:
            _evaluate(config, state, mesh, workdir, writer, eval_outputs)
          except evaluate.Interrupted:
            if not at_checkpoint:
              window.check_finite()  # never save a diverged state
              checkpoint.save(manager, state)
            tqdm.tqdm.write(f"SIGTERM during the evaluation at step {done}: checkpoint of "
                            f"step {done} saved, stopping; rerun the same command to "
                            "continue")
            break
          window.resume()
    finally:
      data.close()
      bar.close()
      manager.wait_until_finished()
      manager.close()
      writer.close()
  return state
