"""An ImageNet-1k classifier with imported weights (torchvision or timm): the config `jcnn weights import` stores.

``imagenet_pretrained:NAME`` (``NAME,smoke`` for the CI size) is NAME (a model of ``jcnn.models.weights.SUPPORTED``) at 1000
classes with its registry preprocessing (mean/std, 256 -> 224 evaluation crop); the checkpoint
written by

  python -m jcnn weights import resnet50 --from resnet50-11ad3fa6.pth --out runs/resnet50_tv

records it, so ``jcnn.train.load_model("runs/resnet50_tv")`` rebuilds the network. Training
with it fine-tunes on ImageNet from ``model.init_from`` (SGD 1e-3, a short cosine schedule);
for another data set see ``resnet18_finetune_folder``.
"""

from experiments.configs import common
from jcnn import models
from jcnn.models import weights


def get_config(arg=None):
    """``arg``: a supported model name (default resnet50), ``smoke`` or ``NAME,smoke`` for the CI size."""
    parts = [p for p in (arg or "").split(",") if p]
    smoke = "smoke" in parts
    names = [p for p in parts if p != "smoke"]
    if len(names) > 1:
        raise ValueError(f"imagenet_pretrained: setting {arg!r}: give one model name, optionally with ',smoke'")
    name = names[0] if names else ("resnet18" if smoke else "resnet50")
    weights.check_supported(name, "imagenet_pretrained")
    cfg = common.imagenet(name, batch_size=256, steps=5000)
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 1e-3  # fine-tuning: a small step from trained weights
    cfg.optimizer.momentum = 0.9
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "cosine"
    cfg.eval.every = 1000
    cfg.checkpoint.every = 1000
    if smoke:
        common.imagenet_smoke(cfg, image_size=64)
    return common.lock(cfg)
