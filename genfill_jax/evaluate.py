"""Evaluation on the fixed stream: the filler (true and predicted mask), the
harmonic fill (the filler's first guess alone, and solved exactly), OpenCV's
Telea and Navier-Stokes on exactly the same cases, and the hole predictor.

Per mask family: masked PSNR, SSIM, hole L1 and LPIPS of every method, the
hole predictor's IoU, precision and recall (`metrics.py` and `perceptual.py`
define them), and the filler's paired differences against the exact harmonic
fill and the better OpenCV method, with bootstrap intervals over examples.
"""

import functools
import hashlib
import json
import re

import jax
import ml_collections
import numpy as np
import tqdm
from etils import epath
from jax.experimental import multihost_utils
from jax.sharding import PartitionSpec
from PIL import Image

from genfill_jax import (
  baselines,
  config_checks,
  inpaint,
  metrics,
  parallel,
  perceptual,
  pixels,
  recipes,
  runs,
)
from genfill_jax.data import loader
from genfill_jax.gan_state import GanState
from genfill_jax.models import pull_push

# 'harmonic' is the filler's first guess alone (no network; the run's solver),
# 'harmonic_exact' the Laplace equation solved exactly (sparse LU): what the
# learned filler adds over them is the network's own contribution.
METHODS = ("filler", "filler_blind", "harmonic", "harmonic_exact", "telea", "navier_stokes")
OPENCV_METHODS = baselines.OPENCV_METHODS
# The methods shown side by side in preview grids.
PREVIEW_METHODS = ("filler", "harmonic_exact", "telea", "navier_stokes")
# The filler is compared, example by example, with these (and the better OpenCV method).
COMPARED_WITH = ("harmonic_exact",)


def _model_outputs(config, state: GanState, batch) -> dict[str, jax.Array]:
  batch = pixels.to_signed_batch(batch)
  predictor_variables, filler_variables = inpaint.inference_variables(state)
  predict = functools.partial(inpaint.predict_holes, config, predictor_variables)
  find = functools.partial(inpaint.find_holes, config, predictor_variables)
  predicted = find(batch.predictor_input)
  blind = inpaint.fill(config, filler_variables,
                       *recipes.for_config(config).blind_inputs(batch, predict, find))
  filled = inpaint.fill(config, filler_variables, batch.filler_input, batch.mask, batch.image)
  harmonic = pull_push.harmonic_first_guess(
      batch.image, batch.mask, config.filler.harmonic_solver,
      config.filler.harmonic_iterations, config.filler.harmonic_tolerance)
  return {"filler": filled, "filler_blind": blind, "harmonic": harmonic,
          "predicted_mask": predicted}


def compile_model_outputs(config: ml_collections.ConfigDict, mesh):
  """The jitted (state, sharded batch) -> outputs function `evaluate` runs; build it once.

  Per-device code under `jax.shard_map`, as in training: each device fills its own
  examples, so the first guess's iterative solve stops on each device's own
  residual instead of all-reducing the batch's residual across hosts at every
  iteration. Outputs stay split over the data axis like the batch, so that each
  host reads back only its own examples.
  """
  data = PartitionSpec(parallel.DATA_AXIS)
  return jax.jit(jax.shard_map(functools.partial(_model_outputs, config), mesh=mesh,
                               in_specs=(PartitionSpec(), data), out_specs=data))


def _host_part(tree, mesh):
  """This host's rows of batch-sharded global arrays, as NumPy."""
  local = multihost_utils.global_array_to_host_local_array(
      tree, mesh, PartitionSpec(parallel.DATA_AXIS))
  return jax.tree.map(np.asarray, local)


