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
  config.data.source = "builtin"  # 'builtin' (scikit-image photos) or 'folder'.
  config.data.train_dir = ""  # With source='folder': every image under it, recursively.
  config.data.test_dir = ""  # With source='folder': held-out images for evaluation.
  # Whole photos, so no test photo is ever seen in training (also not cropped).
  config.data.builtin_train_photos = (
      "astronaut", "brick", "camera", "cell", "clock", "coins", "grass", "gravel",
      "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "text")
  config.data.builtin_test_photos = ("chelsea", "coffee", "rocket")
  config.data.examples_per_photo = 200  # Built-in epoch length: random crops per photo.
  config.data.image_size = 64  # Training crops are image_size x image_size.
  config.data.batch_size = 16  # Global batch, split over all devices and hosts.
  config.data.crop = "random_resized"  # 'random_resized' or 'resize' (squash whole image).
  config.data.crop_scale = (0.02, 1.0)  # Crop area range: a 512 px photo gives 72-512 px crops.
  config.data.horizontal_flip = True  # Random left-right flips in training.
  config.data.color_jitter = 0.1  # Brightness, contrast, saturation +-10%; 0 = off.
  config.data.num_workers = 2  # DataLoader worker processes (0 = in the main process).
  config.data.prefetch_batches = 2  # Batches each worker prepares ahead.

  config.holes = ml_collections.ConfigDict()
  # Relative frequency of each mask family in training (LaMa-style mixture).
  config.holes.weights = dict(blocks=0.0, box=0.15, thin=0.25, medium=0.35, thick=0.25)
  config.holes.blocks = dict(cell_size=8, probability=0.2)  # The original's cell grid.
  config.holes.box = dict(max_boxes=3, margin=10, min_size=30, max_size=150)  # px at 256.
  config.holes.max_fraction = 0.5  # Masks covering more of the image are redrawn.
  config.holes.corruption = "zeros"  # 'zeros' (mask given), 'noise' (blind) or 'seed'.
  config.holes.noise_intensity = 1.0  # 'noise'/'seed': U(-1, 1) * this in the holes.
  config.holes.additional_noise_intensity = 0.0  # Faint noise outside the holes.

  config.eval = ml_collections.ConfigDict()
  config.eval.families = ("box", "thin", "medium", "thick")  # Reported one by one.
  config.eval.num_examples = 64  # Per family; a multiple of data.batch_size.
  config.eval.seed = 1234  # Fixes eval crops and masks: identical every time.

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
