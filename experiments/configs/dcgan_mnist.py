"""DCGAN on MNIST (Radford et al. 2016, MNIST-sized networks).

Adam lr 2e-4, beta1 0.5 for both networks, batch 128; each step one
discriminator update (real vs generated) then one generator update
(non-saturating loss), sigmoid cross-entropy on the discriminator's logits.
z ~ N(0, 1)^100. Images scaled to [-1, 1] (mean 0.5, std 0.5).
``accuracy`` in metrics is the discriminator's real/fake accuracy.

Run:
  python -m jcnn train dcgan_mnist --workdir runs/dcgan
Smoke: python -m jcnn train dcgan_mnist:smoke --workdir /tmp/dcgan_smoke
"""

from experiments.configs import common


def get_config(arg=None):
    cfg = common.base()
    cfg.task = "gan"
    cfg.model.name = "dcgan_generator"
    cfg.model.discriminator = "dcgan_discriminator"
    cfg.model.latent_dim = 100
    cfg.data.name = "mnist"
    cfg.data.mean, cfg.data.std = (0.5,), (0.5,)
    cfg.train.steps = 9380  # 20 epochs
    cfg.train.batch_size = 128
    cfg.train.log_every = 100
    cfg.optimizer.name = "adam"
    cfg.optimizer.lr = 2e-4
    cfg.optimizer.b1 = 0.5
    cfg.eval.every = 0  # no classification eval for a GAN
    cfg.checkpoint.every = 1000
    cfg.checkpoint.keep = 2
    if arg == "smoke":
        common.smoke(cfg)
        cfg.eval.every = 0
    elif arg:
        raise ValueError(f"dcgan_mnist: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
