"""The shared schema of every experiment config (the only shared base).

``base()`` returns an unlocked ConfigDict holding every field the trainer
reads, with neutral defaults; an experiment file fills in its values and
returns ``lock(cfg)``. Zero means "off" for periodic settings (``eval.every``,
``checkpoint.every``, ``train.grad_clip``).
"""

from __future__ import annotations

import ml_collections


def base() -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict()
    cfg.seed = 0
    cfg.task = "classify"  # "classify" or "gan"

    cfg.model = ml_collections.ConfigDict()
    cfg.model.name = "lenet5_modern"
    cfg.model.num_classes = 10
    cfg.model.kwargs = ml_collections.ConfigDict()  # architecture options for jcnn.models.create
    # Fine-tuning: a workdir (a `jcnn weights import` output or another run of the same model) whose
    # newest checkpoint replaces the fresh weights; a different num_classes keeps a fresh classifier.
    cfg.model.init_from = ""
    # GAN only: the second network and the latent size.
    cfg.model.discriminator = ""
    cfg.model.latent_dim = 100

    cfg.data = ml_collections.ConfigDict()
    cfg.data.name = "mnist"
    cfg.data.train_split = "train"
    cfg.data.eval_split = "test"
    cfg.data.data_dir = ""  # "" -> $JCNN_DATA_DIR or ~/.cache/jcnn/data
    cfg.data.augment = ""  # a jcnn.data.augment spec, applied in the step with keys from (seed, step)
    cfg.data.pad = 0  # zero-pad images by this many pixels per side in the step (28x28 -> 32x32 LeNet)
    cfg.data.mean = (0.0,)  # normalisation in the step: (x - mean) / std, per channel
    cfg.data.std = (1.0,)
    cfg.data.worker_count = 0
    # Host-side decode to a fixed size (jcnn.data.transforms), for variable-size images (ImageNet).
    cfg.data.image_size = 0  # 0 = images as stored; else train: Inception crop + flip, eval: centre crop
    cfg.data.crop_scale = (0.08, 1.0)  # train crop's area fraction (Szegedy et al. 2015, section 6)
    cfg.data.crop_ratio = (3 / 4, 4 / 3)  # train crop's aspect range
    cfg.data.flip = True  # train: random left-right flip on the host (only with image_size)
    cfg.data.eval_crop_fraction = 0.875  # eval: shorter side to image_size / 0.875 (256 for 224), centre crop

    cfg.train = ml_collections.ConfigDict()
    cfg.train.steps = 1000
    cfg.train.batch_size = 128  # global, over all devices and hosts
    # Gradient accumulation: the batch runs as this many equal micro-batches whose mean gradient
    # makes one update (the paper's batch on a device too small for it); BN sees micro-batches.
    cfg.train.accum_steps = 1
    cfg.train.log_every = 50
    cfg.train.precision = "float32"  # or "bfloat16": compute in bf16, parameters stay float32
    cfg.train.label_smoothing = 0.0
    cfg.train.grad_clip = 0.0  # global-norm clip; 0 = off
    # Adversarial training (Goodfellow et al. 2015, section 6): this fraction of
    # each batch is replaced by FGSM/PGD examples of the current model (eval mode).
    # eps is in pixel units ([0, 1] images), i.e. before normalisation.
    cfg.train.adversarial = ml_collections.ConfigDict()
    cfg.train.adversarial.fraction = 0.0  # 0 = off
    cfg.train.adversarial.method = "fgsm"  # or "pgd"
    cfg.train.adversarial.eps = 0.1
    cfg.train.adversarial.steps = 7  # PGD only

    cfg.optimizer = ml_collections.ConfigDict()
    cfg.optimizer.name = "sgd"  # sgd, adam, adamw, rmsprop
    cfg.optimizer.lr = 0.1  # peak learning rate
    cfg.optimizer.momentum = 0.9  # sgd and rmsprop; 0 = plain SGD
    cfg.optimizer.nesterov = False
    cfg.optimizer.weight_decay = 0.0  # L2 added to the gradient (decoupled for adamw)
    cfg.optimizer.b1 = 0.9
    cfg.optimizer.b2 = 0.999
    cfg.optimizer.eps = 1e-8
    cfg.optimizer.decay = 0.9  # rmsprop's moving-average decay

    cfg.schedule = ml_collections.ConfigDict()
    cfg.schedule.name = "constant"  # constant, step, cosine, exponential
    cfg.schedule.warmup_steps = 0  # linear warm-up from 0 before the schedule
    cfg.schedule.boundaries = (0,)  # step: multiply by `factor` at each of these steps
    cfg.schedule.factor = 0.1  # step: per boundary; exponential: per decay_steps steps
    cfg.schedule.decay_steps = 1  # exponential: lr * factor ** (step / decay_steps)
    cfg.schedule.staircase = False  # exponential: factor ** floor(step / decay_steps)
    cfg.schedule.alpha = 0.0  # cosine: final lr as a fraction of the peak

    cfg.eval = ml_collections.ConfigDict()
    cfg.eval.every = 0  # 0 = only at the end
    cfg.eval.batch_size = 1000
    cfg.eval.max_batches = 0  # 0 = the whole split

    cfg.checkpoint = ml_collections.ConfigDict()
    cfg.checkpoint.every = 500  # 0 = only at the end (and on SIGTERM/SIGINT)
    cfg.checkpoint.keep = 3  # the last K, plus the best by eval accuracy
    return cfg


