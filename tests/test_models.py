"""Shapes, parameter counts and input checks of the Flax models."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from configs import default, seed, tiny
from genfill_jax import baselines, models, pixels
from genfill_jax.models import blocks, multigrid, networks, opencv_guess, pull_push


def _init_and_apply(model, image_size, batch_size=2):
  inputs = models.example_inputs(model, image_size, batch_size)
  # Jitted: one compilation is much faster than op-by-op dispatch on the CPU.
  variables = jax.jit(model.init)(jax.random.key(0), *inputs)
  return jax.jit(model.apply)(variables, *inputs)


@pytest.mark.parametrize("k,r,size", [(1, 0, 8), (2, 1, 32), (3, 2, 64), (3, 1, 48)])
def test_cell_outputs_have_one_logit_per_cell(k, r, size):
  predictor = models.HolePredictor(k, r, base_width=4)
  discriminator = models.Discriminator(k, r, base_width=4)
  cells = size // 2**k
  assert _init_and_apply(predictor, size).shape == (2, cells, cells, 1)
  assert _init_and_apply(discriminator, size).shape == (2, cells, cells, 1)


@pytest.mark.parametrize("k,r,size,hole_map_input", [
    (1, 1, 16, "bottleneck"), (2, 3, 32, "input"), (3, 0, 64, "both"),
])
def test_filler_returns_an_image_in_range(k, r, size, hole_map_input):
  filler = models.Filler(k, r, base_width=4, hole_map_input=hole_map_input)
  image = jax.random.uniform(jax.random.key(1), (2, size, size, 3), minval=-1)
  # Full-resolution and cell-resolution hole maps are both accepted.
  for map_size in (size, size // 2**k):
    hole_map = jnp.ones((2, map_size, map_size, 1))
    variables = jax.jit(filler.init)(jax.random.key(0), image, hole_map)
    output = jax.jit(filler.apply)(variables, image, hole_map)
    assert output.shape == (2, size, size, 3)
    assert float(jnp.max(jnp.abs(output))) <= 1.0


def test_filler_input_channels_follow_the_hole_map_setting():
  first_kernel = {}
  for setting in ("bottleneck", "input", "both"):
    filler = models.Filler(2, 1, 4, hole_map_input=setting)
    params = models.abstract_variables(filler, 32)["params"]
    first_kernel[setting] = params["downscalers_0"]["conv"]["kernel"].shape[2]
    bottleneck_width = params["res_blocks_0"]["conv1"]["kernel"].shape[2]
    assert bottleneck_width == (17 if setting != "input" else 16)
  assert first_kernel == {"bottleneck": 3, "input": 4, "both": 4}


def test_full_resolution_hole_predictor():
  predictor = models.HolePredictor(2, 1, 4, output_resolution="full")
  assert _init_and_apply(predictor, 32).shape == (2, 32, 32, 1)


def test_pixel_branch_feeds_the_full_resolution_head():
  predictor = models.HolePredictor(2, 1, 4, output_resolution="full", pixel_features=5)
  assert _init_and_apply(predictor, 32).shape == (2, 32, 32, 1)
  params = models.abstract_variables(predictor, 32)["params"]
  assert params["pixel_conv0"]["kernel"].shape == (3, 3, 3, 5)
  assert params["pixel_conv1"]["kernel"].shape == (3, 3, 5, 5)
  # The head sees the decoder (base_width 4), the raw pixels (3) and the branch (5).
  assert params["final_conv"]["kernel"].shape == (3, 3, 4 + 3 + 5, 1)


def test_head_layers_join_the_full_resolution_features_before_the_final_conv():
  predictor = models.HolePredictor(2, 1, 4, output_resolution="full", pixel_features=5,
                                   head_layers=2)
  assert _init_and_apply(predictor, 32).shape == (2, 32, 32, 1)
  params = models.abstract_variables(predictor, 32)["params"]
  assert params["head_conv0"]["kernel"].shape == (3, 3, 4 + 3 + 5, 4)  # base_width wide
  assert params["head_conv1"]["kernel"].shape == (3, 3, 4, 4)
  assert params["final_conv"]["kernel"].shape == (3, 3, 4, 1)
  assert "head_conv2" not in params


def test_near_known_pixels_marks_pixels_within_reach_of_a_known_one():
  holes = jnp.zeros((1, 16, 16, 1)).at[:, 3:12, 4:13].set(1.0)  # a 9 x 9 hole
  near = networks.near_known_pixels(holes, 2)
  expected = np.ones((16, 16))
  expected[5:10, 6:11] = 0.0  # more than 2 px from every known pixel
  np.testing.assert_array_equal(near[0, ..., 0], expected)


def test_pixel_reach_keeps_the_full_resolution_features_out_of_a_hole_inside():
  filler = models.Filler(2, 1, 4, norm_pattern="none", hole_map_input="both",
                         hole_fill="harmonic", harmonic_solver="multigrid",
                         pixel_features=3, pixel_reach=2)
  image = jax.random.uniform(jax.random.key(0), (1, 16, 16, 3), minval=-1, maxval=1)
  hole_map = jnp.zeros((1, 16, 16, 1)).at[:, 3:12, 4:13].set(1.0)
  params = filler.init(jax.random.key(1), image, hole_map)["params"]
  # The head starts at zero (the output is the first guess): give it weights.
  params["final_conv"]["kernel"] = jax.random.normal(
      jax.random.key(2), params["final_conv"]["kernel"].shape)
  other = dict(params, pixel_conv1=jax.tree.map(lambda p: p + 1.0, params["pixel_conv1"]))
  fill = lambda p: np.asarray(filler.apply({"params": p}, image, hole_map))
  changed = np.abs(fill(other) - fill(params)).max(axis=-1)[0]
  # The final conv is 3 x 3: pixels more than reach + 1 = 3 px from a known one
  # see no branch feature; those within reach of one do.
  assert changed[6:9, 7:10].max() == 0.0
  assert changed[3:12, 4:13].max() > 1e-3
  assert changed[3, 4] > 1e-3


@pytest.mark.parametrize("use_bias", [False, True])
def test_patch_conv_is_the_strided_conv_it_replaces(use_bias):
  x = jax.random.normal(jax.random.key(0), (2, 8, 12, 3))
  patch = blocks.PatchConv(5, use_bias=use_bias)
  conv = nn.Conv(5, (2, 2), strides=(2, 2), padding="VALID", use_bias=use_bias)
  params = patch.init(jax.random.key(1), x)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, conv.init(
      jax.random.key(1), x))
  if use_bias:
    params = jax.tree.map(lambda p: p + 0.3, params)  # a non-zero bias
  np.testing.assert_allclose(patch.apply(params, x), conv.apply(params, x), atol=1e-5)
  # Same kernel gradient, the reason it exists.
  grad = lambda module: jax.grad(lambda p: jnp.sum(jnp.sin(module.apply(p, x))))(params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4), grad(patch), grad(conv))


@pytest.mark.parametrize("pattern,expected", [
    ("even", {"downscalers_0", "res_blocks_0", "res_blocks_2", "upscalers_0"}),
    ("none", set()),
])
def test_norm_pattern_places_batch_norm(pattern, expected):
  filler = models.Filler(2, 3, 4, norm_pattern=pattern)
  variables = models.abstract_variables(filler, 32)
  assert set(variables.get("batch_stats", {})) == expected


def test_all_norm_pattern_normalises_every_block():
  filler = models.Filler(2, 3, 4, norm_pattern="all")
  stats = models.abstract_variables(filler, 32)["batch_stats"]
  assert set(stats) == set(models.abstract_variables(filler, 32)["params"]) - {"final_conv"}


def test_seed_parameter_counts_equal_the_original():
  config = seed.get_config()
  built = models.create_models(config)
  counts = {
      name: models.count_params(models.abstract_variables(model, config.data.image_size))
      for name, model in built._asdict().items()
  }
  assert counts == {
      "hole_predictor": 10_133_385,
      "filler": 68_722_675,
      "discriminator": 57_330_333,
  }


@pytest.mark.parametrize("get_config", [default.get_config, tiny.get_config])
def test_working_configs_build_and_run(get_config):
  config = get_config()
  for model in models.create_models(config):
    outputs = _init_and_apply(model, config.data.image_size)
    assert outputs.shape[1] in (config.data.image_size,
                                config.data.image_size // 2**model.num_downscales)


@pytest.mark.parametrize("model,size,multiple", [
    (models.HolePredictor(2, 1, 4), 30, 4),
    (models.Discriminator(3, 1, 4), 60, 8),
    (models.Filler(2, 1, 4), 36, 8),  # 36 divides by 4 but the decoder needs 8
])
def test_indivisible_resolution_is_refused(model, size, multiple):
  with pytest.raises(ValueError, match=f"{size}x{size} is not divisible by {multiple}"):
    _init_and_apply(model, size)


def test_first_guesses_keep_known_pixels_and_fill_smoothly():
  ramp = jnp.broadcast_to(jnp.linspace(-1, 1, 32)[None, None, :, None], (2, 32, 32, 3))
  hole = jnp.zeros((2, 32, 32, 1)).at[:, 8:24, 10:22].set(1)
  for fill in (pull_push.pull_push_fill(ramp, hole),
               pull_push.harmonic_fill(ramp, hole, iterations=400)):
    assert jnp.array_equal(fill * (1 - hole), ramp * (1 - hole))
    assert float(jnp.max(jnp.abs(fill))) <= 1.0
  # A linear ramp is harmonic: the Jacobi sweeps recover it inside the hole.
  harmonic = pull_push.harmonic_fill(ramp, hole, iterations=400)
  assert float(jnp.max(jnp.abs(harmonic - ramp))) < 0.01
  pulled = pull_push.pull_push_fill(ramp, hole)
  assert float(jnp.max(jnp.abs(pulled - ramp))) > float(jnp.max(jnp.abs(harmonic - ramp)))


@pytest.mark.parametrize("hole_fill,solver", [
    ("pull_push", "jacobi"), ("harmonic", "jacobi"), ("harmonic", "conjugate_gradient"),
    ("harmonic", "multigrid")])
def test_filler_with_a_first_guess_starts_from_it(hole_fill, solver):
  filler = models.Filler(2, 1, 4, hole_map_input="both", hole_fill=hole_fill,
                         harmonic_solver=solver, harmonic_iterations=50)
  image = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1)
  hole = jnp.zeros((2, 32, 32, 1)).at[:, 4:20, 8:28].set(1)
  variables = jax.jit(filler.init)(jax.random.key(0), image * (1 - hole), hole)
  output = jax.jit(filler.apply)(variables, image * (1 - hole), hole)
  guess = (pull_push.pull_push_fill(image, hole) if hole_fill == "pull_push"
           else pull_push.harmonic_first_guess(image, hole, solver, 50, 1e-3))
  np.testing.assert_allclose(output, jnp.clip(guess, -1, 1), atol=1e-6)  # zero-initialised head
  np.testing.assert_allclose(filler.first_guess(image * (1 - hole), hole), guess, atol=1e-6)
  # A guess solved elsewhere (inpaint.fill's flips share one) replaces the solve.
  given = jnp.full_like(image, 0.25)
  output = jax.jit(filler.apply)(variables, image * (1 - hole), hole, first_guess=given)
  np.testing.assert_allclose(output, given, atol=1e-6)


def test_filler_full_resolution_head_sees_its_input_and_starts_from_the_first_guess():
  filler = models.Filler(2, 1, 4, hole_map_input="both", hole_fill="harmonic",
                         harmonic_solver="multigrid", harmonic_iterations=50,
                         pixel_features=5, head_layers=2)
  image = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1)
  hole = jnp.zeros((2, 32, 32, 1)).at[:, 4:20, 8:28].set(1)
  corrupted = image * (1 - hole)
  variables = jax.jit(filler.init)(jax.random.key(0), corrupted, hole)
  params = variables["params"]
  # The branch reads the filler's input: the first guess (3) and the hole map (1).
  assert params["pixel_conv0"]["kernel"].shape == (3, 3, 4, 5)
  # The head joins the decoder (base_width 4), that input (4) and the branch (5).
  assert params["head_conv0"]["kernel"].shape == (3, 3, 4 + 4 + 5, 4)
  assert params["final_conv"]["kernel"].shape == (3, 3, 4, 3)
  output = jax.jit(filler.apply)(variables, corrupted, hole)
  guess = pull_push.harmonic_first_guess(corrupted, hole, "multigrid", 50, 1e-3)
  np.testing.assert_allclose(output, jnp.clip(guess, -1, 1), atol=1e-6)  # zero-initialised head

  # Once the final conv is not zero, the branch's first layer gets a gradient.
  params = dict(params, final_conv=dict(
      kernel=jnp.full_like(params["final_conv"]["kernel"], 0.1),
      bias=params["final_conv"]["bias"]))

  def painted_energy(branch_kernel):
    tried = dict(params, pixel_conv0=dict(params["pixel_conv0"], kernel=branch_kernel))
    result = filler.apply(dict(variables, params=tried), corrupted, hole)
    return jnp.sum((result - guess) ** 2 * hole)

  gradient = jax.jit(jax.grad(painted_energy))(params["pixel_conv0"]["kernel"])
  assert float(jnp.max(jnp.abs(gradient))) > 0


def test_filler_without_full_resolution_layers_keeps_the_original_head():
  params = models.abstract_variables(models.Filler(2, 1, 4, hole_fill="harmonic"), 32)["params"]
  assert params["final_conv"]["kernel"].shape == (3, 3, 4, 3)  # the decoder alone
  assert not any(name.startswith(("pixel_", "head_")) for name in params)


def test_opencv_fill_is_opencv_on_the_rounded_image_under_jit():
  image = jax.random.uniform(jax.random.key(2), (3, 32, 48, 3), minval=-1)
  hole = jnp.zeros((3, 32, 48, 1)).at[:, 6:20, 10:30].set(1).at[1].set(0)
  for method in baselines.OPENCV_METHODS:
    filled = jax.jit(opencv_guess.opencv_fill, static_argnums=2)(image, hole, method)
    expected = pixels.uint8_to_signed(baselines.opencv_inpaint(
        pixels.signed_to_uint8(np.asarray(image)), np.asarray(hole) > 0.5, method))
    holes = np.asarray(hole, bool)[..., 0]
    np.testing.assert_array_equal(np.asarray(filled)[holes], expected[holes])
    np.testing.assert_array_equal(np.asarray(filled)[~holes], np.asarray(image)[~holes])
    # Image 1 has no hole: returned as given, not rounded to uint8.
    np.testing.assert_array_equal(filled[1], image[1])


def test_filler_with_opencv_guesses_starts_from_the_mean_of_its_guesses_and_learns_the_blend():
  filler = models.Filler(2, 1, 4, hole_map_input="both", hole_fill="harmonic",
                         harmonic_solver="conjugate_gradient", harmonic_iterations=50,
                         opencv_guesses=("navier_stokes", "telea"))
  image = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1)
  hole = jnp.zeros((2, 32, 32, 1)).at[:, 4:20, 8:28].set(1)
  corrupted = image * (1 - hole)
  variables = jax.jit(filler.init)(jax.random.key(0), corrupted, hole)
  assert variables["params"]["blend_conv"]["kernel"].shape[-1] == 3
  output = jax.jit(filler.apply)(variables, corrupted, hole)
  guesses = [pull_push.harmonic_first_guess(corrupted, hole, "conjugate_gradient", 50, 1e-3),
             opencv_guess.opencv_fill(corrupted, hole, "navier_stokes"),
             opencv_guess.opencv_fill(corrupted, hole, "telea")]
  np.testing.assert_allclose(output, jnp.clip(sum(guesses) / 3, -1, 1), atol=1e-6)
  assert float(jnp.max(jnp.abs(guesses[1] - guesses[0]) * hole)) > 0.05  # they differ

  def loss(params):
    filled = filler.apply({**variables, "params": params}, corrupted, hole)
    return jnp.mean(jnp.abs(filled - guesses[1]) * hole)

  gradients = jax.jit(jax.grad(loss))(variables["params"])
  assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(gradients))
  # Moving the blend towards Navier-Stokes lowers the loss: the gate has a gradient.
  assert float(jnp.abs(gradients["blend_conv"]["bias"][1])) > 0
  assert float(gradients["blend_conv"]["bias"][1]) < 0


def _exact_fill_signed(image, hole):
  """baselines.exact_harmonic_fill on [-1, 1] images (it takes uint8-scaled ones)."""
  from genfill_jax import baselines
  exact = baselines.exact_harmonic_fill(np.asarray((image + 1) * 127.5), np.asarray(hole))
  return exact * 2 - 1


@pytest.mark.parametrize("size", [32, 96])
def test_conjugate_gradient_fill_converges_to_the_exact_solve_where_jacobi_does_not(size):
  rng = np.random.default_rng(0)
  image = jnp.asarray(rng.uniform(-1, 1, (2, size, size, 3)), jnp.float32)
  hole = np.zeros((2, size, size, 1), np.float32)
  hole[0, 2:size - 6, 3:size // 2] = 1  # a wide box reaching near the border
  hole[1, :, size // 3:size // 3 + 3] = 1  # a stroke across the whole image
  hole[1, size // 2:, :5] = 1  # and a hole touching two borders
  exact = _exact_fill_signed(image, hole)
  solved = np.asarray(jax.jit(pull_push.harmonic_fill_cg, static_argnums=(2, 3))(
      image, jnp.asarray(hole), 5000, 1e-5))
  assert np.array_equal(solved * (1 - hole), np.asarray(image) * (1 - hole))
  np.testing.assert_allclose(solved, exact, atol=2e-3)
  # The discrete Laplace equation holds in the holes (edges replicated).
  padded = np.pad(solved, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
  laplacian = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2]
               + padded[:, 1:-1, 2:] - 4 * solved)
  assert np.abs(laplacian * hole).max() < 1e-4
  jacobi = np.asarray(pull_push.harmonic_fill(image, jnp.asarray(hole), 200))
  assert np.abs(jacobi - exact).max() > 10 * np.abs(solved - exact).max()


@pytest.mark.parametrize("height,width", [(32, 32), (96, 96), (40, 72), (37, 53)])
def test_multigrid_fill_solves_the_discrete_laplace_equation_in_a_few_cycles(height, width):
  rng = np.random.default_rng(1)
  image = jnp.asarray(rng.uniform(-1, 1, (2, height, width, 3)), jnp.float32)
  hole = np.zeros((2, height, width, 1), np.float32)
  hole[0, 2:height - 6, 3:width // 2] = 1  # a wide box reaching near the border
  hole[1, :, width // 3:width // 3 + 1] = 1  # a 1-pixel stroke across the whole image
  hole[1, height // 2:, :5] = 1  # and a hole touching two borders
  solve = jax.jit(lambda image, hole, cycles: multigrid.harmonic_fill_multigrid(
      image, hole, pull_push.pull_push_fill(image, hole), cycles, 1e-5), static_argnums=2)
  solved = np.asarray(solve(image, jnp.asarray(hole), 20))
  assert np.array_equal(solved * (1 - hole), np.asarray(image) * (1 - hole))
  np.testing.assert_allclose(solved, _exact_fill_signed(image, hole), atol=2e-3)
  padded = np.pad(solved, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
  laplacian = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2]
               + padded[:, 1:-1, 2:] - 4 * solved)
  assert np.abs(laplacian * hole).max() < 1e-4
  # Each cycle lowers the largest residual: one cycle is far from the answer.
  one_cycle = np.asarray(solve(image, jnp.asarray(hole), 1))
  assert np.abs(one_cycle - solved).max() > 10 * np.abs(solved - _exact_fill_signed(
      image, hole)).max()


def test_conjugate_gradient_fill_stops_at_the_iteration_cap_and_keeps_an_all_hole_image_finite():
  image = jnp.linspace(-1, 1, 3 * 32 * 32).reshape(1, 32, 32, 3)
  hole = jnp.zeros((1, 32, 32, 1)).at[:, 4:28, 4:28].set(1)
  start = pull_push.pull_push_fill(image, hole)
  np.testing.assert_array_equal(pull_push.harmonic_fill_cg(image, hole, 0, 1e-3), start)
  one_step = pull_push.harmonic_fill_cg(image, hole, 1, 1e-9)
  assert not np.array_equal(one_step, start)
  everything = pull_push.harmonic_fill_cg(image, jnp.ones((1, 32, 32, 1)), 100, 1e-3)
  assert np.isfinite(np.asarray(everything)).all()


@pytest.mark.parametrize("size,features", [(8, 129), (12, 16), (32, 7), (10, 24)])
def test_fourier_res_block_keeps_shapes_and_sees_the_whole_image(size, features):
  from genfill_jax.models import fourier
  block = fourier.FourierRes(norm=True)
  x = jax.random.normal(jax.random.key(0), (2, size, size, features))
  variables = block.init(jax.random.key(1), x, train=False)
  y = block.apply(variables, x, train=False)
  assert y.shape == x.shape and y.dtype == x.dtype
  # A change in one corner moves the output in the far corner: the receptive
  # field covers the image (a 3x3 Res block's reaches 2 px).
  def far_corner(corner_value):
    return block.apply(variables, x.at[:, 0, 0, :].set(corner_value), train=False)[:, -1, -1]
  assert float(jnp.max(jnp.abs(far_corner(5.0) - far_corner(-5.0)))) > 1e-3


def test_fourier_res_block_runs_in_bfloat16_with_finite_gradients():
  from genfill_jax.models import fourier
  block = fourier.FourierRes(norm=False, dtype=jnp.bfloat16)
  x = jax.random.normal(jax.random.key(0), (2, 16, 16, 32), jnp.bfloat16)
  variables = block.init(jax.random.key(1), x, train=False)
  assert block.apply(variables, x, train=False).dtype == jnp.bfloat16
  grads = jax.grad(lambda v: jnp.sum(block.apply(v, x, train=False).astype(jnp.float32) ** 2))(
      variables)
  assert all(np.isfinite(np.asarray(g, np.float32)).all() for g in jax.tree.leaves(grads))


def test_filler_with_fourier_blocks_fills_several_sizes():
  filler = models.Filler(3, 2, 4, norm_pattern="none", hole_map_input="both",
                         hole_fill="harmonic", harmonic_solver="conjugate_gradient",
                         res_block="fourier")
  for size in (64, 96, 128):
    outputs = _init_and_apply(filler, size)
    assert outputs.shape == (2, size, size, 3)


def _assert_fills_64_and_96_px_from_its_first_guess(filler):
  """A multigrid-guess filler paints its first guess at 64 and 96 px (zero-initialised head)."""
  for size in (64, 96):
    image = jax.random.uniform(jax.random.key(1), (2, size, size, 3), minval=-1)
    hole = jnp.zeros((2, size, size, 1)).at[:, 8:40, 16:48].set(1)
    variables = jax.jit(filler.init)(jax.random.key(0), image * (1 - hole), hole)
    output = jax.jit(filler.apply)(variables, image * (1 - hole), hole)
    guess = pull_push.harmonic_first_guess(image, hole, "multigrid", 50, 1e-3)
    np.testing.assert_allclose(output, jnp.clip(guess, -1, 1), atol=1e-6)


def test_resize_conv_decoder_fills_several_sizes_and_starts_from_the_first_guess():
  filler = models.Filler(3, 1, 4, norm_pattern="none", hole_map_input="both",
                         hole_fill="harmonic", harmonic_solver="multigrid",
                         res_block="fourier", upsampling="resize_conv")
  params = models.abstract_variables(filler, 64)["params"]
  # 3x3 convs, each halving the width, instead of 2x2 stride-2 convs to 16x features.
  assert [params[f"upscalers_{index}"]["conv"]["kernel"].shape for index in range(3)] == [
      (3, 3, 33, 16), (3, 3, 16, 8), (3, 3, 8, 4)]
  _assert_fills_64_and_96_px_from_its_first_guess(filler)


def test_shuffle_decoder_paints_4x4_blocks_from_one_position_and_resize_conv_does_not():
  """Changing one position of the last block's input moves a 4 x 4 pixel block
  of the 'shuffle' decoder's output (a stride-2 conv, then a shuffle by 4), but
  a 4 x 4 window around a pixel of the 'resize_conv' one (2x nearest, then 3x3)."""
  features = jax.random.normal(jax.random.key(0), (1, 16, 16, 4))
  nudged = features.at[0, 5, 5].add(1.0)
  changed = {}
  for name, block in blocks.UPSCALE_BLOCKS.items():
    module = block(2, norm=False)
    variables = module.init(jax.random.key(1), features, False)
    difference = jnp.abs(module.apply(variables, nudged, False)
                         - module.apply(variables, features, False)).sum(-1)[0]
    rows, columns = np.nonzero(np.asarray(difference) > 1e-6)
    changed[name] = (rows.min(), rows.max(), columns.min(), columns.max())
  assert changed["shuffle"] == (8, 11, 8, 11)  # position 5 of 16 -> stride 2 -> 2 of 8 -> x4
  assert changed["resize_conv"] == (9, 12, 9, 12)  # pixels 10-11, widened by the 3x3 conv


def test_overlap_conv_is_the_4x4_strided_conv_it_stands_for():
  x = jax.random.normal(jax.random.key(0), (2, 8, 12, 3))
  overlap = blocks.OverlapConv(5)
  conv = nn.Conv(5, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)
  params = overlap.init(jax.random.key(1), x)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, conv.init(
      jax.random.key(1), x))
  np.testing.assert_allclose(overlap.apply(params, x), conv.apply(params, x), atol=1e-5)
  grad = lambda module: jax.grad(lambda p: jnp.sum(jnp.sin(module.apply(p, x))))(params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4),
               grad(overlap), grad(conv))


def test_overlap_downscale_sees_across_cell_edges_and_patch_does_not():
  """A pixel at the corner of a 2 x 2 cell reaches only its own cell's output
  through a 'patch' DownScale, and the 2 x 2 outputs around it through 'overlap'."""
  x = jax.random.normal(jax.random.key(0), (1, 8, 8, 3))
  nudged = x.at[0, 3, 3].add(1.0)  # the bottom-right pixel of cell (1, 1)
  changed = {}
  for conv in blocks.DOWNSCALE_CONVS:
    module = blocks.DownScale(4, norm=False, conv_kind=conv)
    variables = module.init(jax.random.key(1), x, False)
    difference = jnp.abs(module.apply(variables, nudged, False)
                         - module.apply(variables, x, False)).sum(-1)[0]
    changed[conv] = sorted(zip(*np.nonzero(np.asarray(difference) > 1e-6), strict=True))
  assert changed["patch"] == [(1, 1)]
  assert changed["overlap"] == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_filler_stem_and_overlap_encoder_fill_several_sizes_from_the_first_guess():
  filler = models.Filler(3, 1, 4, norm_pattern="none", hole_map_input="both",
                         hole_fill="harmonic", harmonic_solver="multigrid",
                         res_block="fourier", upsampling="resize_conv",
                         downsampling="overlap", stem_features=6)
  params = models.abstract_variables(filler, 64)["params"]
  assert params["stem_conv0"]["kernel"].shape == (3, 3, 4, 6)  # guess + hole map in
  assert [params[f"downscalers_{index}"]["conv"]["kernel"].shape for index in range(3)] == [
      (4, 4, 6, 8), (4, 4, 8, 16), (4, 4, 16, 32)]
  _assert_fills_64_and_96_px_from_its_first_guess(filler)


def test_hole_predictor_and_discriminator_take_the_overlap_encoder_from_the_config():
  config = tiny.get_config()
  config.hole_predictor.downsampling = config.discriminator.downsampling = "overlap"
  built = models.create_models(config)
  size = config.data.image_size
  for model in (built.hole_predictor, built.discriminator):
    params = models.abstract_variables(model, size)["params"]
    assert all(params[f"downscalers_{index}"]["conv"]["kernel"].shape[:2] == (4, 4)
               for index in range(model.num_downscales))
  assert _init_and_apply(built.hole_predictor, size).shape == (2, size, size, 1)
  cells = size // 2**built.discriminator.num_downscales
  assert _init_and_apply(built.discriminator, size).shape == (2, cells, cells, 1)
