"""Our working recipe, sized for a 2-core CPU at 64 px.

The model fields below are the ones this project trains by default; the training
recipe (losses, optimisers, schedules) joins this file with training support.
"""

import ml_collections


def _network(num_downscales, num_res_blocks, base_width, norm_pattern):
  return ml_collections.ConfigDict(dict(
      num_downscales=num_downscales,  # k: DownScale blocks; H must divide by 2^k.
      num_res_blocks=num_res_blocks,  # r: Res blocks at the 1/2^k resolution.
      base_width=base_width,  # The first DownScale outputs 2 * base_width channels.
      norm_pattern=norm_pattern,  # BatchNorm on 'even' blocks, 'all' or 'none'.
  ))


def get_config() -> ml_collections.ConfigDict:
  """Default configuration."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # PRNG seed for initialisation, data and training.
  config.compute_dtype = "float32"  # 'bfloat16' halves activation memory on TPU.

  config.data = ml_collections.ConfigDict()
  config.data.image_size = 64  # Training crops are image_size x image_size.
  config.data.batch_size = 16  # Global batch, split over all devices.

  # Finds noise-filled holes; a full-resolution map, not 8 px cells, so that
  # blind inpainting gets a usable mask.
  config.hole_predictor = _network(3, 2, 16, "even")
  config.hole_predictor.output_resolution = "full"  # 'cells' (original) or 'full'.

  # The hole mask enters at full resolution as well as at the bottleneck: the
  # original's 1/16 map alone cannot say which pixels to paint.
  config.filler = _network(3, 4, 16, "none")
  config.filler.hole_map_input = "both"  # 'bottleneck' (original), 'input' or 'both'.

  # A small PatchGAN without BatchNorm: large discriminators memorise small data.
  config.discriminator = _network(3, 1, 16, "none")
  return config
