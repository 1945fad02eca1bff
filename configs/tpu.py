"""Cloud TPU (v4-8 or v5e-8): 256 px, a wider model, bfloat16 compute.

    python main.py --config=configs/tpu.py --workdir=gs://BUCKET/genfill/run1 \
        --config.data.source=folder --config.data.train_dir=gs://BUCKET/images/train \
        --config.data.test_dir=gs://BUCKET/images/test
"""

from configs import default


def get_config():
  """TPU configuration."""
  config = default.get_config()
  config.platform = "tpu"  # Stop at start if JAX fell back to the CPU.
  config.compute_dtype = "bfloat16"  # Convs in bfloat16; params, losses, BN stats float32.
  config.data.image_size = 256
  # 16 per chip on a v5e-8 (7.6 of 16 GiB HBM), 32 on a v4-8's 4 chips (11.3 of 32 GiB):
  # benchmarks/results/tpu_compile.md.
  config.data.batch_size = 128
  config.data.num_workers = 8
  config.data.crop_scale = (0.1, 1.0)
  # The default's log-uniform crops down to 0.5% of the area were chosen at 64 px;
  # at 256 px they would enlarge up to 7x. Unmeasured here: torchvision's draw.
  config.data.train_crop_scale = ()
  config.data.train_crop_area_sampling = "uniform"
  # Multi-scale training is measured at 64/128 px on the CPU only, and
  # benchmarks/tpu_compile.py does not compile its large steps: off here.
  config.data.large_image_size = 0
  # The default's hue rotation makes up for the built-in photos' lack of colour; a
  # folder of colour photos has it, and an any-hue rotation would paint purple
  # grass into it. Unmeasured here: off.
  config.data.hue_rotation = 0.0
  config.data.saturation_scale = 1.0
  # The default's style loss is safe only with the built-in data's smooth colour
  # images (without them it paints grain into smooth areas). Unmeasured on folders
  # of photos: off.
  config.loss.style = 0.0
  config.data.examples_per_photo = 1000
  config.hole_predictor.num_downscales = 4
  config.hole_predictor.base_width = 32
  config.filler.num_downscales = 4
  config.filler.num_res_blocks = 8
  config.filler.base_width = 32
  config.discriminator.num_downscales = 4
  config.discriminator.num_res_blocks = 2
  config.discriminator.base_width = 32
  config.train.num_train_steps = 100_000
  config.train.hole_predictor_end_step = 100_000
  config.train.adversarial_start_step = 5_000
  config.train.log_every_steps = 100
  config.train.eval_every_steps = 5_000
  config.train.checkpoint_every_steps = 2_000
  config.train.ema_decay = 0.999
  for optim in (config.optim.filler, config.optim.discriminator, config.optim.hole_predictor):
    optim.warmup_steps = 1_000
    optim.decay_steps = 99_000
  config.eval.num_examples = 512
  return config
