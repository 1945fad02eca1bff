"""The original genFill, reproduced: architecture, data, losses and schedules.

Parameter counts: filler 68,722,675, discriminator 57,330,333, hole predictor
10,133,385 (`python main.py --config=configs/seed.py --mode=summary`).
Training at 128 px with these 136M parameters is far beyond a 2-core CPU; run
it shortened (`--config.train.num_train_steps=4`) to check the code path, or
on an accelerator.
"""

import ml_collections

from configs import default

# Built-in training photos x examples_per_photo / batch size.
_STEPS_PER_EPOCH = 14 * 8 // 16


def _network(num_res_blocks: int) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      num_downscales=4,  # k: four DownScale blocks, 128 px -> 8 x 8 cells of 16 px.
      num_res_blocks=num_res_blocks,  # r
      base_width=32,  # The first DownScale outputs 64 channels, the last 512.
      norm_pattern="even",  # BatchNorm on blocks 0, 2, 4, ... of every stack.
      downsampling="patch",  # The original's 2x2 stride-2 DownScale convs.
  ))


def _original_adam(b1: float, decay_rate: float) -> ml_collections.ConfigDict:
  optim = default.get_config().optim.filler
  optim.learning_rate = 1e-4
  optim.b1 = b1
  optim.schedule = "stepwise"  # lr *= decay_rate every 2 epochs
  optim.decay_steps = 2 * _STEPS_PER_EPOCH
  optim.decay_rate = decay_rate
  optim.warmup_steps = 0
  optim.clip_norm = 0.0  # The original did not clip.
  return optim


def get_config() -> ml_collections.ConfigDict:
  """The original configuration."""
  config = default.get_config()
  config.compute_dtype = "float32"  # The original trained in float32.

  config.data.image_size = 128  # Every image resized to 128 x 128.
  config.data.batch_size = 16  # Global batch of the GAN training.
  config.data.large_image_size = 0  # One size only.
  config.data.crop = "resize"  # The whole image squashed to 128 x 128, no crop.
  config.data.horizontal_flip = False  # The original used no augmentation.
  config.data.color_jitter = 0.0
  config.data.hue_rotation = 0.0
  config.data.saturation_scale = 1.0
  config.data.builtin_train_photos = default.PHOTOS  # Photos only, no synthetic colour.
  config.data.examples_per_photo = 8  # Each photo 8 times per epoch (new holes and noise).

  config.holes.weights = dict(blocks=1.0, box=0.0, thin=0.0, medium=0.0, thick=0.0)
  config.holes.blocks = dict(cell_size=16, probability=0.2)  # 16 px cells (2^k at k = 4).
  config.holes.max_fraction = 1.0  # The original never redrew a mask.
  config.holes.corruption = "seed"  # (image + noise) / 2, noise everywhere.
  config.holes.predictor_corruption = "seed"  # The predictor saw the same corruption.
  config.holes.noise_intensity = 1.0  # The original's noiseIntensity.
  config.holes.additional_noise_intensity = 0.2  # The original's additionalNoiseIntensity.

  config.hole_predictor = _network(num_res_blocks=2)
  config.hole_predictor.output_resolution = "cells"  # One probability per 16 px cell.
  config.hole_predictor.pixel_features = 0  # Ours only, with 'full' outputs.
  config.hole_predictor.head_layers = 0  # Ours only, with 'full' outputs.
  config.hole_predictor.threshold = 0.5  # Inpainting without a mask: p > 0.5 is a hole.
  config.hole_predictor.dilation = 0
  config.hole_predictor.grow_threshold = 0.0
  config.hole_predictor.test_time_flips = False
  config.filler = _network(num_res_blocks=12)
  config.filler.hole_map_input = "bottleneck"  # The cell map joins at 1/16 resolution.
  config.filler.hole_fill = "none"  # The network paints every pixel itself.
  config.filler.harmonic_solver = "jacobi"  # Unused: no first guess.
  config.filler.harmonic_iterations = 0
  config.filler.harmonic_tolerance = 1e-3
  config.filler.res_block = "conv"  # The original's Res blocks.
  config.filler.opencv_guesses = ()  # Ours only, with a first guess.
  config.filler.pixel_features = 0  # Ours only: the original's head sees the decoder alone.
  config.filler.head_layers = 0
  config.filler.pixel_reach = 0  # Ours only, with the full-resolution features.
  config.filler.upsampling = "shuffle"  # The original's Upscale blocks.
  config.filler.stem_features = 0  # Ours only.
  config.filler.test_time_flips = "none"  # Ours only: the original fills once.
  config.discriminator = _network(num_res_blocks=12)

  # The original trained the predictor first, froze it, then ran 150 epochs of
  # GAN training with the filler conditioned on the predictor's output.
  config.train.recipe = "original"  # Adversarial BCE only, label noise, no composite.
  config.train.hole_predictor_end_step = 50 * _STEPS_PER_EPOCH
  config.train.filler_start_step = config.train.hole_predictor_end_step
  config.train.adversarial_start_step = config.train.filler_start_step  # No warm-up.
  config.train.num_train_steps = config.train.filler_start_step + 150 * _STEPS_PER_EPOCH
  config.train.filler_condition = "predicted"
  config.train.checkpoint_every_steps = 5 * _STEPS_PER_EPOCH  # Every 5 epochs.
  config.train.eval_every_steps = _STEPS_PER_EPOCH  # A preview every epoch.
  config.loss.label_noise = 0.05

  config.optim.hole_predictor = _original_adam(b1=0.9, decay_rate=1.0)  # Adam 1e-4.
  config.optim.filler = _original_adam(b1=0.5, decay_rate=0.999)
  config.optim.discriminator = _original_adam(b1=0.5, decay_rate=0.98)

  config.eval.families = ("blocks",)  # The only family the original knew.
  return config
