"""Do the filler's VGG16 training losses prefer what it painted, or its smooth first
guess? A probe of whether a failure comes from the loss or from the network.

    python -m benchmarks.loss_preference --workdir=RUN
        [--photos=colorwheel,smooth_colour_1,smooth_colour_2] [--family=box]
        [--examples=32] [--json=PATH]

On the evaluation's fixed examples of the named built-in images (validation
stream, the run's image size), each example's perceptual loss and style loss
(whole-image and 16 px tiles; `genfill_jax/perceptual.py`) of the filler's result
and of the exact harmonic fill, both against the clean image. If the losses
score the harmonic fill lower where the filler paints grain, the losses are not
asking for the grain: the network paints it because it has not learned that
kind of content.
"""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from benchmarks import common
from genfill_jax import baselines, perceptual, pixels, runs
from genfill_jax.data import loader

_WORKDIR = flags.DEFINE_string("workdir", None, "The run whose filler is judged.",
                               required=True)
_PHOTOS = flags.DEFINE_list("photos", ["colorwheel", "smooth_colour_1", "smooth_colour_2"],
                            "Built-in images to evaluate on (the validation stream's crops).")
_FAMILY = flags.DEFINE_string("family", "box", "Mask family.")
_EXAMPLES = flags.DEFINE_integer("examples", 32, "Examples (a multiple of 8).")
_JSON = flags.DEFINE_string("json", None, "Write the per-example losses here.")

_LOSSES = {
    "perceptual": perceptual.feature_distance,
    "style": perceptual.gram_distance,
    "style_16px_tiles": functools.partial(perceptual.gram_distance, window=16),
}


def _losses_against(result: jax.Array, clean_features) -> dict[str, float]:
  features = perceptual.vgg_features(result[None])
  return {name: float(loss(features, clean_features)) for name, loss in _LOSSES.items()}


def main(argv):
  del argv
  config = runs.load_config(_WORKDIR.value)
  config.data.source = "builtin"
  config.data.builtin_validation_photos = tuple(_PHOTOS.value)
  config.data.batch_size = 8
  config.eval.split = "validation"
  config.eval.num_examples = _EXAMPLES.value
  fill = common.restored_fill(_WORKDIR.value, config)

  rows = []
  for batch in loader.create_eval_loader(config, _FAMILY.value):
    signed = pixels.to_signed_batch(batch)
    filled = fill(signed.filler_input, signed.mask, signed.image)
    harmonic = jnp.asarray(  # [0, 1] -> [-1, 1], the filler's range
        baselines.exact_harmonic_fill(batch["image"], batch["mask"]), jnp.float32) * 2 - 1
    for index in range(filled.shape[0]):
      clean_features = perceptual.vgg_features(signed.image[index][None])
      rows.append({"filler": _losses_against(filled[index], clean_features),
                   "harmonic_exact": _losses_against(harmonic[index], clean_features)})

  summary = {}
  for name in _LOSSES:
    filler = np.array([row["filler"][name] for row in rows])
    harmonic = np.array([row["harmonic_exact"][name] for row in rows])
    summary[name] = {"filler": float(filler.mean()), "harmonic_exact": float(harmonic.mean()),
                     "filler_lower_share": float(np.mean(filler < harmonic))}
    print(f"{name:17s} filler {filler.mean():9.4f}  harmonic {harmonic.mean():9.4f}  "
          f"filler lower on {np.mean(filler < harmonic):.0%} of {len(rows)} examples")
  if _JSON.value:
    with open(_JSON.value, "w") as stream:
      json.dump({"workdir": _WORKDIR.value, "photos": _PHOTOS.value, "family": _FAMILY.value,
                 "summary": summary, "examples": rows}, stream, indent=1)


if __name__ == "__main__":
  app.run(main)
