"""torchvision state dicts <-> jcnn models: the layer map, strict conversion both ways.

A *layer map* pairs each jcnn module holding parameters (``"layer1.0.conv1.conv"``)
with its torchvision module (``"layer1.0.conv1"``) and a kind saying how its
tensors convert:

- ``conv``: weight (C_out, C_in/groups, KH, KW) <-> kernel (KH, KW, C_in/groups, C_out);
- ``dense``: weight (out, in) <-> kernel (in, out);
- ``dense_chw``: VGG's fc6, whose input torchvision flattens from (C, H, W) and jcnn
  from (H, W, C): its columns are permuted, not just transposed;
- ``bn``: weight/bias/running_mean/running_var <-> scale/bias/mean/var (eps 1e-5 both);
  ``num_batches_tracked`` is read and dropped (written back as 0).

torchvision's ``vgg*_bn`` keep a bias on each convolution before its BatchNorm,
which jcnn omits (it is redundant: BN subtracts the mean). In evaluation
``BN(conv(x) + b) = BN'(conv(x))`` with ``running_mean' = running_mean - b``, so the
bias is folded into the running mean (exact); export writes a zero bias. Training
differs in nothing either: BN's batch mean absorbs any constant.

Strict: every jcnn parameter and statistic is set, every tensor of the file is
used, every shape checked; all problems are reported at once, by key.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
from flax import nnx

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
VGGS = tuple(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn"))
SUPPORTED = RESNETS + VGGS + ("mobilenet_v2",)

_ALEXNET = ("jcnn's {name} follows Krizhevsky, Sutskever & Hinton 2012 (conv widths 96-256-384-384-256, LRN, "
            "227x227 input); torchvision's AlexNet is Krizhevsky 2014's 'one weird trick' variant "
            "(64-192-384-256-256, no LRN), so its tensors fit no jcnn layer")
#: Zoo models whose torchvision namesake is a different network: loading its weights would be wrong.
REFUSED = {
    "alexnet": _ALEXNET.format(name="alexnet"),
    "alexnet_grouped": _ALEXNET.format(name="alexnet_grouped"),
    "googlenet": ("jcnn's googlenet follows Szegedy et al. 2014 (5x5 convolutions in the '5x5' branches, LRN, "
                  "no BatchNorm); torchvision's GoogLeNet puts BatchNorm after every convolution and 3x3 "
                  "convolutions in those branches, so its weights belong to another network"),
}

_TORCH_LEAF = {"conv": {"kernel": "weight", "bias": "bias"}, "dense": {"kernel": "weight", "bias": "bias"},
               "bn": {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}}
_TORCH_LEAF["dense_chw"] = _TORCH_LEAF["dense"]
_LIST_LIMIT = 12


@dataclasses.dataclass(frozen=True)
class Layer:
    """One jcnn module and its torchvision counterpart (see the module docstring for ``kind``).

    ``fold_into``: a conv's jcnn BatchNorm that absorbs torchvision's conv bias. ``chw``: dense_chw's
    (C, H, W) of the flattened map.
    """

    jcnn: str
    torch: str
    kind: str
    fold_into: str = ""
    chw: tuple = ()


def check_supported(name: str, fn: str) -> None:
    """ValueError unless ``name`` has a torchvision layout; says why for AlexNet and GoogLeNet."""
    if name in REFUSED:
        raise ValueError(f"{fn}: no torchvision weights for {name!r}: {REFUSED[name]}")
    if name not in SUPPORTED:
        raise ValueError(f"{fn}: torchvision has no network matching jcnn's {name!r}; weights load into "
                         f"{list(SUPPORTED)}")


def _modules(model) -> dict:
    """``{module path: (path tuple, {leaf: Variable})}`` of the parameters and BatchNorm statistics."""
    out = {}
    for path, var in nnx.to_flat_state(nnx.state(model, (nnx.Param, nnx.BatchStat))):
        key = ".".join(map(str, path[:-1]))
        out.setdefault(key, (path[:-1], {}))[1][str(path[-1])] = var
    return out


def _resnet(mods):
    rules = ((r"stem\.conv", "conv1", "conv"), (r"stem\.bn", "bn1", "bn"),
             (r"(layer\d+\.\d+)\.conv(\d)\.conv", r"\1.conv\2", "conv"),
             (r"(layer\d+\.\d+)\.conv(\d)\.bn", r"\1.bn\2", "bn"),
             (r"(layer\d+\.\d+)\.shortcut\.conv", r"\1.downsample.0", "conv"),
             (r"(layer\d+\.\d+)\.shortcut\.bn", r"\1.downsample.1", "bn"), (r"fc", "fc", "dense"))
    layers = []
    for m in mods:
        for pattern, repl, kind in rules:
            if re.fullmatch(pattern, m):
                layers.append(Layer(m, re.sub(pattern, repl, m), kind))
                break
    return layers


def _vgg(mods):
    convs = sorted((int(s), int(j)) for m in mods if (r := re.fullmatch(r"stage(\d)\.convs\.(\d+)\.conv", m))
                   for s, j in [r.groups()])
    layers, idx, stage = [], 0, 1
    for s, j in convs:  # torchvision's features: conv, [bn], relu per conv; a max pool closes each stage
        if s != stage:
            idx, stage = idx + 1, s
        conv, bn = f"stage{s}.convs.{j}.conv", f"stage{s}.convs.{j}.bn"
        has_bn = bn in mods
        layers.append(Layer(conv, f"features.{idx}", "conv", fold_into=bn if has_bn else ""))
        if has_bn:
            layers.append(Layer(bn, f"features.{idx + 1}", "bn"))
        idx += 3 if has_bn else 2
    c = mods[f"stage{convs[-1][0]}.convs.{convs[-1][1]}.conv"][1]["kernel"].shape[-1]
    hw = mods["fc6"][1]["kernel"].shape[0] // c
    side = math.isqrt(hw)
    layers += [Layer("fc6", "classifier.0", "dense_chw", chw=(c, side, side)),
               Layer("fc7", "classifier.3", "dense"), Layer("fc8", "classifier.6", "dense")]
    return layers


def _mobilenet_v2(mods):
    layers = [Layer("stem.conv", "features.0.0", "conv"), Layer("stem.bn", "features.0.1", "bn")]
    blocks = sorted({int(r.group(1)) for m in mods if (r := re.match(r"blocks\.(\d+)\.", m))})
    for i in blocks:
        parts = [p for p in ("expand", "depthwise") if f"blocks.{i}.{p}.conv" in mods]
        t = f"features.{i + 1}.conv"
        for q, p in enumerate(parts):  # ConvBNActivation q of the block: conv.q.0, conv.q.1
            layers += [Layer(f"blocks.{i}.{p}.conv", f"{t}.{q}.0", "conv"), Layer(f"blocks.{i}.{p}.bn", f"{t}.{q}.1", "bn")]
        q = len(parts)  # the linear projection: a bare conv and BN, conv.q and conv.(q+1)
        layers += [Layer(f"blocks.{i}.project.conv", f"{t}.{q}", "conv"),
                   Layer(f"blocks.{i}.project.bn", f"{t}.{q + 1}", "bn")]
    last = f"features.{len(blocks) + 1}"
    return layers + [Layer("head.conv", f"{last}.0", "conv"), Layer("head.bn", f"{last}.1", "bn"),
                     Layer("fc", "classifier.1", "dense")]


#: jcnn's and torchvision's classifier module per family (replaced when fine-tuning to other classes).
CLASSIFIER = {"resnet": ("fc", "fc"), "vgg": ("fc8", "classifier.6"), "mobilenet_v2": ("fc", "classifier.1")}


def _family(name):
    return "resnet" if name in RESNETS else "vgg" if name in VGGS else "mobilenet_v2"


def layer_map(model, name: str, *, fn: str = "layer_map") -> list[Layer]:
    """The :class:`Layer` pairs of ``model`` (a ``jcnn.models.create(name)``), every module covered."""
    check_supported(name, fn)
    if _family(name) == "resnet":
        for stage in model.stages():
            for blk in stage:  # same shapes, other maths: the paper's v1 strides on the first 1x1 conv
                if hasattr(blk, "conv3") and blk.conv1.conv.stride not in (1, (1, 1)):
                    raise ValueError(f"{fn}: {name} was built with stride_on='1x1' (He et al.'s v1); torchvision's "
                                     f"weights are for stride_on='3x3' (v1.5)")
    mods = _modules(model)
    layers = {"resnet": _resnet, "vgg": _vgg, "mobilenet_v2": _mobilenet_v2}[_family(name)](mods)
    uncovered = sorted(set(mods) - {la.jcnn for la in layers})
    if uncovered:
        raise ValueError(f"{fn}: {name} has modules with no torchvision counterpart (an architecture option "
                         f"torchvision lacks?): {uncovered[:_LIST_LIMIT]}")
    return layers


def _torch_shape(layer, leaf, shape):
    if leaf == "kernel" and layer.kind == "conv":
        return (shape[3], shape[2], shape[0], shape[1])
    if leaf == "kernel":
        return (shape[1], shape[0])
    return tuple(shape)


def _to_jcnn(layer, leaf, a):
    if leaf == "kernel" and layer.kind == "conv":
        return np.transpose(a, (2, 3, 1, 0))  # (O, I, KH, KW) -> (KH, KW, I, O)
    if leaf == "kernel" and layer.kind == "dense_chw":
        c, h, w = layer.chw
        return a.reshape(a.shape[0], c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, a.shape[0])  # (H*W*C, out)
    if leaf == "kernel":
        return a.T
    return a


def _to_torch(layer, leaf, a):
    if leaf == "kernel" and layer.kind == "conv":
        return np.transpose(a, (3, 2, 0, 1))
    if leaf == "kernel" and layer.kind == "dense_chw":
        c, h, w = layer.chw
        return a.reshape(h, w, c, a.shape[1]).transpose(3, 2, 0, 1).reshape(a.shape[1], c * h * w)  # (out, C*H*W)
    if leaf == "kernel":
        return a.T
    return a


def _listing(title, items):
    more = f" ... and {len(items) - _LIST_LIMIT} more" if len(items) > _LIST_LIMIT else ""
    return f"\n  {title} ({len(items)}): " + "; ".join(items[:_LIST_LIMIT]) + more


def convert(model, name: str, state_dict: dict, *, new_head: bool = False, source: str = "state dict",
            fn: str = "convert") -> dict:
    """torchvision ``state_dict`` -> ``{jcnn path tuple: array}`` for every parameter and statistic of ``model``.

    Args:
      model: ``jcnn.models.create(name, ...)`` (or its ``nnx.eval_shape``): gives paths, shapes, dtypes.
      name: its registered name (one of :data:`SUPPORTED`).
      state_dict: ``{torchvision key: array}`` (torchvision names; see :mod:`.timm_names` for timm's).
      new_head: the classifier may differ in shape (another ``num_classes``): its tensors are then
        dropped and the model's own classifier is left out of the result.
      source: how to name the state dict in errors (a file name).
    Raises:
      ValueError: listing every missing, unexpected and wrongly shaped tensor by key, with shapes.
    """
    layers = layer_map(model, name, fn=fn)
    mods = _modules(model)
    head_jcnn, head_torch = CLASSIFIER[_family(name)]
    out, used, missing, shapes, folds = {}, set(), [], [], {}
    keep_head = False
    if new_head:
        w = state_dict.get(f"{head_torch}.weight")
        kern = mods[head_jcnn][1]["kernel"]
        keep_head = w is not None and tuple(w.shape) != _torch_shape(Layer(head_jcnn, head_torch, "dense"), "kernel",
                                                                     kern.shape)
    for layer in layers:
        path, leaves = mods[layer.jcnn]
        if keep_head and layer.jcnn == head_jcnn:
            used.update(k for k in (f"{head_torch}.weight", f"{head_torch}.bias") if k in state_dict)
            continue
        for leaf, var in leaves.items():
            key, want = f"{layer.torch}.{_TORCH_LEAF[layer.kind][leaf]}", _torch_shape(layer, leaf, var.shape)
            if key not in state_dict:
                missing.append(f"{key} {want} (for jcnn {layer.jcnn}.{leaf})")
                continue
            used.add(key)
            a = np.asarray(state_dict[key])
            if tuple(a.shape) != want:
                shapes.append(f"{key}: {source} has {tuple(a.shape)}, jcnn {layer.jcnn}.{leaf} {tuple(var.shape)} "
                              f"needs {want}")
                continue
            out[(*path, leaf)] = _to_jcnn(layer, leaf, a).astype(var.dtype)
        if layer.kind == "bn" and f"{layer.torch}.num_batches_tracked" in state_dict:
            used.add(f"{layer.torch}.num_batches_tracked")  # a training counter; eval does not use it
        if layer.fold_into:
            key = f"{layer.torch}.bias"
            if key not in state_dict:
                missing.append(f"{key} ({leaves['kernel'].shape[-1]},) (folded into jcnn {layer.fold_into}.mean)")
            else:
                used.add(key)
                folds[layer.fold_into] = np.asarray(state_dict[key])
    for bn, bias in folds.items():  # BN(conv + b) with mean m == BN(conv) with mean m - b
        path = (*mods[bn][0], "mean")
        if path in out and bias.shape == out[path].shape:
            out[path] = (out[path] - bias).astype(out[path].dtype)
        elif path in out:
            shapes.append(f"conv bias folded into {bn}.mean: {source} has {bias.shape}, needs {out[path].shape}")
    unexpected = [f"{k} {tuple(np.shape(state_dict[k]))}" for k in state_dict if k not in used]
    if missing or unexpected or shapes:
        msg = f"{fn}: {source} does not fit jcnn's {name}"
        msg += _listing("missing", missing) if missing else ""
        msg += _listing("unexpected (not used)", unexpected) if unexpected else ""
        msg += _listing("wrong shape", shapes) if shapes else ""
        raise ValueError(msg)
    return out


def export(model, name: str, *, fn: str = "to_torchvision") -> dict[str, np.ndarray]:
    """``model``'s parameters and statistics as a torchvision state dict ``{key: array}``.

    ``torchvision.models.<name>().load_state_dict(...)`` accepts it (strict); the VGG-BN convolution
    biases are written as zeros (jcnn folds them into the running mean).
    """
    mods = _modules(model)
    out = {}
    for layer in layer_map(model, name, fn=fn):
        _, leaves = mods[layer.jcnn]
        for leaf, var in leaves.items():
            out[f"{layer.torch}.{_TORCH_LEAF[layer.kind][leaf]}"] = np.asarray(_to_torch(layer, leaf, np.asarray(var[...])))
        if layer.kind == "bn":
            out[f"{layer.torch}.num_batches_tracked"] = np.array(0, np.int64)
        if layer.fold_into:
            out[f"{layer.torch}.bias"] = np.zeros(leaves["kernel"].shape[-1], np.float32)
    return out
