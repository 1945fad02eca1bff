"""genfill_jax command line: python main.py --config=configs/default.py --mode=..."""

import datetime
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from genfill_jax import parallel, summary

_CONFIG = config_flags.DEFINE_config_file(
    "config", "configs/default.py", "Path to a config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory (checkpoints, logs; local or gs://). Default for "
    "training: a new runs/<timestamp>.")
_MODE = flags.DEFINE_enum(
    "mode", "train", ["summary", "train", "eval", "inpaint"],
    "summary: parameter counts and layers; train: train or resume in --workdir.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  config = _CONFIG.value
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # Orbax logs every file at INFO; -v 0 shows them.
  if _MODE.value == "summary":
    print(summary.summarize(config))
    return
  if _MODE.value == "train":
    from genfill_jax import train  # noqa: PLC0415 (keeps summary mode light)

    parallel.maybe_initialize_distributed(config)
    workdir = _WORKDIR.value or f"runs/{datetime.datetime.now():%Y%m%d-%H%M%S}"
    logging.info("workdir: %s", workdir)
    print(f"workdir: {workdir}", flush=True)
    train.train_and_evaluate(config, workdir)
    return
  if _MODE.value == "eval":
    from genfill_jax import evaluate  # noqa: PLC0415

    if not _WORKDIR.value:
      raise app.UsageError("--mode=eval needs --workdir (a run with checkpoints)")
    evaluate.evaluate_checkpoint(config, _WORKDIR.value)
    return
  print(f"--mode={_MODE.value} is not implemented yet; train, eval and summary are.",
        file=sys.stderr)
  sys.exit(2)


if __name__ == "__main__":
  app.run(main)
