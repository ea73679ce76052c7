"""Reference state dicts made with NumPy alone, shared by the weight tests and the script that made the logits.

``tests/models/data/torchvision_keys.json`` lists, for each model id (``torchvision:resnet18``,
``timm:mobilenetv2_100``), the state dict keys and shapes of the real library's model, as
``make_torchvision_reference.py`` read them. :func:`random_state_dict` fills those keys with
seeded random values (BatchNorm statistics randomised too, so a wrong statistic mapping shows);
the script loaded exactly these values into torchvision/timm and stored the eval-mode logits on
:func:`input_images` in ``torchvision_logits.npz``. The tests regenerate the state dicts without
torch and compare jcnn's logits with the stored ones.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import zlib

import numpy as np

DATA = pathlib.Path(__file__).resolve().parent / "data"
KEYS_FILE = DATA / "torchvision_keys.json"
LOGITS_FILE = DATA / "torchvision_logits.npz"

#: model id -> jcnn registered name.
MODELS = {f"torchvision:{n}": n for n in (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
    "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "mobilenet_v2")}
MODELS.update({"timm:resnet50": "resnet50", "timm:vgg16_bn": "vgg16_bn", "timm:mobilenetv2_100": "mobilenet_v2"})


def load_keys() -> dict:
    """The JSON fixture: ``{"versions": {...}, "models": {id: {"keys": [[key, shape], ...], "digest": hex}}}``."""
    return json.loads(KEYS_FILE.read_text())


def random_state_dict(model_id: str, keys: list) -> dict[str, np.ndarray]:
    """Seeded values for ``keys`` (``[[key, shape], ...]``), by what each key is.

    Weights of convolutions and linear layers: N(0, 2 / fan_in) (He et al. 2015), so logits stay
    O(1) through each layer; biases N(0, 0.1^2); BatchNorm scale and running variance U(0.5, 1.5),
    running mean N(0, 0.1^2); ``num_batches_tracked`` 0. The last BatchNorm of each ResNet block
    (``layerI.J.bn2`` basic, ``bn3`` bottleneck) gets scale U(0.1, 0.3), as Goyal et al. (2017,
    section 5.1) start it at zero: else the residual sums grow ~2.5x a block and ResNet-152's
    logits reach 1e13.
    """
    rng = np.random.default_rng(zlib.crc32(model_id.encode()))
    last_bn = {}
    for key, _ in keys:
        if r := re.fullmatch(r"(layer\d+\.\d+)\.bn(\d)\.weight", key):
            last_bn[r.group(1)] = max(last_bn.get(r.group(1), 0), int(r.group(2)))
    damped = {f"{block}.bn{i}.weight" for block, i in last_bn.items()}
    out = {}
    for key, shape in keys:
        shape = tuple(shape)
        if key.endswith("num_batches_tracked"):
            out[key] = np.array(0, np.int64)
        elif key in damped:
            out[key] = rng.uniform(0.1, 0.3, shape).astype(np.float32)
        elif key.endswith("running_var") or (key.endswith("weight") and len(shape) == 1):
            out[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif key.endswith("weight"):
            fan_in = int(np.prod(shape[1:]))
            out[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        else:  # bias, running_mean
            out[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    return out


def digest(state_dict: dict) -> str:
    """SHA-256 over every key and the first 64 values of each tensor: tells a changed generator apart."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        h.update(key.encode())
        h.update(np.ascontiguousarray(state_dict[key]).reshape(-1)[:64].tobytes())
    return h.hexdigest()


def input_images(n: int = 2) -> np.ndarray:
    """(n, 224, 224, 3) float32 network inputs (already normalised: N(0, 1) values)."""
    return np.random.default_rng(2012).standard_normal((n, 224, 224, 3), dtype=np.float32)


_TORCHVISION_OPS = []


def import_torchvision():
    """``import torchvision``, also the 0.28.0 wheel served here: a CUDA build whose import registers
    fake kernels for ``torchvision::nms``/``qnms`` and fails beside CPU torch unless their schemas are
    declared first (done on the first failure, then the import is retried)."""
    import sys

    import torch

    try:
        import torchvision
    except RuntimeError:
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TORCHVISION_OPS.append(lib)  # the schemas live as long as this object
        import torchvision
    return torchvision
