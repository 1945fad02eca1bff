"""Evaluation on the fixed stream: the filler (true and predicted mask), the
harmonic fill alone, OpenCV's Telea and Navier-Stokes on exactly the same cases,
and the hole predictor.

Per mask family: masked PSNR, SSIM and hole L1 of every method, and the hole
predictor's IoU, precision and recall (`metrics.py` defines them).
"""

import functools
import json

import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from PIL import Image

from genfill_jax import config_checks, inpaint, metrics, parallel, pixels, recipes, runs
from genfill_jax.data import loader
from genfill_jax.gan_state import GanState
from genfill_jax.models import pull_push

# 'harmonic' is the filler's first guess alone (no network): what the learned
# correction adds over it is the network's own contribution.
METHODS = ("filler", "filler_blind", "harmonic", "telea", "navier_stokes")
OPENCV_FLAGS = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}
# The methods shown side by side in preview grids.
PREVIEW_METHODS = ("filler", "telea", "navier_stokes")
OPENCV_RADIUS = 3


def _model_outputs(config, state: GanState, batch) -> dict[str, jax.Array]:
  batch = pixels.to_signed_batch(batch)
  predictor_variables, filler_variables = inpaint.inference_variables(state)
  predict = functools.partial(inpaint.predict_holes, config, predictor_variables)
  predicted = (predict(batch.predictor_input) > 0.5).astype(jnp.float32)
  blind = inpaint.fill(config, filler_variables,
                       *recipes.for_config(config).blind_inputs(batch, predict))
  filled = inpaint.fill(config, filler_variables, batch.filler_input, batch.mask, batch.image)
  harmonic = pull_push.harmonic_fill(batch.image, batch.mask,
                                     config.filler.harmonic_iterations)
  return {"filler": filled, "filler_blind": blind, "harmonic": harmonic,
          "predicted_mask": predicted}


def compile_model_outputs(config: ml_collections.ConfigDict):
  """The jitted (state, sharded batch) -> outputs function `evaluate` runs; build it once."""
  return jax.jit(functools.partial(_model_outputs, config))


def opencv_inpaint(images: np.ndarray, masks: np.ndarray, method: str) -> np.ndarray:
  """cv2.inpaint (radius 3) of uint8 RGB images (N, H, W, 3) with bool masks (N, H, W, 1)."""
  flag = OPENCV_FLAGS[method]
  return np.stack([
      cv2.inpaint(np.ascontiguousarray(image), mask[..., 0].astype(np.uint8) * 255,
                  OPENCV_RADIUS, flag)
      for image, mask in zip(images, masks, strict=True)
  ])


def _gather(tree):
  return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def _results_in_unit_interval(outputs: dict, batch: dict) -> dict[str, np.ndarray]:
  """Every method's result for a gathered batch, as float images in [0, 1]."""
  results = {name: pixels.signed_to_unit_interval(outputs[name])
             for name in ("filler", "filler_blind", "harmonic")}
  for method in OPENCV_FLAGS:
    results[method] = pixels.uint8_to_unit_interval(
        opencv_inpaint(batch["image"], batch["mask"], method))
  return results


def evaluate(config: ml_collections.ConfigDict, state: GanState, mesh,
             families=None, model_outputs=None) -> tuple[dict, dict]:
  """Runs the fixed evaluation stream. Returns (results, previews).

  results[family][method] = {'psnr', 'ssim', 'l1'} (means over images) and
  results[family]['hole_predictor'] = {'iou', 'precision', 'recall'};
  previews[family]: arrays of the family's first batch for `save_preview`.
  Pass `model_outputs` from `compile_model_outputs` to avoid recompiling.
  """
  model_outputs = model_outputs or compile_model_outputs(config)
  results, previews = {}, {}
  for family in families or config.eval.families:
    per_image = {method: [] for method in METHODS}
    counts = metrics.HoleCounts()
    for host_batch in loader.create_eval_loader(config, family):
      batch = parallel.shard_batch(host_batch, mesh)
      outputs = _gather(model_outputs(state, batch))
      batch = _gather(batch)
      target = pixels.uint8_to_unit_interval(batch["image"])
      mask = batch["mask"].astype(np.float32)
      in_unit_interval = _results_in_unit_interval(outputs, batch)
      for method, result in in_unit_interval.items():
        per_image[method].append(jax.tree.map(np.asarray, metrics.image_metrics(
            np.clip(result, 0, 1), target, mask)))
      counts = counts + metrics.count_holes(outputs["predicted_mask"], mask)
      if family not in previews:
        previews[family] = {"filler_input": batch["filler_input"],
                            "predicted_mask": outputs["predicted_mask"],
                            "image": batch["image"],
                            **{method: in_unit_interval[method]
                               for method in PREVIEW_METHODS}}
    results[family] = {
        method: {name: float(np.mean(np.concatenate([m[name] for m in per_batch])))
                 for name in metrics.IMAGE_METRICS}
        for method, per_batch in per_image.items()
    }
    results[family]["hole_predictor"] = metrics.hole_scores(counts)
  return results, previews


