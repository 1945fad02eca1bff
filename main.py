"""genfill_jax command line: python main.py --config=configs/default.py --mode=..."""

import sys

from absl import app, flags
from ml_collections import config_flags

from genfill_jax import summary

_CONFIG = config_flags.DEFINE_config_file(
    "config", "configs/default.py", "Path to a config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory (checkpoints, logs); local or gs://.")
_MODE = flags.DEFINE_enum(
    "mode", "train", ["summary", "train", "eval", "inpaint"],
    "summary: parameter counts and layers; train, eval, inpaint: see README.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if _MODE.value == "summary":
    print(summary.summarize(_CONFIG.value))
    return
  print(f"--mode={_MODE.value} is not implemented yet; only --mode=summary is.",
        file=sys.stderr)
  sys.exit(2)


if __name__ == "__main__":
  app.run(main)
