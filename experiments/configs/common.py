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
    # Adversarial training (Goodfellow et al. 2015; seed 000's defence): this fraction of
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
