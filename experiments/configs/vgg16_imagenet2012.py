"""VGG-16 (configuration D) on ImageNet-2012 (Simonyan & Zisserman 2015, section 3.1).

SGD momentum 0.9, weight decay 5e-4, batch 256, lr 0.01 divided by 10 twice, 74 epochs;
dropout 0.5 on the first two FC layers; random 224 crops + flips.

Run:
  python -m jcnn train vgg16_imagenet2012 --workdir runs/vgg16_imagenet2012
Smoke: config only (224x224 input; tests skip running it)
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.model.name = "vgg16"
    cfg.model.num_classes = 1000
    cfg.data.name = "imagenet2012"
    cfg.data.eval_split = "validation"
    cfg.data.augment = "crop(224)|flip_lr"
    cfg.data.mean, cfg.data.std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    cfg.data.worker_count = 8
    cfg.train.steps = 370_000  # 74 epochs of 1.28M at batch 256
    cfg.train.batch_size = 256
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.01
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 5e-4
    cfg.schedule.name = "step"
    cfg.schedule.boundaries = (185_000, 280_000)
    cfg.train.log_every = 100
    cfg.eval.every = 10_000
    cfg.eval.batch_size = 250
    cfg.checkpoint.every = 5000
    cfg.checkpoint.keep = 3
    if arg == "smoke":
        # The fully connected head needs 224x224x3 inputs: the smoke setting keeps the
        # real schema but the test skips running it (too large for CI).
        common.smoke(cfg, batch_size=2, steps=2)
        cfg.model.num_classes = 10
        cfg.data.eval_split = "test"
        cfg.eval.batch_size = 2
    elif arg:
        raise ValueError(f"vgg16_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
