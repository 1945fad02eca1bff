"""Blind inpainting when the hole noise has no colour: does the hole predictor find holes
by their shape and texture, or only by their colour?

    python -m benchmarks.blind_noise --workdir=RUN [--filler_workdir=RUN2]
        [--split=validation] [--families=thin,medium,thick,box,blocks] [--json=PATH]
        [--threshold=T] [--grow_threshold=G]

The evaluation's fixed examples of the split, with the hole noise as the evaluation
draws it (U(-1, 1) per channel: colour noise) and again gray (the same draws'
first channel in every channel, as `holes.gray_noise_fraction` trains with). Per
family and noise: the predicted mask's IoU, precision and recall (the run's
threshold, growth and test-time flips, or --threshold and --grow_threshold), and
masked PSNR of blind inpainting against the mask-given result. For colour noise
also two oracles that say which errors cost: the found mask with every missed
hole pixel added (no misses) and with every false alarm removed (no false
alarms). --filler_workdir takes the filler from another run: with the filler
conditioned on the true mask in training (filler_condition='true_mask')
the two networks learn independently, so a predictor trained alone can be judged
with a trained filler.
"""

import functools
import json

import jax
import numpy as np
from absl import app, flags

from genfill_jax import config_checks, inpaint, metrics, parallel, pixels, recipes, runs
from genfill_jax.data import loader

_WORKDIR = flags.DEFINE_string("workdir", None, "The run whose hole predictor is judged.",
                               required=True)
_FILLER_WORKDIR = flags.DEFINE_string("filler_workdir", None,
                                      "The run whose filler fills (default: --workdir).")
_SPLIT = flags.DEFINE_enum("split", "validation", ["validation", "test"], "Which photos.")
_FAMILIES = flags.DEFINE_list("families", None, "Mask families (default: the run's).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")
_THRESHOLD = flags.DEFINE_float("threshold", None,
                                "hole_predictor.threshold (default: the run's).")
_GROW_THRESHOLD = flags.DEFINE_float("grow_threshold", None,
                                     "hole_predictor.grow_threshold (default: the run's).")


def gray_hole_noise(batch: dict) -> np.ndarray:
  """The predictor's input with the hole noise's first channel in all three."""
  noisy = batch["predictor_input"]
  return np.where(batch["mask"], noisy[..., :1], noisy)


def main(argv):
  del argv
  mesh = parallel.create_mesh(jax.local_devices()[:1])
  config, state = runs.restore_run(_WORKDIR.value, mesh=mesh)
  predictor_variables, filler_variables = inpaint.inference_variables(state)
  if _FILLER_WORKDIR.value:
    filler_config, filler_state = runs.restore_run(_FILLER_WORKDIR.value, mesh=mesh)
    _, filler_variables = inpaint.inference_variables(filler_state)
  else:
    filler_config = config
  config.eval.split = filler_config.eval.split = _SPLIT.value
  if _THRESHOLD.value is not None:
    config.hole_predictor.threshold = _THRESHOLD.value
  if _GROW_THRESHOLD.value is not None:
    config.hole_predictor.grow_threshold = _GROW_THRESHOLD.value
  config_checks.check_for_inference(config)
  find = jax.jit(functools.partial(inpaint.find_holes, config, predictor_variables))
  predict = functools.partial(inpaint.predict_holes, config, predictor_variables)
  fill = jax.jit(functools.partial(inpaint.fill, filler_config, filler_variables))
  recipe = recipes.for_config(filler_config)

  def masked_psnr(result, batch):
    return np.asarray(metrics.image_metrics(
        pixels.signed_to_unit_interval(result), pixels.uint8_to_unit_interval(batch["image"]),
        batch["mask"].astype(np.float32))["psnr"])

  figures = {}
  for family in _FAMILIES.value or config.eval.families:
    psnr = {"mask_given": []}
    counts = {}
    for batch in loader.create_eval_loader(config, family):
      signed = pixels.to_signed_batch(batch)
      psnr["mask_given"].append(masked_psnr(
          fill(signed.filler_input, signed.mask, signed.image), batch))
      for noise, predictor_input in (("colour", batch["predictor_input"]),
                                     ("gray", gray_hole_noise(batch))):
        noisy = signed._replace(predictor_input=pixels.uint8_to_signed(predictor_input))
        found = np.asarray(find(noisy.predictor_input))
        counts[noise] = counts.get(noise, metrics.HoleCounts()) + metrics.count_holes(
            found, signed.mask)
        psnr.setdefault(f"blind_{noise}", []).append(masked_psnr(
            fill(*recipe.blind_inputs(noisy, predict, lambda image, found=found: found)),
            batch))
        if noise == "colour":  # Which errors cost: the misses or the false alarms?
          for name, oracle in (("no_misses", np.maximum(found, signed.mask)),
                               ("no_false_alarms", found * signed.mask)):
            psnr.setdefault(f"blind_colour_{name}", []).append(masked_psnr(
                fill(*recipe.blind_inputs(noisy, predict, lambda image, o=oracle: o)), batch))
    figures[family] = {
        **{f"psnr_{name}": float(np.concatenate(values).mean()) for name, values in psnr.items()},
        **{f"{noise}_{score}": value for noise, count in counts.items()
           for score, value in metrics.hole_scores(count).items()}}
    row = figures[family]
    print(f"{family:7s} masked PSNR given {row['psnr_mask_given']:.2f} | "
          + " | ".join(f"{noise} noise: blind {row[f'psnr_blind_{noise}']:.2f}, IoU "
                       f"{row[f'{noise}_iou']:.3f}, precision {row[f'{noise}_precision']:.3f}, "
                       f"recall {row[f'{noise}_recall']:.3f}" for noise in counts)
          + f" | colour, no misses {row['psnr_blind_colour_no_misses']:.2f}, no false alarms "
          f"{row['psnr_blind_colour_no_false_alarms']:.2f}", flush=True)
  if _JSON.value:
    with open(_JSON.value, "w") as stream:
      json.dump({"workdir": _WORKDIR.value, "filler_workdir": _FILLER_WORKDIR.value,
                 "split": _SPLIT.value, "families": figures}, stream, indent=1)


if __name__ == "__main__":
  app.run(main)
