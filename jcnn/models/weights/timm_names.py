"""timm's state dict names -> torchvision's, for the architectures both libraries share.

timm (Wightman, ``huggingface/pytorch-image-models``) publishes ``.safetensors`` files
on the Hugging Face hub (``timm/resnet50.tv_in1k``, ``timm/vgg16.tv_in1k``,
``timm/mobilenetv2_100.ra_in1k``). Its names:

- ResNets: torchvision's own (``conv1``, ``layer1.0.downsample.0``, ``fc``): nothing to do;
- VGG: ``features.*`` as torchvision, but the classifier is written as convolutions,
  ``pre_logits.fc1`` (4096, 512, 7, 7), ``pre_logits.fc2`` (4096, 4096, 1, 1), then
  ``head.fc``; reshaped here to torchvision's ``classifier.0/3/6`` (the (C, H, W)
  flattening order of the 7x7 kernel is torchvision's);
- MobileNet v2 (``mobilenetv2_100``): ``conv_stem``/``bn1``, ``blocks.S.I`` with
  ``conv_dw``/``bn1``/``conv_pw``/``bn2`` (the first, expansion-free block) or
  ``conv_pw``/``bn1``/``conv_dw``/``bn2``/``conv_pwl``/``bn3``, then ``conv_head``/``bn2``
  and ``classifier``; renamed to torchvision's ``features.K...``.
"""

from __future__ import annotations

import re

import numpy as np

_MBV2_BLOCK = {  # timm block part -> torchvision InvertedResidual part, without / with an expansion conv
    False: {"conv_dw": "conv.0.0", "bn1": "conv.0.1", "conv_pw": "conv.1", "bn2": "conv.2"},
    True: {"conv_pw": "conv.0.0", "bn1": "conv.0.1", "conv_dw": "conv.1.0", "bn2": "conv.1.1", "conv_pwl": "conv.2",
           "bn3": "conv.3"},
}


def naming(state_dict: dict) -> str:
    """``"timm"`` if the keys are timm's VGG or MobileNet names, else ``"torchvision"``."""
    timm = ("pre_logits.fc1.weight", "head.fc.weight", "conv_stem.weight", "conv_head.weight")
    return "timm" if any(k in state_dict for k in timm) else "torchvision"


def _vgg(sd):
    out = {}
    for k, v in sd.items():
        if k.startswith("pre_logits.fc1."):
            k = "classifier.0." + k.rsplit(".", 1)[1]
            v = v.reshape(v.shape[0], -1) if v.ndim == 4 else v  # (4096, 512, 7, 7) -> (4096, 25088), C-H-W order
        elif k.startswith("pre_logits.fc2."):
            k = "classifier.3." + k.rsplit(".", 1)[1]
            v = v.reshape(v.shape[0], -1) if v.ndim == 4 else v  # (4096, 4096, 1, 1) -> (4096, 4096)
        elif k.startswith("head.fc."):
            k = "classifier.6." + k.rsplit(".", 1)[1]
        out[k] = v
    return out


def _mobilenet_v2(sd):
    blocks = sorted({(int(s), int(i)) for k in sd if (r := re.match(r"blocks\.(\d+)\.(\d+)\.", k))
                     for s, i in [r.groups()]})
    index = {b: n + 1 for n, b in enumerate(blocks)}  # torchvision's features.K: the stem is K = 0
    expanded = {(int(r.group(1)), int(r.group(2))) for k in sd if (r := re.match(r"blocks\.(\d+)\.(\d+)\.conv_pwl\.", k))}
    last = len(blocks) + 1
    out = {}
    for k, v in sd.items():
        r = re.match(r"blocks\.(\d+)\.(\d+)\.(\w+)\.(.+)", k)
        if r:
            s, i, part, leaf = int(r.group(1)), int(r.group(2)), r.group(3), r.group(4)
            part = _MBV2_BLOCK[(s, i) in expanded].get(part, part)
            k = f"features.{index[(s, i)]}.{part}.{leaf}"
        else:
            for timm, tv in (("conv_stem.", "features.0.0."), ("bn1.", "features.0.1."),
                             ("conv_head.", f"features.{last}.0."), ("bn2.", f"features.{last}.1."),
                             ("classifier.", "classifier.1.")):
                if k.startswith(timm):
                    k = tv + k[len(timm):]
                    break
        out[k] = v
    return out


def to_torchvision(name: str, state_dict: dict) -> dict[str, np.ndarray]:
    """``state_dict`` with timm's names turned into torchvision's (unchanged if already torchvision's)."""
    if naming(state_dict) != "timm":
        return state_dict
    if name.startswith("vgg"):
        return _vgg(state_dict)
    if name == "mobilenet_v2":
        return _mobilenet_v2(state_dict)
    return state_dict  # a timm name set for another family: the strict conversion reports the keys
