"""MobileNet v2 on ImageNet-2012 (Sandler et al. 2018, section 6.1).

RMSProp decay 0.9, momentum 0.9, eps 0.002 (TF's eps=1 scaled), weight decay 4e-5, batch 256,
lr 0.045 decayed 0.98 per epoch (here cosine), label smoothing 0.1. Inception crop + flip decoded
on the host at 224; input size, mean and std from the model registry.

Run:
  python -m jcnn data import imagenet2012 --from ILSVRC2012/    # train/<synset>/, val/ (see --help)
  python -m jcnn train mobilenet_v2_imagenet2012 --workdir runs/mobilenet_v2_imagenet2012
Smoke (64x64: global pooling, built-in photos10 set, generated on first use):
  python -m jcnn train mobilenet_v2_imagenet2012:smoke --workdir /tmp/mnv2
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.imagenet("mobilenet_v2", batch_size=256, steps=750_000)  # ~150 epochs at batch 256
    cfg.train.label_smoothing = 0.1
    cfg.optimizer.name = "rmsprop"
    cfg.optimizer.lr = 0.045
    cfg.optimizer.decay = 0.9
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.eps = 0.002
    cfg.optimizer.weight_decay = 4e-5
    cfg.schedule.name = "cosine"
    cfg.schedule.warmup_steps = 5000
    if arg == "smoke":
        # Global average pooling makes the network size-agnostic; 64 keeps CI fast.
        common.imagenet_smoke(cfg, image_size=64, batch_size=2, steps=4)
    elif arg:
        raise ValueError(f"mobilenet_v2_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
