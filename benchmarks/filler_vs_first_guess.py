"""Where does the filler's correction cost perception? The filler paints its first
guess (the harmonic fill) plus a learned correction; this compares the two example by
example.

    python -m benchmarks.filler_vs_first_guess --workdir=RUN [--image_size=256]
        [--family=blocks] [--examples=32] [--split=validation] [--png=PATH] [--json=PATH]

For each of the evaluation's fixed examples of one family and size: LPIPS-AlexNet of
the filler's result and of the exact harmonic fill, the crop's smoothness (mean
absolute difference between neighbouring pixels of the clean image, in [0, 1]
units), and how rough the hole pixels are, as the mean absolute discrete Laplacian
inside the holes of the filler's correction (filler - harmonic) and of the truth's
(clean - harmonic). A correction much rougher than the truth's is grain painted
where the photo is smooth. Prints the examples from smoothest to busiest and the
two halves' means; --png writes the worst examples (filler | harmonic | clean |
|filler - harmonic| x 8).
"""

import json

import numpy as np
from absl import app, flags
from PIL import Image

from benchmarks.common import hole_roughness, restored_fill, smoothness
from genfill_jax import baselines, perceptual, pixels, runs
from genfill_jax.data import loader

_WORKDIR = flags.DEFINE_string("workdir", None, "The run whose filler is judged.",
                               required=True)
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "Evaluation crop size (px).")
_FAMILY = flags.DEFINE_string("family", "blocks", "Mask family.")
_EXAMPLES = flags.DEFINE_integer("examples", 32, "The first N examples of the stream "
                                 "(a multiple of 8).")
_SPLIT = flags.DEFINE_enum("split", "validation", ["validation", "test"], "Which photos.")
_PNG = flags.DEFINE_string("png", None, "Write the worst examples here.")
_WORST = flags.DEFINE_integer("worst", 3, "How many worst examples --png shows.")
_JSON = flags.DEFINE_string("json", None, "Write the per-example figures here.")


def main(argv):
  del argv
  config = runs.load_config(_WORKDIR.value)
  config.data.image_size = _IMAGE_SIZE.value
  config.data.batch_size = 8
  config.eval.split = _SPLIT.value
  config.eval.num_examples = _EXAMPLES.value
  fill = restored_fill(_WORKDIR.value, config)

  rows, images = [], []
  for batch in loader.create_eval_loader(config, _FAMILY.value):
    signed = pixels.to_signed_batch(batch)
    filled = np.asarray(pixels.signed_to_unit_interval(
        fill(signed.filler_input, signed.mask, signed.image)), np.float32)
    harmonic = np.asarray(baselines.exact_harmonic_fill(batch["image"], batch["mask"]),
                          np.float32)
    clean = np.asarray(pixels.uint8_to_unit_interval(batch["image"]), np.float32)
    columns = dict(
        smoothness=smoothness(clean),
        lpips_filler=np.asarray(perceptual.lpips_distance("alexnet", filled, clean)),
        lpips_harmonic=np.asarray(perceptual.lpips_distance("alexnet", harmonic, clean)),
        roughness_correction=hole_roughness(filled - harmonic, batch["mask"]),
        roughness_truth=hole_roughness(clean - harmonic, batch["mask"]))
    rows += [{name: float(values[i]) for name, values in columns.items()}
             for i in range(len(filled))]
    images += list(zip(filled, harmonic, clean, strict=True))

  order = sorted(range(len(rows)), key=lambda i: rows[i]["smoothness"])
  print(f"{'smooth':>7s} {'LPIPS filler':>12s} {'harmonic':>9s} {'difference':>10s} "
        f"{'rough. correction':>17s} {'truth':>7s}")
  for i in order:
    row = rows[i]
    print(f"{row['smoothness']:7.3f} {row['lpips_filler']:12.4f} {row['lpips_harmonic']:9.4f} "
          f"{row['lpips_filler'] - row['lpips_harmonic']:+10.4f} "
          f"{row['roughness_correction']:17.4f} {row['roughness_truth']:7.4f}")
  half = len(order) // 2
  for name, part in (("smoother half", order[:half]), ("busier half", order[half:])):
    mean = {key: np.mean([rows[i][key] for i in part]) for key in rows[0]}
    print(f"{name}: LPIPS filler {mean['lpips_filler']:.4f}, harmonic "
          f"{mean['lpips_harmonic']:.4f}; roughness of the correction "
          f"{mean['roughness_correction']:.4f}, of the truth {mean['roughness_truth']:.4f}")
  if _PNG.value:
    worst = sorted(range(len(rows)),
                   key=lambda i: rows[i]["lpips_harmonic"] - rows[i]["lpips_filler"])
    tiles = [np.concatenate([*images[i], np.clip(np.abs(images[i][0] - images[i][1]) * 8,
                                                 0, 1)], axis=1)
             for i in worst[:_WORST.value]]
    Image.fromarray((np.concatenate(tiles) * 255).round().astype(np.uint8)).save(_PNG.value)
  if _JSON.value:
    with open(_JSON.value, "w") as stream:
      json.dump({"workdir": _WORKDIR.value, "split": _SPLIT.value, "family": _FAMILY.value,
                 "image_size": _IMAGE_SIZE.value, "examples": rows}, stream, indent=1)


if __name__ == "__main__":
  app.run(main)
