"""The one place that checks a config: every field a run reads, before anything is
written or compiled. The networks, the loader and the train step trust a checked
config. Errors are one line naming the field.

`check_for_training` and `check_for_evaluation` take the device count (the
batch splits over the devices); `check_for_inference` checks only what a
trained run's networks read.
"""

import ml_collections
from etils import epath

from genfill_jax import (
  baselines,
  discriminator_augment,
  errors,
  gan_state,
  models,
  perceptual,
  recipes,
  strategies,
)
from genfill_jax.data import corruption, datasets, holes, loader, pack, sources
from genfill_jax.models import blocks, networks, pull_push

EVAL_SPLITS = ("validation", "test")
# Every field that names one of a fixed set of choices, and its choices.
CHOICES = {
    "compute_dtype": models.COMPUTE_DTYPES,
    "platform": ("", "cpu", "gpu", "tpu"),
    "data.source": loader.SOURCES,
    "data.crop": datasets.CROPS,
    "data.train_crop_area_sampling": datasets.CROP_AREA_SAMPLINGS,
    "holes.corruption": corruption.MODES,
    "holes.predictor_corruption": corruption.MODES,
    "train.recipe": recipes.RECIPES,
    "loss.perceptual_stages": perceptual.VGG_STAGE_COUNTS,
    "train.filler_condition": ("true_mask", "predicted"),
    "eval.split": EVAL_SPLITS,
    "hole_predictor.norm_pattern": blocks.NORM_PATTERNS,
    "hole_predictor.output_resolution": networks.HOLE_PREDICTOR_OUTPUTS,
    "filler.norm_pattern": blocks.NORM_PATTERNS,
    "filler.hole_map_input": networks.HOLE_MAP_INPUTS,
    "filler.hole_fill": networks.HOLE_FILLS,
    "filler.harmonic_solver": pull_push.HARMONIC_SOLVERS,
    "filler.res_block": tuple(networks.RES_BLOCKS),
    "filler.upsampling": tuple(blocks.UPSCALE_BLOCKS),
    "filler.test_time_flips": networks.FILLER_TEST_TIME_FLIPS,
    **{f"{network}.downsampling": blocks.DOWNSCALE_CONVS
       for network in ("hole_predictor", "filler", "discriminator")},
    "inference.strategy": strategies.STRATEGIES,
    "discriminator.norm_pattern": blocks.NORM_PATTERNS,
    **{f"optim.{player}.schedule": gan_state.SCHEDULES
       for player in ("hole_predictor", "filler", "discriminator")},
}
NETWORKS = ("hole_predictor", "filler", "discriminator")


class ConfigError(errors.UserError, ValueError):
  """A config field with an unusable value; the message is one line naming the field."""


def _value(config: ml_collections.ConfigDict, field: str):
  value = config
  for name in field.split("."):
    value = value[name]
  return value


def _require(condition: bool, field: str, value, expectation: str) -> None:
  if not condition:
    raise ConfigError(f"config.{field}={value!r} {expectation}")


def _at_least(config, fields, minimum) -> None:
  for field in fields:
    value = _value(config, field)
    _require(value >= minimum, field, value,
             "must be positive" if minimum == 1 else f"must be >= {minimum}")


def _fraction(config, fields, *, open_top: bool = False) -> None:
  for field in fields:
    value = _value(config, field)
    top_ok = value < 1 if open_top else value <= 1
    _require(0 <= value and top_ok, field, value,
             f"must be in [0, 1{')' if open_top else ']'}")


def _check_choices(config: ml_collections.ConfigDict) -> None:
  for field, choices in CHOICES.items():
    value = _value(config, field)
    _require(value in choices, field, value, f"must be one of {tuple(choices)}")


