"""ResNet-50 on ImageNet-2012 (He et al. 2015, section 3.4; Goyal et al. 2017 warm-up).

SGD momentum 0.9 (Nesterov off), weight decay 1e-4, batch 256, lr 0.1 (0.1 x batch/256),
5-epoch linear warm-up, /10 at epochs 30, 60, 80; 90 epochs; label smoothing off; bf16 compute.
Inception crop + flip decoded on the host at 224; input size, mean and std from the model registry.

Run:
  python -m jcnn data import imagenet2012 --from ILSVRC2012/    # train/<synset>/, val/ (see --help)
  python -m jcnn train resnet50_imagenet2012 --workdir runs/resnet50_imagenet2012
Smoke (64x64: global pooling, built-in photos10 set, generated on first use):
  python -m jcnn train resnet50_imagenet2012:smoke --workdir /tmp/r50
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.imagenet("resnet50", batch_size=256, steps=450_000)  # 90 epochs of 1.28M at batch 256
    cfg.train.precision = "bfloat16"
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.1 * cfg.train.batch_size / 256
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "step"
    cfg.schedule.warmup_steps = 25_000
    cfg.schedule.boundaries = (150_000, 300_000, 400_000)
    if arg == "smoke":
        # Global average pooling makes the network size-agnostic; 64 keeps CI fast.
        common.imagenet_smoke(cfg, image_size=64, batch_size=2, steps=4)
    elif arg:
        raise ValueError(f"resnet50_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
