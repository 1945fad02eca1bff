"""Ablation: the original's recipe on our working size (64 px, default widths).

Everything the original did except its size: the 'seed' corruption (noise
everywhere, (image + noise) / 2), the cell-resolution hole predictor trained
first and frozen, the filler conditioned on its predictions at the bottleneck
only, BatchNorm on even blocks, adversarial BCE with label noise and no
reconstruction loss, no composite, Adam 1e-4 with stepwise decay. Compare with
configs/default.py at the same step (README, "Ablation").
"""

from configs import default, seed


def get_config():
  """The original recipe at the default configuration's size and budget."""
  config = default.get_config()
  original = seed.get_config()
  config.holes = original.holes
  config.data.large_image_size = 0  # The original trained one size.
  config.holes.blocks = dict(cell_size=8, probability=0.2)  # 2^k cells at k = 3.
  config.train.recipe = "original"
  config.train.filler_condition = "predicted"
  config.loss.label_noise = original.loss.label_noise
  config.optim = original.optim
  for network in (config.hole_predictor, config.filler, config.discriminator):
    network.norm_pattern = "even"
    network.downsampling = "patch"  # The original's 2x2 stride-2 DownScale convs.
  config.hole_predictor.output_resolution = "cells"
  config.hole_predictor.pixel_features = 0  # The pixel branch needs 'full' outputs.
  config.hole_predictor.head_layers = 0  # So do the head's layers.
  config.filler.hole_map_input = "bottleneck"
  config.filler.hole_fill = "none"
  config.filler.opencv_guesses = ()  # No first guess to join.
  config.filler.pixel_features = 0  # The original's head sees the decoder alone.
  config.filler.head_layers = 0
  config.filler.res_block = "conv"  # The original's Res blocks.
  config.filler.upsampling = "shuffle"  # The original's Upscale blocks.
  config.filler.stem_features = 0  # Ours only.
  config.hole_predictor.test_time_flips = False
  # Predictor first (frozen afterwards), then the GAN; 800 steps in all by default.
  config.train.num_train_steps = 800
  config.train.hole_predictor_end_step = 300
  config.train.filler_start_step = 300
  config.train.adversarial_start_step = 300
  config.train.eval_every_steps = 800
  config.train.checkpoint_every_steps = 400
  config.eval.families = default.get_config().eval.families
  return config
