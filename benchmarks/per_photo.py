"""Where the filler wins and loses: its LPIPS-AlexNet against OpenCV's, photo by photo.

    python -m benchmarks.per_photo --workdir=RUN [--split=validation] [--image_size=64]
        [--families=box,medium,thick] [--filler_flips=] [--json=PATH]

The fixed evaluation examples of every family (those of `--mode=eval`) are grouped
by the photo each is cropped from. Per photo and family: the mean LPIPS-AlexNet
of the run's filler (EMA weights) and of OpenCV's Telea and Navier-Stokes fills,
the filler's relative difference against the better of the two on that photo,
and the share of examples where the filler is below it. A family's mean over
all photos hides a photo where the filler loses; this table shows it.
"""

import json

import numpy as np
from absl import app, flags
from etils import epath

from benchmarks import common
from genfill_jax import evaluate, perceptual, pixels, runs
from genfill_jax.data import loader

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained run.", required=True)
_SPLIT = flags.DEFINE_enum("split", "validation", ["validation", "test"], "Which photos.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Evaluation size (px).")
_FAMILIES = flags.DEFINE_list("families", ["box", "medium", "thick"], "Mask families.")
_FILLER_FLIPS = flags.DEFINE_string(
    "filler_flips", "", "filler.test_time_flips ('' keeps the run's own).")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")
METHODS = ("filler", *evaluate.OPENCV_METHODS)


def per_example_lpips(config, fill, family: str) -> dict[str, np.ndarray]:
  """{method: LPIPS-AlexNet of each evaluation example of `family`}."""
  values = {method: [] for method in METHODS}
  for batch in loader.create_eval_loader(config, family):
    results = {"filler": common.filled_in_unit_interval(fill, batch),
               **evaluate.opencv_results_in_unit_interval(batch)}
    target = pixels.uint8_to_unit_interval(batch["image"])
    for method, result in results.items():
      values[method].append(np.asarray(perceptual.lpips_distance("alexnet", result, target)))
  return {method: np.concatenate(parts) for method, parts in values.items()}


def main(argv):
  del argv
  config = runs.load_config(_WORKDIR.value)
  config.data.image_size = _IMAGE_SIZE.value
  config.eval.split = _SPLIT.value
  if _FILLER_FLIPS.value:
    config.filler.test_time_flips = _FILLER_FLIPS.value
  if config.data.source != "builtin":
    raise app.UsageError("per-photo figures need a run on the built-in photos "
                         f"(this run's data.source is {config.data.source!r})")
  fill = common.restored_fill(_WORKDIR.value, config)
  photos = list(loader.split_images(config.data, _SPLIT.value))
  print(f"{_WORKDIR.value}, {_SPLIT.value}, {_IMAGE_SIZE.value} px, filler flips "
        f"{config.filler.test_time_flips}: LPIPS-AlexNet per photo")
  print(f"{'family':<7} {'photo':<30} {'filler':>7} {'telea':>7} {'NS':>7} "
        f"{'vs better':>9} {'filler below':>12}")
  figures = {}
  for family in _FAMILIES.value:
    values = per_example_lpips(config, fill, family)
    means = {method: common.per_photo_means(values[method], len(photos)) for method in METHODS}
    better = np.argmin([means[method] for method in evaluate.OPENCV_METHODS], axis=0)
    # Per photo, the share of examples where the filler is below each method.
    below = {method: common.per_photo_means(
                 (values["filler"] < values[method]).astype(np.float64), len(photos))
             for method in evaluate.OPENCV_METHODS}
    figures[family] = {}
    for index, photo in enumerate(photos):
      opencv = evaluate.OPENCV_METHODS[better[index]]
      share = below[opencv][index]
      change = means["filler"][index] / means[opencv][index] - 1
      figures[family][photo] = {**{method: float(means[method][index]) for method in METHODS},
                                "better_opencv": opencv, "change": float(change),
                                "filler_below_share": float(share)}
      print(f"{family:<7} {photo:<30} {means['filler'][index]:7.4f} "
            f"{means['telea'][index]:7.4f} {means['navier_stokes'][index]:7.4f} "
            f"{100 * change:+8.1f}% {share:12.2f}")
  if _JSON.value:  # a local path or a bucket
    epath.Path(_JSON.value).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
  app.run(main)
