"""Evaluation on the fixed stream: the filler (true and predicted mask), the
harmonic fill alone, OpenCV's Telea and Navier-Stokes on exactly the same cases,
and the hole predictor.

Metrics, per mask family, on images in [0, 1]: masked PSNR (the error over the
true hole pixels only), SSIM of the whole result (dm-pix), L1 in the holes; for
the hole predictor, IoU, precision and recall pooled over all pixels.
"""

import functools
import json

import cv2
import dm_pix
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from PIL import Image

from genfill_jax import losses, models, parallel, run_config
from genfill_jax.data import loader
from genfill_jax.models import pull_push
from genfill_jax.train_state import GanState
from genfill_jax.train_step import to_unit_range

# 'harmonic' is the filler's first guess alone (no network): what the learned
# correction adds over it is the network's own contribution.
METHODS = ("filler", "filler_blind", "harmonic", "telea", "navier_stokes")
OPENCV_FLAGS = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}
# The methods shown side by side in preview grids.
PREVIEW_METHODS = ("filler", "telea", "navier_stokes")
OPENCV_RADIUS = 3


def predict_holes(config, hole_predictor_variables, image: jax.Array) -> jax.Array:
  """Hole probabilities (N, H, W, 1) for images in [-1, 1]."""
  built = models.create_models(config)
  logits = built.hole_predictor.apply(hole_predictor_variables, image, train=False)
  # Cell maps (1/2^k) cover their pixels; full-resolution maps stay as they are.
  return models.resize_hole_map(jax.nn.sigmoid(logits), *image.shape[1:3])


def fill(config, filler_variables, corrupted: jax.Array, hole_map: jax.Array,
         known: jax.Array) -> jax.Array:
  """The filler's result in [-1, 1]: composited onto `known` (our recipe) or raw (original)."""
  built = models.create_models(config)
  output = built.filler.apply(filler_variables, corrupted, hole_map, train=False)
  if config.train.recipe == "original":
    return output
  return losses.composite(output, known, (hole_map > 0.5).astype(output.dtype))


def inference_variables(state: GanState) -> tuple[dict, dict]:
  """(hole predictor, filler) variables for inference: the filler's EMA params."""
  return ({"params": state.hole_predictor.params,
           "batch_stats": state.hole_predictor.batch_stats},
          {"params": state.filler_ema_params, "batch_stats": state.filler.batch_stats})


def _model_outputs(config, state: GanState, batch) -> dict[str, jax.Array]:
  image = to_unit_range(batch["image"])
  corrupted = to_unit_range(batch["corrupted"])
  noisy = to_unit_range(batch["noisy"])
  mask = batch["mask"].astype(jnp.float32)
  predictor_variables, filler_variables = inference_variables(state)
  probabilities = predict_holes(config, predictor_variables, noisy)
  predicted = (probabilities > 0.5).astype(jnp.float32)
  if config.train.recipe == "original":
    # The original's way: the predictor's probabilities condition the filler.
    blind = fill(config, filler_variables, corrupted,
                 predict_holes(config, predictor_variables, corrupted), corrupted)
  else:
    # Blind: the predictor finds the noise, which is then treated as a hole.
    blind = fill(config, filler_variables, noisy * (1 - predicted), predicted, noisy)
  filled = fill(config, filler_variables, corrupted, mask, image)
  harmonic = pull_push.harmonic_fill(image, mask, config.filler.get("harmonic_iterations", 200))
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


@jax.jit
def _image_metrics(result: jax.Array, target: jax.Array, mask: jax.Array) -> dict:
  """Per-image masked PSNR, SSIM and hole L1 for images in [0, 1]."""
  hole_values = jnp.maximum(jnp.sum(mask, axis=(1, 2, 3)) * 3, 1)
  squared = jnp.sum((result - target) ** 2 * mask, axis=(1, 2, 3)) / hole_values
  absolute = jnp.sum(jnp.abs(result - target) * mask, axis=(1, 2, 3)) / hole_values
  return {"psnr": 10 * jnp.log10(1 / jnp.maximum(squared, 1e-10)),
          "ssim": dm_pix.ssim(result, target), "l1": absolute}


