"""The original genFill, reproduced exactly: architecture and (as it lands) recipe.

Parameter counts: filler 68,722,675, discriminator 57,330,333, hole predictor
10,133,385 (`python main.py --config=configs/seed.py --mode=summary`).
"""

import ml_collections

from configs import default


def _network(num_res_blocks: int) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      num_downscales=4,  # k: four DownScale blocks, 128 px -> 8 x 8 cells of 16 px.
      num_res_blocks=num_res_blocks,  # r
      base_width=32,  # The first DownScale outputs 64 channels, the last 512.
      norm_pattern="even",  # BatchNorm on blocks 0, 2, 4, ... of every stack.
  ))


def get_config() -> ml_collections.ConfigDict:
  """The original configuration."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # PRNG seed for initialisation (and, later, data and training).
  config.compute_dtype = "float32"  # The original trained in float32.

  # Data fields the original had no equivalent for come from the default.
  config.data = default.get_config().data
  config.data.image_size = 128  # Every image resized to 128 x 128.
  config.data.batch_size = 16  # Global batch of the GAN training.
  config.data.crop = "resize"  # The whole image squashed to 128 x 128, no crop.
  config.data.horizontal_flip = False  # The original used no augmentation.
  config.data.color_jitter = 0.0
  config.data.examples_per_photo = 8  # Each photo 8 times per epoch (new holes and noise).

  config.holes = default.get_config().holes
  config.holes.weights = dict(blocks=1.0, box=0.0, thin=0.0, medium=0.0, thick=0.0)
  config.holes.blocks = dict(cell_size=16, probability=0.2)  # 16 px cells (2^k at k = 4).
  config.holes.max_fraction = 1.0  # The original never redrew a mask.
  config.holes.corruption = "seed"  # (image + noise) / 2, noise everywhere.
  config.holes.noise_intensity = 1.0  # The original's noiseIntensity.
  config.holes.additional_noise_intensity = 0.2  # The original's additionalNoiseIntensity.

  config.eval = default.get_config().eval
  config.eval.families = ("blocks",)

  config.hole_predictor = _network(num_res_blocks=2)
  config.hole_predictor.output_resolution = "cells"  # One probability per 16 px cell.

  config.filler = _network(num_res_blocks=12)
  config.filler.hole_map_input = "bottleneck"  # The cell map joins at 1/16 resolution.

  config.discriminator = _network(num_res_blocks=12)
  return config
