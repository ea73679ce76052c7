"""Fine-tune torchvision's ImageNet ResNet-18 on a 10-class image folder (e.g. Imagenette, 224x224).

The network starts from the imported weights (``model.init_from``) with a fresh 10-way
classifier (Yosinski et al. 2014; Kornblith, Shlens & Le 2019: fine-tuning every layer beats
training from scratch on small sets). SGD momentum 0.9, lr 0.01 (a tenth of ResNet's from-scratch
rate, so the pretrained features move little), weight decay 1e-4, cosine decay over 2000 steps
of batch 64, 100 warm-up steps; flips and 16-pixel-padded random crops; inputs normalised with
resnet18's registry mean/std (ImageNet's, as its weights expect).

Run:
  python -m jcnn weights import resnet18 --from resnet18-f37072fd.pth --out runs/resnet18_tv
  python -m jcnn data import imagenette --from DIR --format folder   # DIR/{train,validation}/<class>/*.png, 224x224
  python -m jcnn train resnet18_finetune_folder --workdir runs/resnet18_imagenette
  (other data: --set data.name=NAME --set model.num_classes=K; other weights: --set model.init_from=DIR)
Smoke (synthetic 28x28x1 data, in_channels=1, no pretrained start): resnet18_finetune_folder:smoke
"""

from experiments.configs import common
from jcnn import models


def get_config(arg=None):
    meta = models.info("resnet18")
    cfg = common.base()
    cfg.model.name = "resnet18"
    cfg.model.num_classes = 10
    cfg.model.init_from = "runs/resnet18_tv"  # the `jcnn weights import` output above
    cfg.data.name = "imagenette"
    cfg.data.eval_split = "validation"
    cfg.data.augment = f"flip_lr|crop({meta.input_shape[0]}, pad=16)"
    cfg.data.mean, cfg.data.std = meta.mean, meta.std
    cfg.train.steps = 2000
    cfg.train.batch_size = 64
    cfg.train.log_every = 50
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 0.01
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "cosine"
    cfg.schedule.warmup_steps = 100
    cfg.eval.every = 500
    cfg.eval.batch_size = 100
    cfg.checkpoint.every = 500
    if arg == "smoke":
        common.smoke(cfg)
        cfg.model.init_from = ""
        cfg.model.kwargs = {"in_channels": 1}
        cfg.data.eval_split = "test"
        cfg.data.augment = "flip_lr|crop(28, pad=2)"
        cfg.data.mean, cfg.data.std = (0.5,), (0.25,)
    elif arg:
        raise ValueError(f"resnet18_finetune_folder: unknown setting {arg!r}; use 'smoke' or nothing")
    return common.lock(cfg)