def _check_networks(config: ml_collections.ConfigDict) -> None:
  for name in NETWORKS:
    _at_least(config, [f"{name}.num_downscales", f"{name}.base_width"], 1)
    _at_least(config, [f"{name}.num_res_blocks"], 0)
  full_resolution = config.hole_predictor.output_resolution == "full"
  for field in ("pixel_features", "head_layers"):  # layers only 'full' outputs have
    value = config.hole_predictor[field]
    _require(value == 0 or (value > 0 and full_resolution), f"hole_predictor.{field}", value,
             "must be 0, or positive with output_resolution='full'")
  _at_least(config, ["filler.harmonic_iterations", "hole_predictor.dilation",
                     "filler.pixel_features", "filler.head_layers", "filler.pixel_reach",
                     "filler.stem_features"], 0)
  _require(not config.filler.pixel_reach
           or config.filler.pixel_features or config.filler.head_layers,
           "filler.pixel_reach", config.filler.pixel_reach,
           "limits the full-resolution features: it needs filler.pixel_features or "
           "filler.head_layers above 0")
  tolerance = config.filler.harmonic_tolerance
  _require(tolerance > 0, "filler.harmonic_tolerance", tolerance, "must be positive")
  guesses = tuple(config.filler.opencv_guesses)
  _require(set(guesses) <= set(baselines.OPENCV_METHODS) and len(set(guesses)) == len(guesses),
           "filler.opencv_guesses", guesses,
           f"must name distinct methods among {baselines.OPENCV_METHODS}")
  _require(not guesses or config.filler.hole_fill != "none", "filler.opencv_guesses", guesses,
           "needs a first guess to join (config.filler.hole_fill='none')")
  threshold = config.hole_predictor.threshold
  _require(0 < threshold < 1, "hole_predictor.threshold", threshold, "must be in (0, 1)")
  grow = config.hole_predictor.grow_threshold
  _require(grow == 0 or 0 < grow < threshold, "hole_predictor.grow_threshold", grow,
           f"must be 0 (off) or in (0, hole_predictor.threshold={threshold})")


def _check_image_size(config: ml_collections.ConfigDict, field: str = "data.image_size") -> None:
  size = _value(config, field)
  needs = {
      "hole_predictor": blocks.required_multiple(
          config.hole_predictor.num_downscales,
          config.hole_predictor.output_resolution == "full"),
      "filler": blocks.required_multiple(config.filler.num_downscales, True),
      "discriminator": blocks.required_multiple(config.discriminator.num_downscales, False),
  }
  multiple = max(needs.values())
  model = max(needs, key=needs.get)
  _require(size > 0 and size % multiple == 0, field, size,
           f"must be a positive multiple of {multiple} "
           f"(config.{model}.num_downscales={config[model].num_downscales} needs it)")


def _check_large_crops(config: ml_collections.ConfigDict, device_count: int) -> None:
  data = config.data
  _at_least(config, ["data.large_image_size"], 0)
  if data.large_image_size == 0:
    return
  _check_image_size(config, "data.large_image_size")
  cell_size = config.holes.blocks.cell_size
  _require(data.large_image_size % cell_size == 0, "data.large_image_size",
           data.large_image_size,
           f"must be a multiple of config.holes.blocks.cell_size={cell_size}")
  large_batch = data.large_batch_size
  _require(0 < large_batch <= data.batch_size and large_batch % device_count == 0,
           "data.large_batch_size", large_batch,
           f"must be a positive multiple of the device count ({device_count}) and at "
           f"most config.data.batch_size={data.batch_size}")
  _at_least(config, ["data.large_crop_every"], 1)


def _check_batch(config: ml_collections.ConfigDict, device_count: int) -> None:
  batch_size = config.data.batch_size
  _require(batch_size > 0 and batch_size % device_count == 0, "data.batch_size", batch_size,
           f"must be a positive multiple of the device count ({device_count})")
  num_examples = config.eval.num_examples
  _require(num_examples > 0 and num_examples % batch_size == 0, "eval.num_examples",
           num_examples, f"must be a positive multiple of config.data.batch_size={batch_size}")


def _check_source(config: ml_collections.ConfigDict, splits: tuple[str, ...]) -> None:
  data = config.data
  for split in splits:
    if data.source == "folder":
      field = f"{split}_dir"
      _require(bool(data[field]) and epath.Path(data[field]).is_dir(), f"data.{field}",
               data[field], "is not a directory (data.source='folder' reads images from it)")
    elif data.source == "packed":
      field = f"{split}_dir"
      _require(bool(data[field]) and (epath.Path(data[field]) / pack.INDEX_NAME).exists(),
               f"data.{field}", data[field], f"holds no {pack.INDEX_NAME} (data.source='packed'"
               " reads what python -m genfill_jax.data.pack writes)")
  if data.source == "builtin":
    _check_builtin_splits(data)


def _photo_parts(names) -> list[sources.PhotoPart]:
  return [sources.parse_builtin_name(name) for name in names]


