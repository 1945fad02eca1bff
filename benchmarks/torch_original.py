"""The original genFill training step in PyTorch, for side-by-side timing and profiles.

The reference networks of genfill_jax/torch_reference.py with the original's losses
(predictor BCE on cells, D BCE with label noise 0.05, G BCE) and Adam settings.
"""

import os

import numpy as np
import torch

from genfill_jax import pixels, torch_reference


def _torch_models(config):
  def net(section, cls, **kwargs):
    return cls(section.num_downscales, section.num_res_blocks, section.base_width, **kwargs)
  predictor = net(config.hole_predictor, torch_reference.HolePredictorModel, sigmoid=False)
  filler = net(config.filler, torch_reference.FillerModel)
  discriminator = net(config.discriminator, torch_reference.Discriminator)
  return predictor, filler, discriminator


def torch_step(config, batch):
  """The original's PyTorch step (predictor, D, G) at `config`'s size, as a callable."""
  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count())
  predictor, filler, discriminator = _torch_models(config)

  def adam(model, b1):
    return torch.optim.Adam(model.parameters(), 1e-4, betas=(b1, 0.999))

  def to_nchw(name):
    return torch.from_numpy(pixels.uint8_to_signed(batch[name])).permute(0, 3, 1, 2).contiguous()

  optimizers = adam(predictor, 0.9), adam(filler, 0.5), adam(discriminator, 0.5)
  image = to_nchw("image")
  filler_input, predictor_input = to_nchw("filler_input"), to_nchw("predictor_input")
  cell = 2**config.hole_predictor.num_downscales
  mask = torch.from_numpy(batch["mask"].astype(np.float32)).permute(0, 3, 1, 2)
  cells = (torch.nn.functional.avg_pool2d(mask, cell) > 0.5).float()
  bce = torch.nn.functional.binary_cross_entropy_with_logits
  label_noise = 0.05

  def one_step():
    predictor_optimizer, filler_optimizer, discriminator_optimizer = optimizers
    predictor_optimizer.zero_grad()
    bce(predictor(predictor_input), cells).backward()
    predictor_optimizer.step()
    with torch.no_grad():
      predictor.eval()
      hole_cells = torch.sigmoid(predictor(filler_input))
      predictor.train()
    fake = filler(filler_input, hole_cells)
    discriminator_optimizer.zero_grad()
    real_logits = discriminator(filler_input, image)
    fake_logits = discriminator(filler_input, fake.detach())
    loss = (bce(real_logits, 1 - label_noise * torch.rand_like(real_logits))
            + bce(fake_logits, label_noise * torch.rand_like(fake_logits)))
    loss.backward()
    discriminator_optimizer.step()
    filler_optimizer.zero_grad()
    generated_logits = discriminator(filler_input, fake)
    bce(generated_logits, torch.ones_like(generated_logits)).backward()
    filler_optimizer.step()

  return one_step