def _gather(tree):
  return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def evaluate(config: ml_collections.ConfigDict, state: GanState, mesh,
             families=None, model_outputs=None) -> tuple[dict, dict]:
  """Runs the fixed evaluation stream. Returns (results, preview).

  results[family][method] = {'psnr', 'ssim', 'l1'} (means over images) and
  results[family]['hole_predictor'] = {'iou', 'precision', 'recall'};
  previews[family]: arrays of the family's first batch for `save_preview`.
  Pass `model_outputs` from `compile_model_outputs` to avoid recompiling.
  """
  model_outputs = model_outputs or compile_model_outputs(config)
  results, previews = {}, {}
  for family in families or config.eval.families:
    per_image = {method: [] for method in METHODS}
    overlap = predicted_total = true_total = 0.0
    for host_batch in loader.create_eval_loader(config, family):
      batch = parallel.shard_batch(host_batch, mesh)
      outputs = _gather(model_outputs(state, batch))
      batch = _gather(batch)
      target = batch["image"].astype(np.float32) / 255
      mask = batch["mask"].astype(np.float32)
      results_01 = {name: (outputs[name] + 1) / 2
                    for name in ("filler", "filler_blind", "harmonic")}
      for method in OPENCV_FLAGS:
        results_01[method] = opencv_inpaint(batch["image"], batch["mask"],
                                            method).astype(np.float32) / 255
      for method, result in results_01.items():
        per_image[method].append(jax.tree.map(np.asarray, _image_metrics(
            np.clip(result, 0, 1), target, mask)))
      predicted = outputs["predicted_mask"]
      overlap += float(np.sum(predicted * mask))
      predicted_total += float(np.sum(predicted))
      true_total += float(np.sum(mask))
      if family not in previews:
        previews[family] = {"corrupted": batch["corrupted"], "predicted_mask": predicted,
                            "image": batch["image"],
                            **{method: results_01[method]
                               for method in PREVIEW_METHODS}}
    results[family] = {
        method: {name: float(np.mean(np.concatenate([m[name] for m in metrics])))
                 for name in ("psnr", "ssim", "l1")}
        for method, metrics in per_image.items()
    }
    results[family]["hole_predictor"] = {
        "iou": overlap / max(predicted_total + true_total - overlap, 1),
        "precision": overlap / max(predicted_total, 1),
        "recall": overlap / max(true_total, 1),
    }
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

  Columns: corrupted | predicted mask | filler | Telea | Navier-Stokes | ground truth.
  """
  rows = min(rows, len(preview["image"]))
  mask_rgb = np.repeat(preview["predicted_mask"][:rows] * 255, 3, axis=-1)
  filled = [np.clip(preview[method][:rows] * 255 + 0.5, 0, 255)
            for method in PREVIEW_METHODS]
  columns = [preview["corrupted"][:rows], mask_rgb, *filled, preview["image"][:rows]]
  grid = np.concatenate([np.concatenate(list(column), axis=0) for column in columns], axis=1)
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("wb") as stream:
    Image.fromarray(grid.astype(np.uint8)).save(stream, format="PNG")


def _size_suffix(config: ml_collections.ConfigDict, workdir: str) -> str:
  """'' at the run's training size, '_<size>px' when evaluated at another size."""
  if not run_config.config_path(workdir).exists():
    return ""
  trained_size = run_config.load(workdir).data.image_size
  size = config.data.image_size
  return "" if size == trained_size else f"_{size}px"


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=eval: restores a checkpoint of `workdir` and evaluates it.

  Restores config.eval.step (-1: the latest) onto this machine's devices,
  whatever device count trained it, then writes
  <workdir>/eval/step_<N>/metrics.json and preview_<family>.png (one grid per
  mask family) and prints the table. Evaluated at another image size than the
  run trained at (config.data.image_size), the folder is step_<N>_<size>px.
  """
  from genfill_jax import checkpoint, train_state  # noqa: PLC0415 (avoids an import cycle)

  mesh = parallel.create_mesh()
  manager = checkpoint.create_manager(workdir, keep=1, read_only=True)
  step = None if config.eval.step < 0 else config.eval.step
  state = checkpoint.restore(manager, train_state.abstract_train_state(config, mesh), step)
  results, previews = evaluate(config, state, mesh)
  step = int(state.step)
  if jax.process_index() == 0:
    out = epath.Path(workdir) / "eval" / f"step_{step}{_size_suffix(config, workdir)}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps({"step": step, "results": results}, indent=2))
    for family, preview in previews.items():
      save_preview(preview, out / f"preview_{family}.png", config.eval.preview_examples)
    print(f"evaluation of step {step} ({workdir}):\n{format_table(results)}")
  return results
