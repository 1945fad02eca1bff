"""A PyTorch reference of the original genFill networks (NCHW, the original's
module and key names; its state-dict keys are tests/data/original_state_dict_keys.txt).

The tests use it to prove that the Flax models compute the same function, and
the benchmarks as the original's training step. `prelu_after_norm=True`
builds a deliberately wrong variant (activation after the norm) so that the
tests can show they notice such a change.
"""

import torch
from torch import nn


def _norm_here(index: int) -> bool:
  return index % 2 == 0


class DownScale(nn.Module):

  def __init__(self, in_channels, out_channels, norm, prelu_after_norm=False):
    super().__init__()
    self.conv1 = nn.Conv2d(in_channels, out_channels, 2, stride=2, bias=False)
    self.relu = nn.PReLU()
    self.normBlock = nn.BatchNorm2d(out_channels) if norm else None
    self.prelu_after_norm = prelu_after_norm

  def forward(self, x):
    x = self.conv1(x)
    if self.prelu_after_norm:
      return self.relu(self.normBlock(x) if self.normBlock is not None else x)
    x = self.relu(x)
    return self.normBlock(x) if self.normBlock is not None else x


class Res(nn.Module):

  def __init__(self, channels, norm):
    super().__init__()
    self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    self.relu1 = nn.PReLU()
    self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    self.relu2 = nn.PReLU()
    if norm:
      self.norm1 = nn.BatchNorm2d(channels)
      self.norm2 = nn.BatchNorm2d(channels)
    self.norm = norm

  def forward(self, x):
    y = self.relu1(self.conv1(x))
    if self.norm:
      y = self.norm1(y)
    y = self.relu2(self.conv2(y))
    if self.norm:
      y = self.norm2(y)
    return x + y


class Upscale(nn.Module):

  def __init__(self, in_channels, out_channels, norm):
    super().__init__()
    self.conv1 = nn.Conv2d(in_channels, out_channels * 16, 2, stride=2, bias=True)
    self.normBlock = nn.BatchNorm2d(out_channels * 16) if norm else None
    self.shuffle = nn.PixelShuffle(4)
    self.relu = nn.PReLU()

  def forward(self, x):
    x = self.conv1(x)
    if self.normBlock is not None:
      x = self.normBlock(x)
    return self.relu(self.shuffle(x))


def _downscalers(in_channels, k, base_width, prelu_after_norm):
  return nn.ModuleList(
      DownScale(
          in_channels if i == 0 else base_width * 2**i, base_width * 2 ** (i + 1),
          _norm_here(i), prelu_after_norm,
      )
      for i in range(k)
  )


class HolePredictorModel(nn.Module):
  """k DownScale, r Res, Conv 3x3 -> sigmoid (or logits for the discriminator)."""

  def __init__(self, k, r, base_width=32, in_channels=3, sigmoid=True,
               prelu_after_norm=False):
    super().__init__()
    width = base_width * 2**k
    self.downscalers = _downscalers(in_channels, k, base_width, prelu_after_norm)
    self.resBlocks = nn.ModuleList(Res(width, _norm_here(i)) for i in range(r))
    self.finalConv = nn.Conv2d(width, 1, 3, padding=1)
    self.sigmoid = sigmoid

  def forward(self, x):
    for block in self.downscalers:
      x = block(x)
    for block in self.resBlocks:
      x = block(x)
    x = self.finalConv(x)
    return torch.sigmoid(x) if self.sigmoid else x


class Discriminator(HolePredictorModel):
  """The hole predictor on 6 channels (condition, candidate), returning logits."""

  def __init__(self, k, r, base_width=32, prelu_after_norm=False):
    super().__init__(k, r, base_width, in_channels=6, sigmoid=False,
                     prelu_after_norm=prelu_after_norm)

  def forward(self, condition, candidate):
    return super().forward(torch.cat([condition, candidate], dim=1))


class FillerModel(nn.Module):
  """Encoder, hole map concatenated at the bottleneck, Res, decoder, tanh."""

  def __init__(self, k, r, base_width=32, prelu_after_norm=False):
    super().__init__()
    width = base_width * 2**k
    self.k = k
    self.downscalers = _downscalers(3, k, base_width, prelu_after_norm)
    self.resBlocks = nn.ModuleList(Res(width + 1, _norm_here(i)) for i in range(r))
    self.upscalers = nn.ModuleList(
        Upscale(
            base_width * 2 ** (k - i) + (1 if i == 0 else 0),
            base_width * 2 ** (k - 1 - i), _norm_here(i),
        )
        for i in range(k)
    )
    self.finalConv = nn.Conv2d(base_width, 3, 3, padding=1)

  def forward(self, image, hole_cells):
    skips = []
    x = image
    for block in self.downscalers:
      x = block(x)
      skips.append(x)
    x = torch.cat([x, hole_cells], dim=1)
    for block in self.resBlocks:
      x = block(x)
    for i, block in enumerate(self.upscalers):
      x = block(x)
      if i < self.k - 1:
        x = x + skips[self.k - i - 2]
    return torch.tanh(self.finalConv(x))


def randomise_buffers_and_slopes(model: nn.Module, generator: torch.Generator):
  """Non-trivial BatchNorm statistics, affine parameters and PReLU slopes."""
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, nn.BatchNorm2d):
        shape = module.running_mean.shape
        module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.5)
        module.running_var.copy_(torch.rand(shape, generator=generator) * 1.5 + 0.5)
        module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
        module.bias.copy_(torch.randn(shape, generator=generator) * 0.2)
        module.num_batches_tracked.fill_(7)
      elif isinstance(module, nn.PReLU):
        module.weight.copy_(torch.rand(1, generator=generator) * 0.6 - 0.1)