def flatten_results(results: dict) -> dict[str, float]:
  """{'eval/<family>/<method>/<metric>': value} for the metric writer."""
  return {f"eval/{family}/{method}/{name}": value
          for family, methods in results.items()
          for method, metrics in methods.items() for name, value in metrics.items()}


def format_table(results: dict) -> str:
  """A readable table: family x method x PSNR / SSIM / L1, and the predictor's IoU."""
  lines = [f"{'family':<8} {'method':<14} {'PSNR (dB)':>9} {'SSIM':>7} {'L1':>7}"]
  for family, methods in results.items():
    for method in METHODS:
      metrics = methods[method]
      lines.append(f"{family:<8} {method:<14} {metrics['psnr']:9.2f} {metrics['ssim']:7.4f} "
                   f"{metrics['l1']:7.4f}")
    predictor = methods["hole_predictor"]
    lines.append(f"{family:<8} {'hole predictor':<14} IoU {predictor['iou']:.3f}  precision "
                 f"{predictor['precision']:.3f}  recall {predictor['recall']:.3f}")
  return "\n".join(lines)


def save_preview(preview: dict, path: epath.Path, rows: int) -> None:
  """PNG grid, one example per row.

  Columns: filler input | predicted mask | filler | Telea | Navier-Stokes | ground truth.
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


def evaluation_dir(workdir: str, step: int, suffix: str = "") -> epath.Path:
  """Where the evaluation of checkpoint `step` is written: <workdir>/eval/step_<N><suffix>."""
  return epath.Path(workdir) / "eval" / f"step_{step}{suffix}"


def write_evaluation(out: epath.Path, step: int, results: dict, previews: dict,
                     rows: int) -> None:
  """<out>/metrics.json ({'step', 'results'}) and preview_<family>.png for each preview."""
  out.mkdir(parents=True, exist_ok=True)
  (out / "metrics.json").write_text(json.dumps({"step": step, "results": results}, indent=2))
  for family, preview in previews.items():
    save_preview(preview, out / f"preview_{family}.png", rows)


def _size_suffix(config: ml_collections.ConfigDict, workdir: str) -> str:
  """'' at the run's training size, '_<size>px' when evaluated at another size."""
  if not runs.config_path(workdir).exists():
    return ""
  trained_size = runs.load_config(workdir).data.image_size
  size = config.data.image_size
  return "" if size == trained_size else f"_{size}px"


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=eval: restores a checkpoint of `workdir` and evaluates it.

  Restores config.eval.step (-1: the latest) onto this machine's devices,
  whatever device count trained it, then writes `write_evaluation`'s files
  (a preview for every mask family) to `evaluation_dir` and prints the table.
  Evaluated at another image size than the run trained at
  (config.data.image_size), the folder is step_<N>_<size>px.
  """
  mesh = parallel.create_mesh()
  config_checks.check_for_evaluation(config, mesh.size)
  step = None if config.eval.step < 0 else config.eval.step
  _, state = runs.restore_run(workdir, step, config=config, mesh=mesh)
  results, previews = evaluate(config, state, mesh)
  step = int(state.step)
  if jax.process_index() == 0:
    write_evaluation(evaluation_dir(workdir, step, _size_suffix(config, workdir)), step,
                     results, previews, config.eval.preview_examples)
    print(f"evaluation of step {step} ({workdir}):\n{format_table(results)}")
  return results