def _gather(tree):
  """Host-local NumPy rows of every host, concatenated (the same on every host)."""
  return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def _results_in_unit_interval(outputs: dict, batch: dict) -> dict[str, np.ndarray]:
  """Every method's result for a gathered batch, as float images in [0, 1]."""
  results = {name: pixels.signed_to_unit_interval(outputs[name])
             for name in ("filler", "filler_blind", "harmonic")}
  results["harmonic_exact"] = baselines.exact_harmonic_fill(batch["image"], batch["mask"])
  results.update(opencv_results_in_unit_interval(batch))
  return results


def opencv_results_in_unit_interval(batch: dict) -> dict[str, np.ndarray]:
  """{method: OpenCV's fill of a batch's holes} for each of `OPENCV_METHODS`, as
  float images in [0, 1]."""
  return {method: pixels.uint8_to_unit_interval(
              baselines.opencv_inpaint(batch["image"], batch["mask"], method))
          for method in OPENCV_METHODS}


def _per_image_metrics(config, result, target, mask) -> dict[str, np.ndarray]:
  """Every metric of one method on one batch, one value per image."""
  values = dict(metrics.image_metrics(result, target, mask))
  for net in config.eval.lpips_nets:
    values[f"lpips_{net}"] = perceptual.lpips_distance(net, result, target)
  return jax.tree.map(np.asarray, values)


def _better_opencv_method(means: dict, metric: str) -> str:
  """The OpenCV method with the better mean `metric` (higher PSNR/SSIM, lower L1/LPIPS)."""
  sign = 1 if metric in metrics.HIGHER_IS_BETTER else -1
  return max(OPENCV_METHODS, key=lambda method: sign * means[method][metric])


def _comparisons(per_image: dict, means: dict) -> dict:
  """{'vs_<method>': {metric: paired_bootstrap(filler - method)}}, the better OpenCV
  method chosen per metric (its name under 'method')."""
  compared = {}
  for metric in per_image["filler"]:
    for name, other in [*((f"vs_{method}", method) for method in COMPARED_WITH),
                        ("vs_better_opencv", _better_opencv_method(means, metric))]:
      differences = per_image["filler"][metric] - per_image[other][metric]
      compared.setdefault(name, {})[metric] = {
          **metrics.paired_bootstrap(differences), "method": other}
  return compared


class Interrupted(Exception):
  """`evaluate` stopped early because `stop_requested` said so (a preemption)."""


def evaluate(config: ml_collections.ConfigDict, state: GanState, mesh,
             families=None, model_outputs=None,
             stop_requested=lambda: False) -> tuple[dict, dict, dict]:
  """Runs the fixed evaluation stream. Returns (results, comparisons, previews).

  results[family][method] = {'psnr', 'ssim', 'l1', 'lpips_<net>'...} (means
  over images) and results[family]['hole_predictor'] = {'iou', 'precision',
  'recall'}; comparisons[family] as `_comparisons` makes them; previews[family]:
  arrays of the family's first batch for `save_preview`. Pass `model_outputs`
  from `compile_model_outputs` to avoid recompiling.

  Each host scores its own share of every batch (the baselines included); only
  the per-image numbers and the first batch of each family (the preview) are
  gathered. `stop_requested` is asked after every batch, on every host at the
  same points; when it says True, Interrupted is raised.
  """
  model_outputs = model_outputs or compile_model_outputs(config, mesh)
  results, comparisons, previews = {}, {}, {}
  for family in families or config.eval.families:
    per_batch = {method: [] for method in METHODS}
    counts = []
    batches = loader.create_eval_loader(config, family)
    for batch in tqdm.tqdm(batches, desc=f"eval {family}", unit="batch", leave=False,
                           disable=jax.process_index() != 0):
      outputs = _host_part(model_outputs(state, parallel.shard_batch(batch, mesh)), mesh)
      target = pixels.uint8_to_unit_interval(batch["image"])
      mask = batch["mask"].astype(np.float32)
      in_unit_interval = _results_in_unit_interval(outputs, batch)
      for method, result in in_unit_interval.items():
        per_batch[method].append(_per_image_metrics(config, np.clip(result, 0, 1), target,
                                                    mask))
      hole_counts = metrics.count_holes(outputs["predicted_mask"], mask)
      counts.append([hole_counts.overlap, hole_counts.predicted, hole_counts.true])
      if family not in previews:
        previews[family] = _gather({
            "filler_input": batch["filler_input"], "image": batch["image"],
            "predicted_mask": outputs["predicted_mask"],
            **{method: in_unit_interval[method] for method in PREVIEW_METHODS}})
      if jax.process_count() > 1:
        # Scoring shares no collective between hosts, so a faster host would run
        # ahead, and the preemption sync point (the furthest host's check + 1)
        # would wait for the slowest to catch up: keep them in step.
        multihost_utils.sync_global_devices("evaluation batch")
      if stop_requested():
        raise Interrupted(f"evaluation of {family} stopped early")
    per_image = _gather({method: {name: np.concatenate([values[name] for values in batches])
                                  for name in batches[0]}
                         for method, batches in per_batch.items()})
    results[family] = {method: {name: float(np.mean(values)) for name, values in by_name.items()}
                       for method, by_name in per_image.items()}
    comparisons[family] = _comparisons(per_image, results[family])
    # Per-batch counts are exact in float32 (JAX's default); their sum is not.
    all_counts = _gather(np.asarray(counts, np.float32)).astype(np.float64).sum(axis=0)
    results[family]["hole_predictor"] = metrics.hole_scores(
        metrics.HoleCounts(*map(float, all_counts)))
  return results, comparisons, previews


