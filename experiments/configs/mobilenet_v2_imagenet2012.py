"""MobileNet v2 on ImageNet-2012 (Sandler et al. 2018, section 6.1).

RMSProp decay 0.9, momentum 0.9, eps 0.002 (TF's eps=1 scaled), weight decay 4e-5, batch 256,
lr 0.045 decayed 0.98 per epoch (here cosine), label smoothing 0.1.

Run:
  python -m jcnn train mobilenet_v2_imagenet2012 --workdir runs/mobilenet_v2_imagenet2012
Smoke: python -m jcnn train mobilenet_v2_imagenet2012:smoke --workdir /tmp/mnv2 (synthetic, 32x32x1, width 0.25)
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.model.name = "mobilenet_v2"
    cfg.model.num_classes = 1000
    cfg.data.name = "imagenet2012"
    cfg.data.eval_split = "validation"
    cfg.data.augment = "crop(224)|flip_lr"
    cfg.data.mean, cfg.data.std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    cfg.data.worker_count = 8
    cfg.train.steps = 750_000  # ~150 epochs at batch 256
    cfg.train.batch_size = 256
    cfg.train.label_smoothing = 0.1
    cfg.optimizer.name = "rmsprop"
    cfg.optimizer.lr = 0.045
    cfg.optimizer.decay = 0.9
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.eps = 0.002
    cfg.optimizer.weight_decay = 4e-5
    cfg.schedule.name = "cosine"
    cfg.schedule.warmup_steps = 5000
    cfg.train.log_every = 100
    cfg.eval.every = 10_000
    cfg.eval.batch_size = 250
    cfg.checkpoint.every = 5000
    cfg.checkpoint.keep = 3
    if arg == "smoke":
        # Global pooling lets the network run on the synthetic 28x28x1 set padded to 32x32.
        common.smoke(cfg, batch_size=2, steps=2)
        cfg.model.num_classes = 10
        cfg.model.kwargs = {"in_channels": 1, "width": 0.25}
        cfg.data.pad = 2
        cfg.data.eval_split = "test"
        cfg.data.mean, cfg.data.std = (0.5,), (0.25,)
        cfg.eval.batch_size = 2
    elif arg:
        raise ValueError(f"mobilenet_v2_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