def lock(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    cfg.lock()
    return cfg


def smoke(cfg: ml_collections.ConfigDict, *, batch_size=8, steps=6) -> ml_collections.ConfigDict:
    """Shrink ``cfg`` in place to the CI size on the built-in ``synthetic`` data set."""
    cfg.data.name = "synthetic"
    cfg.data.augment = ""
    cfg.data.worker_count = 0
    cfg.train.steps = steps
    cfg.train.batch_size = batch_size
    cfg.train.log_every = 2
    cfg.eval.every = steps // 2
    cfg.eval.batch_size = batch_size
    cfg.eval.max_batches = 2
    cfg.checkpoint.every = steps // 2
    cfg.checkpoint.keep = 2
    cfg.schedule.warmup_steps = min(cfg.schedule.warmup_steps, 1)
    cfg.schedule.boundaries = tuple(b for b in cfg.schedule.boundaries if b < steps) or (0,)
    return cfg


def imagenet(model: str, *, batch_size: int, steps: int) -> ml_collections.ConfigDict:
    """The shared base of the ImageNet-2012 configs (unlocked): data side from the model's registry entry.

    Input size, mean and std come from ``jcnn.models.info(model)``; images are decoded on the
    host in grain worker processes (Inception crop + flip to train, centre crop at 0.875 to
    evaluate) and leave them as uint8; the step normalises them.
    """
    from jcnn import models

    info = models.info(model)
    cfg = base()
    cfg.model.name = model
    cfg.model.num_classes = 1000
    cfg.data.name = "imagenet2012"
    cfg.data.eval_split = "validation"
    cfg.data.image_size = int(info.input_shape[0])
    cfg.data.mean, cfg.data.std = tuple(info.mean), tuple(info.std)
    cfg.data.worker_count = 8  # decode needs ~1 core per 300-600 img/s (experiments/benchmarks/results/input_*)
    cfg.train.steps = steps
    cfg.train.batch_size = batch_size
    cfg.train.log_every = 100
    cfg.eval.every = 10_000
    cfg.eval.batch_size = 250
    cfg.checkpoint.every = 5000
    cfg.checkpoint.keep = 3
    return cfg


SMOKE_PHOTOS = "photos10"  # built in: generated from scikit-image's photographs into the data dir on first use


def imagenet_smoke(cfg: ml_collections.ConfigDict, *, image_size: int, batch_size=4, steps=4):
    """Shrink an ImageNet config in place to the CI size on the generated ``photos10`` folder.

    The same pipeline (records, host decode, crops) at a small size, 10 classes, with the
    two-stage eval of the real run (``validation`` split every ``steps // 2`` and at the end).
    """
    full_batch = cfg.train.batch_size
    smoke(cfg, batch_size=batch_size, steps=steps)
    # Linear scaling (Goyal et al. 2017, section 2.1): the recipe's lr is for its batch; at batch 2 the
    # full lr makes BatchNorm nets diverge in a few steps (test loss ~1e19 at ResNet-50's 0.1).
    cfg.optimizer.lr = cfg.optimizer.lr * batch_size / full_batch
    cfg.data.name = SMOKE_PHOTOS
    cfg.data.eval_split = "validation"
    cfg.data.image_size = image_size
    cfg.data.worker_count = 0
    cfg.model.num_classes = 10
    return cfg
