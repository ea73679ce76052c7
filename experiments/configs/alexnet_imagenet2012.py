"""AlexNet (one tower) on ImageNet-2012 (Krizhevsky et al. 2012, section 5).

SGD momentum 0.9, weight decay 5e-4, batch 128, lr 0.01 divided by 10 at epochs 30 and 60
(the paper divided when validation error stopped improving), 90 epochs; random 227 crops + flips
(here the Inception crop, decoded on the host; input size, mean and std from the model registry).

Run:
  python -m jcnn data import imagenet2012 --from ILSVRC2012/    # train/<synset>/, val/ (see --help)
  python -m jcnn train alexnet_imagenet2012 --workdir runs/alexnet_imagenet2012
Smoke (227x227, the size the fully connected head needs; built-in photos10 set, generated on first use):
  python -m jcnn train alexnet_imagenet2012:smoke --workdir /tmp/alexnet
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.imagenet("alexnet", batch_size=128, steps=900_000)  # 90 epochs of 1.28M at batch 128
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.01
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 5e-4
    cfg.schedule.name = "step"
    cfg.schedule.boundaries = (300_000, 600_000)
    if arg == "smoke":
        # fc6 takes pool5's 6x6x256 features, so the input stays 227 (224 would also give 6x6).
        common.imagenet_smoke(cfg, image_size=227, batch_size=2, steps=4)
    elif arg:
        raise ValueError(f"alexnet_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
