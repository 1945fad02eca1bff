"""What averaging the filler over flips of its input changes, example by example.

    python -m benchmarks.filler_flips --workdir=RUN[,RUN...] [--flips=none,left_right]
        [--image_size=64] [--split=validation] [--json=PATH]

Each run's filler (EMA weights) fills every fixed evaluation example of every
family twice, with `filler.test_time_flips` set to the first and then to the
second of --flips: the same weights and the same examples, so the difference is
the flips' alone. Per family: each setting's mean LPIPS-AlexNet and masked PSNR,
and the paired difference (second minus first) with a 95% bootstrap interval over
the examples of all the runs pooled (`metrics.paired_bootstrap`).
"""

import json

import numpy as np
from absl import app, flags
from etils import epath

from benchmarks import common
from genfill_jax import metrics, perceptual, pixels, runs
from genfill_jax.data import loader

_WORKDIRS = flags.DEFINE_list("workdir", None, "Trained runs (their examples are pooled).",
                              required=True)
_FLIPS = flags.DEFINE_list("flips", ["none", "left_right"],
                           "Two filler.test_time_flips settings: the reference, then the probe.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Evaluation size (px).")
_SPLIT = flags.DEFINE_enum("split", "validation", ["validation", "test"], "Which photos.")
_JSON = flags.DEFINE_string("json", None, "Write the figures here as JSON.")
METRICS = ("lpips_alexnet", "psnr")


def per_example_scores(workdir: str, flips: str) -> dict[str, dict[str, np.ndarray]]:
  """{family: {metric: (examples,)}} of the run's filler with `flips`."""
  config = runs.load_config(workdir)
  config.data.image_size = _IMAGE_SIZE.value
  config.eval.split = _SPLIT.value
  config.filler.test_time_flips = flips
  fill = common.restored_fill(workdir, config)
  scores = {}
  for family in config.eval.families:
    values = {name: [] for name in METRICS}
    for batch in loader.create_eval_loader(config, family):
      result = common.filled_in_unit_interval(fill, batch)
      target = pixels.uint8_to_unit_interval(batch["image"])
      mask = batch["mask"].astype(np.float32)
      values["psnr"].append(np.asarray(metrics.image_metrics(result, target, mask)["psnr"]))
      values["lpips_alexnet"].append(
          np.asarray(perceptual.lpips_distance("alexnet", result, target)))
    scores[family] = {name: np.concatenate(parts) for name, parts in values.items()}
  return scores


def main(argv):
  del argv
  if len(_FLIPS.value) != 2:
    raise app.UsageError(f"--flips takes two settings, got {_FLIPS.value}")
  reference, probe = _FLIPS.value
  pooled = {}  # {setting: {family: {metric: [arrays of each run]}}}
  for workdir in _WORKDIRS.value:
    for setting in (reference, probe):
      for family, by_metric in per_example_scores(workdir, setting).items():
        for name, values in by_metric.items():
          pooled.setdefault(setting, {}).setdefault(family, {}).setdefault(name, []).append(
              values)
  figures = {}
  print(f"{_IMAGE_SIZE.value} px, {_SPLIT.value}, {probe} minus {reference}, "
        f"runs pooled: {', '.join(_WORKDIRS.value)}")
  for family in pooled[reference]:
    figures[family] = {}
    for name in METRICS:
      before = np.concatenate(pooled[reference][family][name])
      after = np.concatenate(pooled[probe][family][name])
      difference = metrics.paired_bootstrap(after - before)
      figures[family][name] = {reference: float(before.mean()), probe: float(after.mean()),
                               "difference": difference, "examples": len(before)}
      print(f"{family:<7} {name:<14} {before.mean():9.4f} -> {after.mean():9.4f}  "
            f"{difference['mean']:+.4f} [{difference['low']:+.4f}, {difference['high']:+.4f}]"
            f"  ({len(before)} examples)")
  if _JSON.value:  # a local path or a bucket
    epath.Path(_JSON.value).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
  app.run(main)
