"""The original genFill training step in PyTorch, for side-by-side timing and profiles.

The reference networks of tests/torch_reference.py with the original's losses
(predictor BCE on cells, D BCE with label noise 0.05, G BCE) and Adam settings.
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import torch_reference  # noqa: E402


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
  adam = lambda model, b1: torch.optim.Adam(model.parameters(), 1e-4, betas=(b1, 0.999))  # noqa: E731
  optimizers = adam(predictor, 0.9), adam(filler, 0.5), adam(discriminator, 0.5)
  to_nchw = lambda name: torch.from_numpy(  # noqa: E731
      batch[name].astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2).contiguous()
  image, corrupted, noisy = to_nchw("image"), to_nchw("corrupted"), to_nchw("noisy")
  cell = 2**config.hole_predictor.num_downscales
  mask = torch.from_numpy(batch["mask"].astype(np.float32)).permute(0, 3, 1, 2)
  cells = (torch.nn.functional.avg_pool2d(mask, cell) > 0.5).float()
  bce = torch.nn.functional.binary_cross_entropy_with_logits
  label_noise = 0.05

  def one_step():
    predictor_optimizer, filler_optimizer, discriminator_optimizer = optimizers
    predictor_optimizer.zero_grad()
    bce(predictor(noisy), cells).backward()
    predictor_optimizer.step()
    with torch.no_grad():
      predictor.eval()
      hole_cells = torch.sigmoid(predictor(corrupted))
      predictor.train()
    fake = filler(corrupted, hole_cells)
    discriminator_optimizer.zero_grad()
    real_logits = discriminator(corrupted, image)
    fake_logits = discriminator(corrupted, fake.detach())
    loss = (bce(real_logits, 1 - label_noise * torch.rand_like(real_logits))
            + bce(fake_logits, label_noise * torch.rand_like(fake_logits)))
    loss.backward()
    discriminator_optimizer.step()
    filler_optimizer.zero_grad()
    generated_logits = discriminator(corrupted, fake)
    bce(generated_logits, torch.ones_like(generated_logits)).backward()
    filler_optimizer.step()

  return one_step
