"""VGG-16 (configuration D) with BatchNorm on CIFAR-10 at 32x32 input.

SGD momentum 0.9, weight decay 5e-4, lr 0.05 with cosine decay, batch 128,
flip + 4-pad crop (in the step), 200 epochs. BatchNorm after each convolution
(Ioffe & Szegedy 2015): Simonyan & Zisserman (2015, section 3.1) could only
train the 16-layer net by initialising it from a shallower one; from He et al.
(2015) initialisation at lr 0.05 the plain net diverges within its first steps
(the smoke run ended at "test loss 4013822"). fc6 is sized for 32x32 inputs
(1x1x512 features). CIFAR-10's channel statistics are written here: the
registry's vgg16_bn entry holds ImageNet's.

Run:
  python -m jcnn data import cifar10 --from cifar-10-python.tar.gz   # the official python archive
  python -m jcnn train vgg16_cifar10 --workdir runs/vgg16_cifar10
Smoke (synthetic data padded to 32x32): python -m jcnn train vgg16_cifar10:smoke --workdir /tmp/vgg16
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.model.name = "vgg16_bn"
    cfg.model.kwargs = {"input_size": 32}
    cfg.data.name = "cifar10"
    cfg.data.augment = "flip_lr|crop(32, pad=4)"
    cfg.data.mean, cfg.data.std = (0.4914, 0.4822, 0.4465), (0.247, 0.2435, 0.2616)  # CIFAR-10 train set
    cfg.train.steps = 78_200  # 200 epochs of 50k at batch 128
    cfg.train.batch_size = 128
    cfg.train.log_every = 200
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.05
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 5e-4
    cfg.schedule.name = "cosine"
    cfg.schedule.warmup_steps = 500
    cfg.eval.every = 2000
    cfg.checkpoint.every = 2000
    if arg == "smoke":
        common.smoke(cfg, batch_size=4, steps=2)
        cfg.model.kwargs = {"input_size": 32, "in_channels": 1}
        cfg.data.pad = 2
        cfg.data.mean, cfg.data.std = (0.5,), (0.25,)
    elif arg:
        raise ValueError(f"vgg16_cifar10: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
