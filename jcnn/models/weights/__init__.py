"""Pretrained weights: torchvision and timm state dicts into jcnn's zoo, and back.

``jcnn.models.create("resnet50", weights="resnet50-11ad3fa6.pth")`` builds the
network and fills it in; :func:`load_into` does it for a model you built;
:func:`to_torchvision` goes the other way. Supported: :data:`SUPPORTED`
(ResNet-18 ... 152, VGG-11 ... 19 with and without BatchNorm, MobileNet v2),
whose jcnn definitions compute what torchvision's do. jcnn's AlexNet and
GoogLeNet follow their papers and torchvision's do not, so they are refused
with the reason (:data:`REFUSED`).

Files: see :mod:`jcnn.models.weights.files` (``.safetensors`` without torch,
``.pth`` with it). Names: torchvision's, or timm's (:mod:`.timm_names`).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
from flax import nnx

from jcnn.models.weights import timm_names
from jcnn.models.weights.files import SUFFIXES, read_state_dict, save_state_dict
from jcnn.models.weights.torchvision_map import REFUSED, SUPPORTED, check_supported, convert, export


def _state_dict(source, fn):
    if isinstance(source, dict):
        return source, "state dict"
    if isinstance(source, (str, os.PathLike)):
        return read_state_dict(source), os.fspath(source)
    raise TypeError(f"{fn}: weights must be a file path or a {{name: array}} dict, got {type(source).__name__}")


def from_torchvision(model, name: str, source, *, new_head: bool = False) -> dict:
    """``{jcnn path tuple: array}`` for ``model`` from a torchvision/timm state dict (file or dict); strict.

    See :func:`jcnn.models.weights.torchvision_map.convert` for ``new_head`` and the checks.
    """
    fn = "from_torchvision"
    check_supported(name, fn)
    sd, where = _state_dict(source, fn)
    return convert(model, name, timm_names.to_torchvision(name, sd), new_head=new_head, source=where, fn=fn)


def _fill(model, values: dict):
    """Set the variables of ``model`` whose path tuples are keys of ``values``, in place."""
    flat = nnx.to_flat_state(nnx.state(model))
    for path, var in flat:
        if path in values:
            var.set_value(jnp.asarray(values[path]))
    nnx.update(model, nnx.from_flat_state(flat))


def load_into(model, name: str, source, *, new_head: bool = False):
    """Fill ``model`` (built by ``jcnn.models.create(name, ...)``) from a torchvision/timm state dict, in place.

    Args:
      model: the jcnn network. name: its registered name.
      source: a state dict file (``.pth``, ``.safetensors``, ``.npz``) or a ``{key: array}`` dict.
      new_head: allow the file's classifier to differ in shape (fine-tuning to other classes);
        the model's own, freshly initialised classifier is then kept.
    Returns:
      ``model``.
    Raises:
      ValueError: unsupported model, or a file that does not fit (every bad key named, with shapes).
    """
    _fill(model, from_torchvision(model, name, source, new_head=new_head))
    return model


def build(name: str, make, source, *, new_head: bool = False):
    """``make()`` (a zoo factory call) with its weights from ``source``, without initialising what the file sets.

    The network is built abstractly (``nnx.eval_shape``); the file supplies every parameter and
    statistic; what it does not (a new classifier, dropout RNG state) is computed by one compiled
    ``make()`` whose unused initialisers XLA drops, so the values equal those of a plain ``make()``.
    Used by ``jcnn.models.create(name, weights=...)``.
    """
    model = nnx.eval_shape(make)
    values = from_torchvision(model, name, source, new_head=new_head)
    rest = [path for path, _ in nnx.to_flat_state(nnx.state(model)) if path not in values]  # sorted paths
    if rest:
        todo = set(rest)
        fresh = jax.jit(lambda: [v.get_value() for p, v in nnx.to_flat_state(nnx.state(make())) if p in todo])()
        values.update(zip(rest, fresh))
    _fill(model, values)
    return model


def to_torchvision(model, name: str) -> dict:
    """``model``'s weights as a torchvision state dict of NumPy arrays (save with :func:`save_state_dict`)."""
    return export(model, name)


__all__ = ["REFUSED", "SUFFIXES", "SUPPORTED", "build", "check_supported", "from_torchvision", "load_into",
           "read_state_dict", "save_state_dict", "timm_names", "to_torchvision"]
