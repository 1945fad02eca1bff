"""The Flax models compute exactly what the original PyTorch networks compute."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from genfill_jax import models, torch_import, torch_reference

K, R, BASE_WIDTH, SIZE, BATCH = 2, 3, 8, 64, 4
TOLERANCE = 1e-4


def _nchw(x):
  return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _nhwc(x):
  return x.detach().numpy().transpose(0, 2, 3, 1)


def _inputs(seed):
  rng = np.random.default_rng(seed)
  image = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)
  other = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)
  cells = rng.uniform(0, 1, (BATCH, SIZE >> K, SIZE >> K, 1)).astype(np.float32)
  return image, other, cells


def _build(name, prelu_after_norm=False):
  """A randomised PyTorch reference and the matching Flax module."""
  torch.manual_seed(0)
  if name == "hole_predictor":
    reference = torch_reference.HolePredictorModel(
        K, R, BASE_WIDTH, prelu_after_norm=prelu_after_norm)
    flax_model = models.HolePredictor(K, R, BASE_WIDTH)
  elif name == "filler":
    reference = torch_reference.FillerModel(
        K, R, BASE_WIDTH, prelu_after_norm=prelu_after_norm)
    flax_model = models.Filler(K, R, BASE_WIDTH)
  else:
    reference = torch_reference.Discriminator(
        K, R, BASE_WIDTH, prelu_after_norm=prelu_after_norm)
    flax_model = models.Discriminator(K, R, BASE_WIDTH)
  torch_reference.randomise_buffers_and_slopes(reference, torch.Generator().manual_seed(1))
  return reference, flax_model


def _run_both(name, train, reference, flax_model, variables):
  image, other, cells = _inputs(seed=2)
  reference.train(train)
  with torch.no_grad():
    if name == "hole_predictor":
      expected = reference(_nchw(image))
      args = (image,)
    elif name == "filler":
      expected = reference(_nchw(image), _nchw(cells))
      args = (image, cells)
    else:
      expected = reference(_nchw(image), _nchw(other))
      args = (image, other)
  if train:
    actual, updates = flax_model.apply(
        variables, *args, train=True, mutable=["batch_stats"])
  else:
    actual, updates = flax_model.apply(variables, *args, train=False), None
  if name == "hole_predictor":
    actual = jax.nn.sigmoid(actual)  # the original returns probabilities
  return _nhwc(expected), np.asarray(actual), updates


@pytest.mark.parametrize("name", ["hole_predictor", "filler", "discriminator"])
@pytest.mark.parametrize("train", [False, True], ids=["inference", "training"])
def test_flax_matches_original(name, train):
  reference, flax_model = _build(name)
  variables = torch_import.import_model(reference.state_dict(), flax_model)
  expected, actual, updates = _run_both(name, train, reference, flax_model, variables)
  assert actual.shape == expected.shape
  assert np.max(np.abs(actual - expected)) < TOLERANCE
  if train:
    # The running means move the same way in both (PyTorch updates its running
    # variance with the unbiased estimate, Flax with the biased one, so only
    # the means are compared exactly).
    first_norm = reference.downscalers[0].normBlock
    flax_mean = updates["batch_stats"]["downscalers_0"]["norm"]["mean"]
    np.testing.assert_allclose(
        flax_mean, first_norm.running_mean.numpy(), atol=TOLERANCE)


@pytest.mark.parametrize("name", ["hole_predictor", "filler", "discriminator"])
def test_equivalence_check_notices_a_moved_prelu(name):
  """The comparison above fails when a PReLU is moved after its norm."""
  wrong_reference, flax_model = _build(name, prelu_after_norm=True)
  variables = torch_import.import_model(wrong_reference.state_dict(), flax_model)
  expected, actual, _ = _run_both(name, False, wrong_reference, flax_model, variables)
  assert np.max(np.abs(actual - expected)) > 1e-2


def test_pixel_shuffle_matches_torch():
  x = np.arange(2 * 3 * 5 * 48, dtype=np.float32).reshape(2, 3, 5, 48)
  expected = _nhwc(torch.nn.PixelShuffle(4)(_nchw(x)))
  np.testing.assert_array_equal(models.pixel_shuffle(jnp.asarray(x), 4), expected)