def flatten_results(results: dict) -> dict[str, float]:
  """{'eval/<family>/<method>/<metric>': value} for the metric writer."""
  return {f"eval/{family}/{method}/{name}": value
          for family, methods in results.items()
          for method, metrics in methods.items() for name, value in metrics.items()}


def _format_difference(difference: dict) -> str:
  return f"{difference['mean']:+.4f} [{difference['low']:+.4f}, {difference['high']:+.4f}]"


def format_table(results: dict, comparisons: dict) -> str:
  """A readable table: family x method x every metric, the predictor's IoU, and the
  filler's paired differences: mean [95% bootstrap interval]."""
  names = list(next(iter(results.values()))["filler"])
  lines = [f"{'family':<8} {'method':<15}" + "".join(f"{name:>15}" for name in names)]
  for family, methods in results.items():
    for method in METHODS:
      lines.append(f"{family:<8} {method:<15}"
                   + "".join(f"{methods[method][name]:15.4f}" for name in names))
    predictor = methods["hole_predictor"]
    lines.append(f"{family:<8} {'hole predictor':<15}IoU {predictor['iou']:.3f}  precision "
                 f"{predictor['precision']:.3f}  recall {predictor['recall']:.3f}")
    for by_metric in comparisons[family].values():
      for name in names:
        lines.append(f"{family:<8} filler - {by_metric[name]['method']} {name}: "
                     f"{_format_difference(by_metric[name])}")
  return "\n".join(lines)


def save_preview(preview: dict, path: epath.Path, rows: int) -> None:
  """PNG grid, one example per row.

  Columns: filler input | predicted mask | filler | exact harmonic fill | Telea |
  Navier-Stokes | ground truth.
  """
  rows = min(rows, len(preview["image"]))
  mask_rgb = np.repeat(preview["predicted_mask"][:rows] * 255, 3, axis=-1)
  filled = [np.clip(preview[method][:rows] * 255 + 0.5, 0, 255)
            for method in PREVIEW_METHODS]
  columns = [preview["filler_input"][:rows], mask_rgb, *filled, preview["image"][:rows]]
  grid = np.concatenate([np.concatenate(list(column), axis=0) for column in columns], axis=1)
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("wb") as stream:
    Image.fromarray(grid.astype(np.uint8)).save(stream, format="PNG")