def _shared_photos(parts: list[sources.PhotoPart], others: list[sources.PhotoPart]) -> list[str]:
  """The photos of which both lists use a pixel, sorted."""
  return sorted({part.photo for part in parts for other in others if part.overlaps(other)})


def check_run_never_saw_evaluation_photos(trained: ml_collections.ConfigDict,
                                          config: ml_collections.ConfigDict) -> None:
  """ConfigError if the run whose config is `trained` trained on a pixel of the
  built-in photos that `config` evaluates (config.eval.split), e.g. an earlier run
  that trained on whole photos whose right quarter validates today."""
  if trained.data.source != "builtin" or config.data.source != "builtin":
    return
  field = f"builtin_{config.eval.split}_photos"
  shared = _shared_photos(_photo_parts(trained.data.builtin_train_photos),
                          _photo_parts(config.data[field]))
  _require(not shared, f"data.{field}", tuple(config.data[field]),
           f"shares pixels of {shared} with the photos this run trained on "
           f"{tuple(trained.data.builtin_train_photos)}; evaluate it on photos it never saw, "
           f"e.g. its own split: --config.data.{field}=\"{tuple(trained.data[field])}\"")


def _check_builtin_splits(data: ml_collections.ConfigDict) -> None:
  """Every split names built-in photos, and no pixel of a validation or test photo
  is trained on (or tested while tuning)."""
  splits = ("train", "validation", "test")
  parts = {}
  for split in splits:
    field = f"builtin_{split}_photos"
    names = tuple(data[field])
    _require(bool(names), f"data.{field}", names, "must name at least one built-in photo")
    try:
      parts[split] = _photo_parts(names)
    except ValueError as error:
      _require(False, f"data.{field}", names, f"cannot be used: {error}")
  for index, split in enumerate(splits):
    for other in splits[index + 1:]:
      shared = _shared_photos(parts[split], parts[other])
      _require(not shared, f"data.builtin_{other}_photos", tuple(data[f"builtin_{other}_photos"]),
               f"shares pixels of {shared} with config.data.builtin_{split}_photos")


def _check_data(config: ml_collections.ConfigDict) -> None:
  data = config.data
  _at_least(config, ["data.examples_per_photo", "data.prefetch_batches"], 1)
  _at_least(config, ["data.num_workers", "data.color_jitter", "data.hue_rotation"], 0)
  _require(data.saturation_scale >= 1, "data.saturation_scale", data.saturation_scale,
           "must be >= 1 (a factor and its inverse bound the scale)")
  _require(data.hue_rotation <= 0.5, "data.hue_rotation", data.hue_rotation,
           "must be at most 0.5 (turns: 0.5 already reaches every hue)")
  _fraction(config, ["data.gray_tint_probability"])
  for field in ("crop_scale", "train_crop_scale"):
    scale = tuple(data[field])
    if field == "train_crop_scale" and not scale:
      continue  # empty: training crops use data.crop_scale
    _require(len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1, f"data.{field}", scale,
             "must be (low, high) with 0 < low <= high <= 1")


def _check_holes(config: ml_collections.ConfigDict) -> None:
  weights = config.holes.weights
  for family in weights:
    _require(family in holes.FAMILIES, f"holes.weights[{family!r}]", family,
             f"must be one of {holes.FAMILIES}")
  _require(sum(weights.values()) > 0 and min(weights.values()) >= 0, "holes.weights",
           dict(weights), "must be >= 0 with a positive sum")
  _at_least(config, ["holes.blocks.cell_size", "holes.box.max_boxes", "holes.box.min_size"], 1)
  _require(config.holes.box.min_size <= config.holes.box.max_size, "holes.box.max_size",
           config.holes.box.max_size, "must be >= config.holes.box.min_size")
  _at_least(config, ["holes.box.margin", "holes.noise_intensity",
                     "holes.additional_noise_intensity"], 0)
  _fraction(config, ["holes.blocks.probability", "holes.gray_noise_fraction"])
  max_fraction = config.holes.max_fraction
  _require(0 < max_fraction <= 1, "holes.max_fraction", max_fraction, "must be in (0, 1]")


