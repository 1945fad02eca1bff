"""One NVIDIA H100 or H200 (80-141 GB): configs/tpu.py's run (256 px, the wider
networks, bfloat16 compute, global batch 128) on a single GPU.

    python main.py --config=configs/gpu.py --workdir=runs/gpu_run1 \
        --config.data.source=folder --config.data.train_dir=/data/images/train \
        --config.data.validation_dir=/data/images/validation \
        --config.data.test_dir=/data/images/test

The batch is checked by benchmarks/tpu_compile.py, which compiles this step for
an H200 without one (benchmarks/results/tpu_compile.md).
"""

from configs import tpu


def get_config():
  """Single-GPU configuration."""
  config = tpu.get_config()
  config.platform = "gpu"  # Stop at start if JAX fell back to the CPU.
  # tpu.py's whole batch on one GPU, so its recipe holds unchanged: the compiled step
  # needs 18.7 GiB (benchmarks/results/tpu_compile.md), well inside an 80 GB H100.
  config.data.batch_size = 128
  config.data.num_workers = 16  # Decoding and cropping 256 px photos is the CPU's work.
  return config