def _split_images(config: ml_collections.ConfigDict, split: str) -> tuple[str, ...]:
  # 'folder/' and 'folder' read the same images.
  return tuple(name.rstrip("/") for name in loader.split_images(config.data, split))


def _images_label(images: tuple[str, ...]) -> str:
  """A folder-name-safe label of `_split_images`: a folder's last part, or the photo
  names joined by '+' (over 40 characters: cut, with a hash of the whole)."""
  label = "+".join(name.split("/")[-1] for name in images)
  label = re.sub(r"[^A-Za-z0-9_+-]", "-", label)
  if len(label) > 40:
    label = label[:32] + "-" + hashlib.sha1(label.encode()).hexdigest()[:7]
  return label


def evaluation_dir(workdir: str, step: int, config: ml_collections.ConfigDict) -> epath.Path:
  """Where the evaluation of checkpoint `step` is written:
  <workdir>/eval/step_<N>_<split>, with '_<size>px' at another size than the run
  trained at and '_<images>' (`_images_label`) on other images than the run's own
  for that split (a probe folder, say), so that neither overwrites the run's own
  evaluation."""
  suffix = f"_{config.eval.split}"
  if runs.config_path(workdir).exists():
    trained = runs.load_config(workdir)
    if trained.data.image_size != config.data.image_size:
      suffix += f"_{config.data.image_size}px"
    images = _split_images(config, config.eval.split)
    if images != _split_images(trained, config.eval.split):
      suffix += f"_{_images_label(images)}"
  return epath.Path(workdir) / "eval" / f"step_{step}{suffix}"


def write_evaluation(out: epath.Path, step: int, evaluation: tuple[dict, dict, dict],
                     config: ml_collections.ConfigDict) -> None:
  """<out>/metrics.json ({'step', 'results', 'comparisons', 'config'}: the config that
  evaluated, so that a rerun with other settings can be told apart) and
  preview_<family>.png for each preview of `evaluation` (what `evaluate` returns)."""
  results, comparisons, previews = evaluation
  out.mkdir(parents=True, exist_ok=True)
  (out / "metrics.json").write_text(json.dumps(
      {"step": step, "results": results, "comparisons": comparisons,
       "config": json.loads(config.to_json_best_effort())}, indent=2))
  for family, preview in previews.items():
    save_preview(preview, out / f"preview_{family}.png", config.eval.preview_examples)


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=eval: restores a checkpoint of `workdir` and evaluates it.

  Restores config.eval.step (-1: the latest) onto this machine's devices,
  whatever device count trained it, then writes `write_evaluation`'s files
  (a preview for every mask family) to `evaluation_dir` and prints the table;
  returns the results.
  """
  mesh = parallel.create_mesh()
  config_checks.check_for_evaluation(config, mesh.size)
  step = None if config.eval.step < 0 else config.eval.step
  trained = runs.load_config(workdir)
  config_checks.check_run_never_saw_evaluation_photos(trained, config)
  differences = runs.model_differences(trained, config, test_time=False)
  if differences and jax.process_index() == 0:
    print(f"warning: evaluating {workdir} with model settings that differ from its "
          f"config.json (pass them as --config.<field>=<value> to evaluate the run as "
          f"it trained):\n  " + "\n  ".join(differences))
  test_time_differences = runs.model_differences(trained, config, test_time=True)
  if test_time_differences and jax.process_index() == 0:
    print(f"note: evaluating {workdir}'s weights with test-time settings other than "
          f"its config.json's:\n  " + "\n  ".join(test_time_differences))
  _, state = runs.restore_run(workdir, step, config=config, mesh=mesh)
  evaluation = evaluate(config, state, mesh)
  step = int(state.step)
  if jax.process_index() == 0:
    write_evaluation(evaluation_dir(workdir, step, config), step, evaluation, config)
    print(f"evaluation of step {step} ({workdir}, {config.eval.split} split):\n"
          f"{format_table(*evaluation[:2])}")
  return evaluation[0]
