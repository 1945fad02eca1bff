"""genfill_jax command line: python main.py --config=configs/default.py --mode=..."""

import datetime
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from genfill_jax import errors, parallel, strategies, summary
from genfill_jax.models import networks

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
_STRATEGY = flags.DEFINE_enum(
    "strategy", None, list(strategies.STRATEGIES),
    "--mode=inpaint/serve: how photos larger than the training size are filled "
    "(default: the run's config.inference.strategy).")
_FILLER_FLIPS = flags.DEFINE_enum(
    "filler_flips", None, list(networks.FILLER_TEST_TIME_FLIPS),
    "--mode=inpaint/serve: the flips of the image whose fills the filler averages "
    "(default: the run's config.filler.test_time_flips).")
_COMPILATION_CACHE = flags.DEFINE_string(
    "compilation_cache", None, "--mode=inpaint/serve: folder that keeps compiled programs "
    "between starts (default $GENFILL_JAX_CACHE or ~/.cache/genfill_jax/xla; '' disables).")


def _require_flags(*names: str) -> None:
  missing = [f"--{name}" for name in names if not flags.FLAGS[name].value]
  if missing:
    raise errors.UserError(f"--mode={_MODE.value} needs {', '.join(missing)}")


def _start_runtime(config) -> None:
  """Joins the other hosts (when there are) and says what this process runs on."""
  parallel.maybe_initialize_distributed(config)
  print(parallel.describe_runtime(), flush=True)


# The modes import what they need when they run: --mode=summary stays light.
def _train(config) -> None:
  from genfill_jax import train

  _start_runtime(config)
  parallel.check_platform(config)
  workdir = _WORKDIR.value or f"runs/{datetime.datetime.now():%Y%m%d-%H%M%S}"
  print(f"workdir: {workdir}", flush=True)
  train.train_and_evaluate(config, workdir)


def _eval(config) -> None:
  from genfill_jax import evaluate

  _require_flags("workdir")
  _start_runtime(config)
  evaluate.evaluate_checkpoint(config, _WORKDIR.value)


def _inference_overrides() -> dict:
  """The run's config changed by the command line, and the compilation cache set up."""
  from genfill_jax import inpaint

  if _COMPILATION_CACHE.value != "":
    inpaint.enable_compilation_cache(_COMPILATION_CACHE.value)
  overrides = {"inference.strategy": _STRATEGY.value,
               "filler.test_time_flips": _FILLER_FLIPS.value}
  return {field: value for field, value in overrides.items() if value}


def _serve(config) -> None:
  del config  # the page serves the run with its own config (<workdir>/config.json)
  from genfill_jax import serve

  _require_flags("workdir")
  serve.serve(_WORKDIR.value, _HOST.value, _PORT.value, _MAX_UPLOAD_MB.value,
              _inference_overrides())


def _inpaint(config) -> None:
  del config  # the run's own config (<workdir>/config.json) builds the model
  from genfill_jax import inpaint_files

  _require_flags("workdir", "input", "output")
  written = inpaint_files.inpaint_files(_WORKDIR.value, _INPUT.value, _OUTPUT.value,
                                        _MASK.value, overrides=_inference_overrides())
  print(f"wrote {len(written)} files to {_OUTPUT.value}")


def _summary(config) -> None:
  from genfill_jax import config_checks

  config_checks.check_for_inference(config)
  print(summary.summarize(config))


_MODES = {"summary": _summary, "train": _train, "eval": _eval, "serve": _serve,
          "inpaint": _inpaint}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # Orbax logs every file at INFO; -v 0 shows them.
  try:
    _MODES[_MODE.value](_CONFIG.value)
  except errors.UserError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main)
