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
    "mode", "train", ["summary", "train", "eval", "inpaint", "serve"],
    "summary: parameter counts and layers; train: train or resume in --workdir; "
    "eval: evaluate a checkpoint of --workdir; inpaint: fill --input into --output; "
    "serve: a web page for inpainting by drawing, backed by --workdir.")
_INPUT = flags.DEFINE_string("input", None, "--mode=inpaint: an image or a folder of images.")
_OUTPUT = flags.DEFINE_string("output", None, "--mode=inpaint: folder for the results.")
_MASK = flags.DEFINE_string(
    "mask", None, "--mode=inpaint: a mask image (white = hole), or for a folder of images "
    "a folder of masks with the same names. Without it the hole predictor finds the holes.")
_HOST = flags.DEFINE_string(
    "host", "127.0.0.1", "--mode=serve: address to bind; 0.0.0.0 exposes the page to "
    "the network.")
_PORT = flags.DEFINE_integer("port", 8080, "--mode=serve: TCP port (0: any free port).")
_MAX_UPLOAD_MB = flags.DEFINE_float(
    "max_upload_mb", 20, "--mode=serve: larger uploads are refused with HTTP 413.")


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
    from genfill_jax import config_checks, train  # noqa: PLC0415 (keeps summary mode light)

    parallel.maybe_initialize_distributed(config)
    workdir = _WORKDIR.value or f"runs/{datetime.datetime.now():%Y%m%d-%H%M%S}"
    logging.info("workdir: %s", workdir)
    print(f"workdir: {workdir}", flush=True)
    try:
      train.train_and_evaluate(config, workdir)
    except config_checks.ConfigError as error:
      print(f"error: {error}", file=sys.stderr)
      sys.exit(2)
    return
  if _MODE.value == "eval":
    from genfill_jax import evaluate  # noqa: PLC0415

    if not _WORKDIR.value:
      raise app.UsageError("--mode=eval needs --workdir (a run with checkpoints)")
    evaluate.evaluate_checkpoint(config, _WORKDIR.value)
    return
  if _MODE.value == "serve":
    from genfill_jax import serve  # noqa: PLC0415

    if not _WORKDIR.value:
      raise app.UsageError("--mode=serve needs --workdir (a trained run)")
    serve.serve(_WORKDIR.value, _HOST.value, _PORT.value, _MAX_UPLOAD_MB.value)
    return
  from genfill_jax import inpaint_files  # noqa: PLC0415

  # The model's config comes from the run itself (<workdir>/config.json).
  if not (_WORKDIR.value and _INPUT.value and _OUTPUT.value):
    raise app.UsageError("--mode=inpaint needs --workdir, --input and --output")
  try:
    written = inpaint_files.inpaint_files(_WORKDIR.value, _INPUT.value, _OUTPUT.value,
                                          _MASK.value)
  except inpaint_files.InputError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {len(written)} files to {_OUTPUT.value}")


if __name__ == "__main__":
  app.run(main)
