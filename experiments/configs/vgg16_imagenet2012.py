"""VGG-16 (configuration D) on ImageNet-2012 (Simonyan & Zisserman 2015, section 3.1).

SGD momentum 0.9, weight decay 5e-4, batch 256, lr 0.01 divided by 10 twice, 74 epochs;
dropout 0.5 on the first two FC layers; random 224 crops + flips (here the Inception crop,
decoded on the host; input size, mean and std from the model registry).

Run:
  python -m jcnn data import imagenet2012 --from ILSVRC2012/    # train/<synset>/, val/ (see --help)
  python -m jcnn train vgg16_imagenet2012 --workdir runs/vgg16_imagenet2012
Smoke (64x64 with fc6 sized for it, built-in photos10 set, generated on first use):
  python -m jcnn train vgg16_imagenet2012:smoke --workdir /tmp/vgg16
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.imagenet("vgg16", batch_size=256, steps=370_000)  # 74 epochs of 1.28M at batch 256
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.01
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 5e-4
    cfg.schedule.name = "step"
    cfg.schedule.boundaries = (185_000, 280_000)
    if arg == "smoke":
        # The 13 conv layers take any multiple of 32; `input_size` sizes fc6 for it (2x2x512 at 64),
        # the paper's own way of running the net on other sizes (section 3.2 converts fc to conv).
        common.imagenet_smoke(cfg, image_size=64, batch_size=2, steps=4)
        cfg.model.kwargs = {"input_size": 64}
    elif arg:
        raise ValueError(f"vgg16_imagenet2012: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
