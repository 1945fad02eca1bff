"""A tiny configuration for tests: every code path, seconds per step."""

from configs import default


def get_config():
  """Tiny variant of the default configuration."""
  config = default.get_config()
  config.data.image_size = 32  # Divisible by 2^(k + 1) = 8 for the decoders.
  config.data.batch_size = 8  # One example per simulated device with 8 devices.
  for network in (config.hole_predictor, config.filler, config.discriminator):
    network.num_downscales = 2
    network.num_res_blocks = 1
    network.base_width = 4
  return config
