"""LeNet-5 (modern: ReLU + max pooling, 28x28 input) on MNIST -- jcnn's main job.

Run:
  python -m jcnn train lenet5_mnist --workdir runs/lenet5
Smoke (CI size, synthetic data):
  python -m jcnn train lenet5_mnist:smoke --workdir /tmp/lenet5_smoke

Full setting: Adam 1e-3 with cosine decay, batch 128, 4 epochs (1876 steps).
Result here (2-core CPU): RESULT_PENDING.
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.seed = 0
    cfg.model.name = "lenet5_modern"
    cfg.data.name = "mnist"
    cfg.data.mean, cfg.data.std = (0.1307,), (0.3081,)
    cfg.train.steps = 1876  # ~4 epochs of 60000 at batch 128
    cfg.train.batch_size = 128
    cfg.train.log_every = 100
    cfg.optimizer.name = "adam"
    cfg.optimizer.lr = 1e-3
    cfg.schedule.name = "cosine"
    cfg.schedule.warmup_steps = 100
    cfg.eval.every = 469  # about once an epoch
    cfg.eval.batch_size = 1000
    cfg.checkpoint.every = 469
    cfg.checkpoint.keep = 2
    if arg == "smoke":
        common.smoke(cfg)
    elif arg:
        raise ValueError(f"lenet5_mnist: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
