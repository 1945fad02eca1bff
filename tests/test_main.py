"""The command line, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _main(*args):
  return subprocess.run(
      [sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
      timeout=300,
  )


def test_summary_prints_the_seed_parameter_counts():
  result = _main("--config=configs/seed.py", "--mode=summary")
  assert result.returncode == 0, result.stderr
  assert "hole_predictor: 10,133,385 parameters" in result.stdout
  assert "filler: 68,722,675 parameters" in result.stdout
  assert "discriminator: 57,330,333 parameters" in result.stdout
  # One row per layer, in the order data flows: 4 + 12 + 4 + 1 for the filler.
  filler_section = result.stdout.split("filler:")[1].split("discriminator:")[0]
  rows = [line.split()[0] for line in filler_section.splitlines()[2:] if line.strip()]
  assert rows == ([f"downscalers_{i}" for i in range(4)]
                  + [f"res_blocks_{i}" for i in range(12)]
                  + [f"upscalers_{i}" for i in range(4)] + ["final_conv"])
  assert "upscalers_3    Upscale    128x128x32" in filler_section


def test_config_fields_can_be_overridden_on_the_command_line():
  result = _main("--config=configs/tiny.py", "--mode=summary",
                 "--config.filler.num_res_blocks=3")
  assert result.returncode == 0, result.stderr
  assert "res_blocks_2" in result.stdout.split("filler:")[1].split("discriminator:")[0]
  predictor_section = result.stdout.split("filler:")[0]
  assert "pixel_conv1    Conv 3x3   32x32x4" in predictor_section  # tiny: pixel_features=4
  assert "head_prelu0    PReLU      32x32x4" in predictor_section  # tiny: head_layers=1


def test_a_bad_config_field_is_one_line_and_exit_code_2(tmp_path):
  result = _main("--config=configs/tiny.py", "--mode=train", f"--workdir={tmp_path / 'run'}",
                 "--config.data.image_size=36")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      "error: config.data.image_size=36 must be a positive multiple of 8 "
      "(config.hole_predictor.num_downscales=2 needs it)")
  assert not (tmp_path / "run").exists()


def test_a_workdir_that_is_not_a_run_is_one_line_and_exit_code_2(tmp_path):
  for mode in ("serve", "eval"):
    result = _main("--config=configs/tiny.py", f"--mode={mode}", f"--workdir={tmp_path}")
    assert result.returncode == 2, (mode, result.stderr)
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and "Traceback" not in result.stderr, mode


def test_a_missing_flag_is_one_line_and_exit_code_2():
  result = _main("--config=configs/tiny.py", "--mode=inpaint", "--workdir=runs/none")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      "error: --mode=inpaint needs --input, --output")
