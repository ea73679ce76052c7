"""ResNet-50 on ImageNet-2012 (He et al. 2015, section 3.4; Goyal et al. 2017, sections 2 and 5.1).

SGD momentum 0.9 (Nesterov off), weight decay 1e-4, batch 256, lr 0.1 (0.1 x batch/256),
5-epoch linear warm-up, /10 at epochs 30, 60, 80; 90 epochs; label smoothing off; bf16 compute.
Inception crop + flip decoded on the host at 224; input size, mean and std from the model registry.
Each residual block's last BatchNorm starts at scale 0 (Goyal et al. 2017, section 5.1), so
every block starts as its shortcut and the first steps' gradient does not pass through 16
stacked normalised branches.

Run:
  python -m jcnn data import imagenet2012 --from ILSVRC2012/    # train/<synset>/, val/ (see --help)
  python -m jcnn train resnet50_imagenet2012 --workdir runs/resnet50_imagenet2012
Smoke (64x64: global pooling, built-in photos10 set, generated on first use):
  python -m jcnn train resnet50_imagenet2012:smoke --workdir /tmp/r50
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.imagenet("resnet50", batch_size=256, steps=450_000)  # 90 epochs of 1.28M at batch 256
    cfg.model.kwargs = {"zero_init_residual": True}
    cfg.train.precision = "bfloat16"
    cfg.optimizer.name = "sgd"
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "step"
    cfg.schedule.warmup_steps = 25_000
    cfg.schedule.boundaries = (150_000, 300_000, 400_000)
    if arg == "smoke":
        # Global average pooling makes the network size-agnostic; 64 keeps CI fast. At 64 px layer4 is
        # 2x2, so its BatchNorms normalise over 4 values per example: with batch 2 (8 values) the
        # normalised outputs' gradient reaches 1/sqrt(eps) where values nearly agree and the first
        # step explodes; batch 8 gives 32 values per channel.
        common.imagenet_smoke(cfg, image_size=64, batch_size=8, steps=4)
    elif arg:
        raise ValueError(f"resnet50_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    cfg.optimizer.lr = 0.1 * cfg.train.batch_size / 256  # the linear scaling rule (Goyal et al. 2017, section 2.1)
    return common.lock(cfg)
