"""ResNet-50 on ImageNet-2012 (He et al. 2015, section 3.4; Goyal et al. 2017, sections 2 and 5.1).

SGD momentum 0.9 (Nesterov off), weight decay 1e-4, batch 256, lr 0.1 (0.1 x batch/256),
5-epoch linear warm-up, /10 at epochs 30, 60, 80; 90 epochs; label smoothing off; bf16 compute.
Each residual block's last BatchNorm starts at scale 0 (Goyal et al. 2017, section 5.1), so
every block starts as its shortcut and the first steps' gradient does not pass through 16
stacked normalised branches.

Run:
  python -m jcnn train resnet50_imagenet2012 --workdir runs/resnet50_imagenet2012
Smoke: python -m jcnn train resnet50_imagenet2012:smoke --workdir /tmp/r50 (synthetic, 32x32x1)
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.model.name = "resnet50"
    cfg.model.num_classes = 1000
    cfg.model.kwargs = {"zero_init_residual": True}
    cfg.data.name = "imagenet2012"
    cfg.data.eval_split = "validation"
    cfg.data.augment = "crop(224)|flip_lr"
    cfg.data.mean, cfg.data.std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    cfg.data.worker_count = 8
    cfg.train.steps = 450_000  # 90 epochs of 1.28M at batch 256
    cfg.train.batch_size = 256
    cfg.train.precision = "bfloat16"
    cfg.optimizer.name = "sgd"
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "step"
    cfg.schedule.warmup_steps = 25_000
    cfg.schedule.boundaries = (150_000, 300_000, 400_000)
    cfg.train.log_every = 100
    cfg.eval.every = 10_000
    cfg.eval.batch_size = 250
    cfg.checkpoint.every = 5000
    cfg.checkpoint.keep = 3
    if arg == "smoke":
        # Global pooling lets the network run on the synthetic 28x28x1 set padded to 32x32. There
        # layer4 is 1x1, so its BatchNorms normalise over the batch alone: it must hold more than
        # 2 examples (with 2, each output is +-d / sqrt(d^2 + eps) and the gradient explodes).
        common.smoke(cfg, batch_size=8, steps=2)
        cfg.model.num_classes = 10
        cfg.model.kwargs = {"in_channels": 1, "zero_init_residual": True}
        cfg.data.pad = 2
        cfg.data.eval_split = "test"
        cfg.data.mean, cfg.data.std = (0.5,), (0.25,)
        cfg.eval.batch_size = 8
    elif arg:
        raise ValueError(f"resnet50_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    cfg.optimizer.lr = 0.1 * cfg.train.batch_size / 256  # the linear scaling rule (Goyal et al. 2017, section 2.1)
    return common.lock(cfg)
