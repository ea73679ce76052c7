"""ResNet-20 on CIFAR-10 with He et al. (2015, section 4.2)'s recipe.

SGD with momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10 at
32k and 48k iterations, 64k iterations in all; augmentation: 4-pixel padding,
random 32x32 crop, horizontal flip (in the step); per-channel mean/std from the
model registry (CIFAR-10's statistics).

Run:
  python -m jcnn data import cifar10 --from cifar-10-python.tar.gz   # the official python archive
  python -m jcnn train resnet20_cifar10 --workdir runs/resnet20
Smoke (synthetic 28x28x1 data, in_channels=1): python -m jcnn train resnet20_cifar10:smoke --workdir /tmp/r20
"""

from experiments.configs import common
from jcnn import models


def get_config(arg=None):
    cfg = common.base()
    cfg.model.name = "resnet20"
    cfg.data.name = "cifar10"
    cfg.data.augment = "flip_lr|crop(32, pad=4)"  # jcnn.data.augment spec: 4-pad random crop + flip
    cfg.data.mean, cfg.data.std = models.info("resnet20").mean, models.info("resnet20").std
    cfg.train.steps = 64_000
    cfg.train.batch_size = 128
    cfg.train.log_every = 200
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.1
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "step"
    cfg.schedule.boundaries = (32_000, 48_000)
    cfg.schedule.factor = 0.1
    cfg.eval.every = 2000
    cfg.checkpoint.every = 2000
    cfg.checkpoint.keep = 3
    if arg == "smoke":
        common.smoke(cfg)
        cfg.model.kwargs = {"in_channels": 1}
        cfg.data.augment = "flip_lr|crop(28, pad=4)"  # exercise augmentation in the step
        cfg.data.mean, cfg.data.std = (0.5,), (0.25,)
    elif arg:
        raise ValueError(f"resnet20_cifar10: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
