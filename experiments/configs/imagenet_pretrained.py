"""An ImageNet-1k classifier with imported weights (torchvision or timm): the config `jcnn weights import` stores.

``imagenet_pretrained:NAME`` is NAME (a model of ``jcnn.models.weights.SUPPORTED``) at 1000
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
    name = arg or "resnet50"
    weights.check_supported(name, "imagenet_pretrained")
    meta = models.info(name)
    cfg = common.base()
    cfg.model.name = name
    cfg.model.num_classes = meta.num_classes
    cfg.data.name = "imagenet2012"
    cfg.data.eval_split = "validation"
    cfg.data.augment = f"crop({meta.input_shape[0]})|flip_lr"
    cfg.data.mean, cfg.data.std = meta.mean, meta.std
    cfg.train.steps = 5000
    cfg.train.batch_size = 256
    cfg.optimizer.name = "sgd"
    cfg.optimizer.lr = 1e-3  # fine-tuning: a small step from trained weights
    cfg.optimizer.weight_decay = 1e-4
    cfg.schedule.name = "cosine"
    cfg.eval.batch_size = 250
    return common.lock(cfg)
