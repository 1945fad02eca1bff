"""Training: checkpoints and resume, evaluation files, data parallelism, divergence, phases."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genfill_jax import checkpoint, evaluate, losses, parallel, perceptual, train, train_step
from genfill_jax.gan_state import init_gan_state

from helpers import assert_params_close_after_adam, logged, run_steps, tiny_config


def _checkpoint_steps(workdir) -> list[int]:
  manager = checkpoint.create_manager(str(workdir), keep=2, read_only=True)
  steps = sorted(manager.all_steps())
  manager.close()
  return steps


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
  """Trains tiny for 4 steps, reruns the same command with 6, then --mode=eval.

  Returns what each stage left behind: the workdir, the states, the checkpoint
  steps after 4 steps, and --mode=eval's results.
  """
  workdir = tmp_path_factory.mktemp("resumed_run") / "run"
  first = train.train_and_evaluate(tiny_config(4), str(workdir))
  steps_after_first = _checkpoint_steps(workdir)
  resumed = train.train_and_evaluate(tiny_config(6), str(workdir))
  eval_config = tiny_config(6)
  eval_config.eval.split = "test"  # training evaluated the validation photos
  eval_config.eval.lpips_nets = ("alexnet", "vgg16")  # configs/tiny.py has AlexNet only
  evaluated = evaluate.evaluate_checkpoint(eval_config, str(workdir))
  return dict(workdir=workdir, first=first, steps_after_first=steps_after_first,
              resumed=resumed, evaluated=evaluated)


def test_checkpoints_are_saved_every_n_steps_and_the_last_k_kept(resumed_run):
  assert int(resumed_run["first"].step) == 4
  assert resumed_run["steps_after_first"] == [2, 4]  # checkpoint_every_steps = 2
  assert _checkpoint_steps(resumed_run["workdir"]) == [4, 6]  # keep_checkpoints = 2


def test_the_same_command_with_more_steps_resumes_from_the_latest_checkpoint(resumed_run):
  assert int(resumed_run["resumed"].step) == 6
  # Logged once per log_every_steps = 2, with nothing logged twice by the rerun.
  assert list(logged(resumed_run["workdir"], "filler/loss")) == [2, 4, 6]


def test_logged_losses_are_finite(resumed_run):
  assert all(np.isfinite(value) for value in logged(resumed_run["workdir"],
                                                    "filler/loss").values())


def test_training_evaluates_every_family_and_method_into_one_file(resumed_run):
  written = json.loads((resumed_run["workdir"] / "eval" / "step_4_validation" / "metrics.json")
                       .read_text())
  assert written["step"] == 4
  assert set(written["results"]) == {"box", "thin"}
  assert set(written["results"]["thin"]) == set(evaluate.METHODS) | {"hole_predictor"}
  assert not (resumed_run["workdir"] / "eval_results.json").exists()


def test_every_method_is_scored_by_psnr_ssim_l1_and_both_lpips_nets(resumed_run):
  results = resumed_run["evaluated"]
  for family in ("box", "thin"):
    for method in evaluate.METHODS:
      assert set(results[family][method]) == {"psnr", "ssim", "l1", "lpips_alexnet",
                                              "lpips_vgg16"}, (family, method)
      assert 0 <= results[family][method]["lpips_alexnet"] < 1


def test_the_filler_is_compared_with_the_exact_harmonic_fill_and_the_better_opencv(resumed_run):
  written = json.loads((resumed_run["workdir"] / "eval" / "step_6_test" / "metrics.json")
                       .read_text())
  comparisons = written["comparisons"]["thin"]
  assert set(comparisons) == {"vs_harmonic_exact", "vs_better_opencv"}
  psnr = comparisons["vs_better_opencv"]["psnr"]
  assert psnr["method"] in ("telea", "navier_stokes")
  assert psnr["low"] <= psnr["mean"] <= psnr["high"]
  # The difference is the filler's mean minus that method's (float32 per-image values).
  results = written["results"]["thin"]
  assert abs(psnr["mean"] - (results["filler"]["psnr"] - results[psnr["method"]]["psnr"])) < 1e-4


def test_training_writes_a_preview_grid_of_the_first_family(resumed_run):
  evaluation = resumed_run["workdir"] / "eval" / "step_4_validation"
  assert sorted(path.name for path in evaluation.glob("*.png")) == ["preview_box.png"]


def test_eval_mode_evaluates_the_latest_checkpoint_with_a_grid_per_family(resumed_run):
  evaluation = resumed_run["workdir"] / "eval" / "step_6_test"
  written = json.loads((evaluation / "metrics.json").read_text())
  assert written["step"] == 6 and written["results"] == resumed_run["evaluated"]
  # The settings that evaluated are recorded with the figures.
  assert written["config"]["eval"]["split"] == "test"
  assert written["config"]["hole_predictor"]["threshold"] == tiny_config().hole_predictor.threshold
  assert sorted(path.name for path in evaluation.glob("*.png")) == [
      "preview_box.png", "preview_thin.png"]


def test_eight_devices_compute_what_one_device_computes():
  config = tiny_config()
  assert jax.device_count() == 8
  one, one_history = run_steps(config, jax.devices()[:1], 3)
  eight, eight_history = run_steps(config, jax.devices(), 3)
  assert "discriminator/loss" in one_history[-1] and "hole_predictor/loss" in one_history[-1]
  # Step 0 starts from identical parameters: its losses agree to float precision.
  # Later steps start from parameters that Adam moved by summation-order noise
  # (helpers.assert_params_close_after_adam), so small losses (feature matching
  # ~2e-3) agree more loosely.
  for step, (one_metrics, eight_metrics) in enumerate(
      zip(one_history, eight_history, strict=True)):
    assert set(one_metrics) == set(eight_metrics)
    rtol = 1e-4 if step == 0 else 0.15
    for name in one_metrics:
      np.testing.assert_allclose(eight_metrics[name], one_metrics[name], rtol=rtol,
                                 atol=1e-6, err_msg=f"{name} at step {step}")
  assert_params_close_after_adam(eight, one)
  stats_one = jax.tree.leaves(one.hole_predictor.batch_stats)
  stats_eight = jax.tree.leaves(eight.hole_predictor.batch_stats)
  assert stats_one  # the tiny hole predictor carries BatchNorm
  for a, b in zip(stats_one, stats_eight, strict=True):
    np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)  # from the parameters above
  # Something was learned, identically: the params moved away from initialisation.
  initial = init_gan_state(config, parallel.create_mesh(jax.devices()[:1]))
  moved = jax.tree.leaves(jax.tree.map(lambda x, y: jnp.max(jnp.abs(x - y)),
                                       initial.filler.params, one.filler.params))
  assert max(float(x) for x in moved) > 1e-3  # well above the tolerance


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
  workdir = str(tmp_path / "run")
  train.train_and_evaluate(tiny_config(2), workdir)

  def poisoned(output, image, mask):
    hole, known = jnp.mean(jnp.abs(output - image) * mask), jnp.float32(0)
    return hole * jnp.nan, known

  monkeypatch.setattr(losses, "l1_in_holes_and_known", poisoned)
  with pytest.raises(train.NonFiniteLossError, match=r"filler/l1_hole is nan at step 3"):
    train.train_and_evaluate(tiny_config(4), workdir)
  assert _checkpoint_steps(workdir)[-1] == 2


def test_phases_follow_the_config():
  config = tiny_config()
  config.train.hole_predictor_end_step = 2
  config.train.filler_start_step = 1
  config.train.adversarial_start_step = 3
  phases = [train_step.phase_at(config, step) for step in range(4)]
  assert [p.hole_predictor for p in phases] == [True, True, False, False]
  assert [p.filler for p in phases] == [False, True, True, True]
  assert [p.adversarial for p in phases] == [False, False, False, True]


@pytest.mark.parametrize("step,every,total,due", [
    (2, 2, 5, True), (3, 2, 5, False), (5, 2, 5, True), (4, 100, 4, True), (1, 1, 9, True),
])
def test_itstime_is_every_n_steps_and_at_the_end(step, every, total, due):
  assert train.itstime(step, every, total) is due


def test_a_run_with_the_perceptual_loss_trains_and_logs_it(tmp_path):
  # The VGG weights load first inside the compiled step, as in a fresh process.
  perceptual.lpips_params.cache_clear()
  perceptual._vgg_stage_params.cache_clear()
  config = tiny_config(2)
  config.loss.perceptual = 1.0
  config.eval.families = ("box",)
  train.train_and_evaluate(config, str(tmp_path / "run"))
  values = logged(tmp_path / "run", "filler/perceptual")
  assert list(values) == [2] and values[2] > 0 and np.isfinite(values[2])


def test_multi_scale_training_trains_both_sizes_data_parallel():
  config = tiny_config()
  config.data.large_image_size, config.data.large_batch_size = 64, 4
  config.data.large_crop_every = 2
  state, history = run_steps(config, jax.devices()[:2], 2)  # step 1 is at 64 px
  assert all(np.isfinite(value) for metrics in history for value in metrics.values())
  assert history[0]["filler/loss"] != history[1]["filler/loss"]
  assert int(state.step) == 2
  # The hole predictor trains on the small step only (large_crops_train_hole_predictor).
  assert "hole_predictor/loss" in history[0] and "hole_predictor/loss" not in history[1]


def test_large_steps_train_the_hole_predictor_only_when_asked():
  config = tiny_config()
  config.train.hole_predictor_end_step = 3
  config.data.large_image_size, config.data.large_crop_every = 64, 2
  assert [train_step.phase_at(config, step).hole_predictor for step in range(4)] == [
      True, False, True, False]
  config.data.large_crops_train_hole_predictor = True
  assert [train_step.phase_at(config, step).hole_predictor for step in range(4)] == [
      True, True, True, False]
  assert all(train_step.phase_at(config, step).filler for step in range(4))


def test_the_log_window_counts_the_images_each_step_trained_on(monkeypatch):
  clock = iter([0.0, 2.0, 2.0])  # start, flush (2 s of training), restart
  monkeypatch.setattr(train.time, "perf_counter", lambda: next(clock))
  window = train._LogWindow()
  window.add(1, {"filler/loss": 1.0}, 16)
  window.add(2, {"filler/loss": 3.0}, 4)
  step, scalars = window.flush()
  assert step == 2 and scalars == {"filler/loss": 2.0, "images_per_second": 10.0}


def test_the_log_window_averages_each_metric_over_the_steps_that_have_it(monkeypatch):
  clock = iter([0.0, 1.0, 1.0])
  monkeypatch.setattr(train.time, "perf_counter", lambda: next(clock))
  window = train._LogWindow()
  window.add(1, {"filler/loss": 1.0, "hole_predictor/loss": 0.5}, 16)
  window.add(2, {"filler/loss": 3.0}, 4)  # a large step without the hole predictor
  assert window.flush()[1] == {"filler/loss": 2.0, "hole_predictor/loss": 0.5,
                               "images_per_second": 20.0}


def test_fourier_res_blocks_train_data_parallel_with_finite_losses():
  config = tiny_config()
  config.filler.res_block = "fourier"
  state, history = run_steps(config, jax.devices()[:2], 2)
  assert all(np.isfinite(value) for metrics in history for value in metrics.values())
  block = state.filler.params["res_blocks_0"]
  assert "spectral" in block["ffc1"] and "fourier_unit" in block["ffc1"]["spectral"]


def test_bfloat16_trains_past_the_adversarial_start_close_to_float32():
  # Convolutions run in bfloat16; parameters, BatchNorm statistics and the losses
  # (the R1 penalty's double backward included) stay float32.
  config = tiny_config()
  assert config.train.adversarial_start_step == 1 and config.loss.r1_gamma > 0
  steps = 4  # reconstruction at step 0, the full game (discriminator, R1) from step 1
  full, full_history = run_steps(config, jax.devices()[:2], steps)
  config.compute_dtype = "bfloat16"
  half, half_history = run_steps(config, jax.devices()[:2], steps)
  assert "discriminator/r1" in half_history[-1] and "filler/adversarial" in half_history[-1]
  for step, (full_metrics, half_metrics) in enumerate(zip(full_history, half_history,
                                                          strict=True)):
    for name, value in half_metrics.items():
      assert value.dtype == np.float32 and np.isfinite(value), (name, step)
      # bfloat16 keeps 8 bits of mantissa: losses agree to a few percent, small
      # terms (R1 and feature matching, ~1e-3) to an absolute 3e-3.
      np.testing.assert_allclose(value, full_metrics[name], rtol=0.05, atol=3e-3,
                                 err_msg=f"{name} at step {step}")
  for tree in (half.filler.params, half.hole_predictor.batch_stats,
               half.discriminator.params):
    assert {leaf.dtype for leaf in jax.tree.leaves(tree)} == {np.dtype(np.float32)}
