"""The evaluation metrics, specified on tiny hand-computed cases.

Images are (N, H, W, 3) in [0, 1], masks (N, H, W, 1) with 1 = hole.
"""

import jax.numpy as jnp
import numpy as np

from genfill_jax import metrics


def _mask(*rows_per_image):
  """A (N, H, W, 1) mask from one nested list of rows per image."""
  return jnp.asarray(rows_per_image, jnp.float32)[..., None]


def _target(count=1, size=4):
  """Distinct values in [0.2, 0.8], so adding 0.1 stays in [0, 1]."""
  values = np.linspace(0.2, 0.8, count * size * size * 3, dtype=np.float32)
  return jnp.asarray(values.reshape(count, size, size, 3))


# masked_psnr


def test_masked_psnr_looks_at_hole_pixels_only():
  target = _target()
  mask = _mask([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
  known_errors = jnp.linspace(-0.2, 0.2, 4 * 4 * 3).reshape(1, 4, 4, 3)
  result = target + 0.1 * mask + known_errors * (1 - mask)
  # MSE over the hole values 0.1^2 = 0.01 -> 10 log10(1 / 0.01) = 20 dB.
  np.testing.assert_allclose(metrics.masked_psnr(result, target, mask), [20.0], atol=1e-4)


def test_masked_psnr_is_per_image():
  target = _target(count=2)
  mask = _mask([[1, 0, 0, 0]] * 4, [[0, 0, 0, 1]] * 4)
  error = jnp.asarray([0.1, 0.01]).reshape(2, 1, 1, 1)
  result = target + error * mask
  # 10 log10(1 / 0.1^2) = 20 dB and 10 log10(1 / 0.01^2) = 40 dB.
  np.testing.assert_allclose(metrics.masked_psnr(result, target, mask), [20.0, 40.0],
                             atol=1e-3)


def test_masked_psnr_of_perfect_fill_is_capped_at_100_db():
  target = _target()
  mask = _mask([[1, 1, 0, 0]] * 4)
  result = target + 0.3 * (1 - mask)  # wrong on known pixels only
  np.testing.assert_allclose(metrics.masked_psnr(result, target, mask), [100.0], rtol=1e-6)


def test_masked_psnr_without_holes_is_capped_value_not_nan():
  target = _target()
  mask = jnp.zeros((1, 4, 4, 1))
  psnr = metrics.masked_psnr(target + 0.3, target, mask)
  np.testing.assert_allclose(psnr, [100.0], rtol=1e-6)


# hole_l1


def test_hole_l1_is_mean_absolute_error_over_hole_values():
  target = jnp.zeros((1, 2, 2, 3))
  result = jnp.asarray([[[[0.1, -0.2, 0.3], [0.9, 0.9, 0.9]],
                         [[0.9, 0.9, 0.9], [-0.4, 0.0, 0.2]]]])
  mask = _mask([[1, 0], [0, 1]])
  # Hole values: 0.1 + 0.2 + 0.3 + 0.4 + 0 + 0.2 = 1.2 over 2 pixels x 3 channels -> 0.2.
  np.testing.assert_allclose(metrics.hole_l1(result, target, mask), [0.2], rtol=1e-6)


def test_hole_l1_without_holes_is_zero_not_nan():
  target = jnp.zeros((1, 2, 2, 3))
  result = target + 0.5
  np.testing.assert_array_equal(metrics.hole_l1(result, target, jnp.zeros((1, 2, 2, 1))), [0.0])


# image_metrics


def test_image_metrics_returns_one_value_per_image_for_each_metric():
  target = _target(count=3, size=16)
  mask = jnp.ones((3, 16, 16, 1))
  values = metrics.image_metrics(target + 0.05, target, mask)
  assert set(values) == set(metrics.IMAGE_METRICS) == {"psnr", "ssim", "l1"}
  for name in metrics.IMAGE_METRICS:
    assert values[name].shape == (3,), name


def test_image_metrics_psnr_and_l1_are_the_masked_metrics():
  target = _target(count=2, size=16)
  mask = jnp.zeros((2, 16, 16, 1)).at[:, 4:8, 2:10].set(1.0)
  result = target + 0.05 * mask + 0.2 * (1 - mask)
  values = metrics.image_metrics(result, target, mask)
  # Hole error 0.05: 10 log10(1 / 0.0025) = 26.0206 dB, L1 0.05.
  np.testing.assert_allclose(values["psnr"], [26.0206, 26.0206], atol=1e-3)
  np.testing.assert_allclose(values["l1"], [0.05, 0.05], rtol=1e-5)


def test_image_metrics_ssim_of_identical_images_is_one():
  target = _target(count=2, size=16)
  values = metrics.image_metrics(target, target, jnp.ones((2, 16, 16, 1)))
  np.testing.assert_allclose(values["ssim"], [1.0, 1.0], rtol=1e-5)


def test_image_metrics_ssim_is_per_image():
  target = _target(count=2, size=16)
  noise = np.random.default_rng(0).uniform(-0.2, 0.2, target.shape).astype(np.float32)
  noise[0] = 0  # the first image is exact, the second noisy
  values = metrics.image_metrics(target + noise, target, jnp.ones((2, 16, 16, 1)))
  np.testing.assert_allclose(values["ssim"][0], 1.0, rtol=1e-5)
  assert values["ssim"][1] < 0.9


# count_holes, HoleCounts, hole_scores


def _predicted_and_true():
  """Predicted 3 pixels, true 4 pixels, 2 of them shared."""
  predicted = np.array([[[1, 1, 1, 0], [0, 0, 0, 0]]])
  true = np.array([[[0, 1, 1, 0], [1, 1, 0, 0]]])
  return predicted, true


def test_count_holes_counts_overlap_predicted_and_true_pixels():
  predicted, true = _predicted_and_true()
  assert metrics.count_holes(predicted, true) == metrics.HoleCounts(2.0, 3.0, 4.0)


def test_count_holes_accepts_jax_arrays():
  predicted, true = _predicted_and_true()
  counts = metrics.count_holes(jnp.asarray(predicted), jnp.asarray(true))
  assert counts == metrics.HoleCounts(2.0, 3.0, 4.0)


def test_hole_scores_of_hand_counted_case():
  scores = metrics.hole_scores(metrics.HoleCounts(overlap=2.0, predicted=3.0, true=4.0))
  assert set(scores) == set(metrics.HOLE_METRICS)
  # Union 3 + 4 - 2 = 5.
  np.testing.assert_allclose(scores["iou"], 2 / 5, rtol=1e-12)
  np.testing.assert_allclose(scores["precision"], 2 / 3, rtol=1e-12)
  np.testing.assert_allclose(scores["recall"], 1 / 2, rtol=1e-12)


def test_hole_counts_add_field_by_field():
  total = metrics.HoleCounts(1.0, 2.0, 3.0) + metrics.HoleCounts(10.0, 20.0, 30.0)
  assert total == metrics.HoleCounts(11.0, 22.0, 33.0)


def test_hole_counts_default_to_zero_and_are_the_sum_identity():
  counts = metrics.HoleCounts(2.0, 3.0, 4.0)
  assert metrics.HoleCounts() == metrics.HoleCounts(0.0, 0.0, 0.0)
  assert metrics.HoleCounts() + counts == counts


def test_hole_counts_pooled_over_batches_equal_counts_of_concatenation():
  rng = np.random.default_rng(0)
  predicted = rng.integers(0, 2, (5, 6, 6))
  true = rng.integers(0, 2, (5, 6, 6))
  pooled = (metrics.count_holes(predicted[:2], true[:2])
            + metrics.count_holes(predicted[2:], true[2:]))
  assert pooled == metrics.count_holes(predicted, true)


def test_hole_scores_of_empty_prediction_are_zero_without_division_by_zero():
  scores = metrics.hole_scores(metrics.HoleCounts(overlap=0.0, predicted=0.0, true=4.0))
  assert scores == {"iou": 0.0, "precision": 0.0, "recall": 0.0}


def test_hole_scores_with_no_holes_at_all_are_zero():
  assert metrics.hole_scores(metrics.HoleCounts()) == {"iou": 0.0, "precision": 0.0,
                                                        "recall": 0.0}


# paired_bootstrap


def test_paired_bootstrap_interval_contains_the_mean_and_shrinks_with_more_examples():
  rng = np.random.default_rng(0)
  few, many = rng.normal(0.5, 1.0, 20), rng.normal(0.5, 1.0, 2000)
  for differences in (few, many):
    interval = metrics.paired_bootstrap(differences)
    assert interval["low"] < interval["mean"] < interval["high"]
    np.testing.assert_allclose(interval["mean"], differences.mean())
  width = {len(d): metrics.paired_bootstrap(d)["high"] - metrics.paired_bootstrap(d)["low"]
           for d in (few, many)}
  # The interval of a mean narrows as 1 / sqrt(n): 10x for 100x the examples.
  assert 5 < width[20] / width[2000] < 20
  # 2000 examples of mean 0.5 and deviation 1: the 95% interval excludes zero.
  assert metrics.paired_bootstrap(many)["low"] > 0


def test_paired_bootstrap_of_identical_methods_is_a_point_at_zero():
  interval = metrics.paired_bootstrap(np.zeros(50))
  assert interval == {"mean": 0.0, "low": 0.0, "high": 0.0}
