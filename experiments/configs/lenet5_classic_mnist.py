"""LeNet-5 as published (sigmoid, average pooling, 32x32 input) on MNIST padded by 2 pixels.

Run:
  python -m jcnn train lenet5_classic_mnist --workdir runs/lenet5_classic
Smoke: python -m jcnn train lenet5_classic_mnist:smoke --workdir /tmp/lenet5_classic_smoke
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.model.name = "lenet5"
    cfg.data.name = "mnist"
    cfg.data.pad = 2  # 28x28 MNIST -> the paper's 32x32 input field
    cfg.data.mean, cfg.data.std = (0.1307,), (0.3081,)
    cfg.train.steps = 9380  # 20 epochs at batch 128: sigmoid nets learn slowly
    cfg.train.batch_size = 128
    cfg.train.log_every = 100
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.1
    cfg.optimizer.momentum = 0.9
    cfg.schedule.name = "cosine"
    cfg.eval.every = 938
    cfg.checkpoint.every = 938
    cfg.checkpoint.keep = 2
    if arg == "smoke":
        common.smoke(cfg)
    elif arg:
        raise ValueError(f"lenet5_classic_mnist: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