def _check_schedule(config: ml_collections.ConfigDict) -> None:
  _at_least(config, [f"train.{field}" for field in (
      "num_train_steps", "log_every_steps", "eval_every_steps", "checkpoint_every_steps",
      "keep_checkpoints")], 1)
  _at_least(config, ["train.hole_predictor_end_step", "train.filler_start_step",
                     "train.adversarial_start_step"], 0)
  _fraction(config, ["train.ema_decay"])
  kinds = tuple(config.train.discriminator_augmentation)
  for kind in kinds:
    _require(kind in discriminator_augment.KINDS, "train.discriminator_augmentation",
             kinds, f"must hold only {discriminator_augment.KINDS}")


def _check_optimizers(config: ml_collections.ConfigDict) -> None:
  for player in NETWORKS:
    prefix = f"optim.{player}"
    optim = config.optim[player]
    _require(optim.learning_rate > 0, f"{prefix}.learning_rate", optim.learning_rate,
             "must be positive")
    _fraction(config, [f"{prefix}.b1", f"{prefix}.b2"], open_top=True)
    _fraction(config, [f"{prefix}.final_fraction"])
    _at_least(config, [f"{prefix}.warmup_steps", f"{prefix}.clip_norm"], 0)
    if optim.schedule == "stepwise":
      _at_least(config, [f"{prefix}.decay_steps"], 1)
      _require(optim.decay_rate > 0, f"{prefix}.decay_rate", optim.decay_rate,
               "must be positive")


def _check_losses(config: ml_collections.ConfigDict) -> None:
  _at_least(config, [f"loss.{name}" for name in config.loss], 0)
  _require(0 < config.loss.perceptual_fraction <= 1, "loss.perceptual_fraction",
           config.loss.perceptual_fraction, "must be in (0, 1]")
  window = config.loss.style_window
  if window:
    # The VGG16 stages of the style loss are at 1, 1/2 and 1/4 of the image's size.
    _require(window % 4 == 0, "loss.style_window", window, "must be a multiple of 4")
    for field in ("data.image_size", "data.large_image_size"):  # 0: no large steps
      size = _value(config, field)
      _require(size % window == 0, "loss.style_window", window,
               f"must divide {field}={size}")


def _check_evaluation(config: ml_collections.ConfigDict) -> None:
  for family in config.eval.families:
    _require(family in holes.FAMILIES, "eval.families", family,
             f"must be one of {holes.FAMILIES}")
  _require(bool(config.eval.families), "eval.families", tuple(config.eval.families),
           "must name at least one family")
  _at_least(config, ["eval.preview_examples"], 0)
  for net in config.eval.lpips_nets:
    _require(net in perceptual.LPIPS_NETS, "eval.lpips_nets", net,
             f"must be one of {perceptual.LPIPS_NETS}")


def _check_distributed(config: ml_collections.ConfigDict) -> None:
  settings = config.distributed
  _at_least(config, ["distributed.num_processes"], 1)
  _require(0 <= settings.process_id < settings.num_processes, "distributed.process_id",
           settings.process_id, f"must be in [0, {settings.num_processes})")


def check_for_inference(config: ml_collections.ConfigDict) -> None:
  """What a trained run's networks and recipe read (inpainting, the web page)."""
  _check_choices(config)
  _check_networks(config)
  _check_losses(config)
  _check_inference(config)


def _check_inference(config) -> None:
  settings = config.inference
  _require(isinstance(settings.size_limit, int) and settings.size_limit >= 16,
           "inference.size_limit", settings.size_limit, "must be an integer of at least 16 px")
  _require(settings.crop_margin >= 0, "inference.crop_margin", settings.crop_margin,
           "must be at least 0 (a fraction of the hole group's longest side)")
  _require(isinstance(settings.crop_min_margin, int) and settings.crop_min_margin >= 0,
           "inference.crop_min_margin", settings.crop_min_margin,
           "must be an integer of at least 0 px")


def check_for_evaluation(config: ml_collections.ConfigDict, device_count: int) -> None:
  """Everything `--mode=eval` reads: the networks, the test data and the eval stream."""
  check_for_inference(config)
  _check_image_size(config)
  _check_batch(config, device_count)
  _check_source(config, (config.eval.split,))
  _check_data(config)
  _check_holes(config)
  _check_evaluation(config)


def check_for_training(config: ml_collections.ConfigDict, device_count: int) -> None:
  """Every field a training run reads (it evaluates too)."""
  check_for_evaluation(config, device_count)
  _check_large_crops(config, device_count)
  _check_source(config, ("train",))
  _check_schedule(config)
  _check_optimizers(config)
  _check_distributed(config)

