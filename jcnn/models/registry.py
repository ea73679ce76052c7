"""The one model registry: ``register`` a factory, ``create`` by name, list ``names``.

Each model file decorates small factories::

    @register(input_shape=(32, 32, 1), num_classes=10, paper="LeCun et al. 1998")
    def lenet5(*, num_classes=10, rngs, ...): ...

The function name is the public name. ``create`` builds the ``nnx.Rngs``
from ``seed`` so initialisation is a pure function of it; ``create(name,
weights=FILE)`` then fills in a torchvision/timm state dict
(:mod:`jcnn.models.weights`).

Preprocessing travels with the model: ``input_shape``, ``mean``/``std`` and
``eval_resize`` are what :func:`jcnn.models.preprocess` and
:func:`jcnn.models.eval_image` apply.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
from collections.abc import Callable

from flax import nnx

#: ImageNet's per-channel pixel mean and standard deviation (RGB, [0, 1] units), as torchvision and
#: timm normalise (computed on the ILSVRC-2012 training set); the one home of these constants.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Evaluation resize for ImageNet models: shorter side to 256, then the centre crop of the input size
#: (224 / 256 = 0.875, the crop ratio of torchvision's reference evaluation).
IMAGENET_EVAL_RESIZE = 256
#: Keyword arguments of :func:`register` shared by every ImageNet classifier.
IMAGENET = dict(num_classes=1000, mean=IMAGENET_MEAN, std=IMAGENET_STD, eval_resize=IMAGENET_EVAL_RESIZE)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Metadata carried by every registered model (used by tests, summary and configs)."""

    name: str
    factory: Callable
    input_shape: tuple[int, ...]  # (H, W, C) of one example, channels-last
    num_classes: int | None
    paper: str = ""
    published_params: int | None = None  # at the default num_classes, from the paper's table
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    notes: str = ""
    # Evaluation: resize the shorter side to this many pixels, then centre-crop input_shape[:2];
    # None: images are already at the input size (MNIST, CIFAR).
    eval_resize: int | None = None


_REGISTRY: dict[str, ModelInfo] = {}


def register(name: str | None = None, *, input_shape, num_classes=None, paper="", published_params=None,
             mean=None, std=None, notes="", eval_resize=None):
    """Decorator registering a factory ``fn(*, num_classes, rngs, **kw) -> nnx.Module``."""

    def deco(fn):
        key = name or fn.__name__
        if key != key.lower():
            raise ValueError(f"register: model names are lowercase, got {key!r}")
        if key in _REGISTRY:
            raise ValueError(f"register: model {key!r} is already registered (by {_REGISTRY[key].factory.__module__})")
        _REGISTRY[key] = ModelInfo(key, fn, tuple(input_shape), num_classes, paper, published_params,
                                   None if mean is None else tuple(mean), None if std is None else tuple(std), notes,
                                   eval_resize)
        return fn

    return deco


def _ensure_loaded():
    # Importing the package imports every model file, which registers itself.
    import jcnn.models  # noqa: F401


def names(pattern: str = "*") -> list[str]:
    """Sorted registered names matching a glob ``pattern`` (e.g. ``"resnet*"``)."""
    _ensure_loaded()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model; ``ValueError`` with close matches if unknown."""
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=5, cutoff=0.5)
        raise ValueError(f"unknown model {name!r}; close matches: {close or 'none'}; "
                         f"see jcnn.models.names() for all {len(_REGISTRY)}")
    return _REGISTRY[name]


def create(name: str, *, num_classes: int | None = None, seed: int = 0, weights=None, **kwargs) -> nnx.Module:
    """Build a registered model with parameters initialised from ``seed``.

    Args:
      name: a registered name (see :func:`names`).
      num_classes: overrides the model's default.
      seed: initialisation seed (the ``params`` stream; ``dropout`` derives from it).
      weights: None, or a torchvision/timm state dict file (``.pth``, ``.safetensors``, ``.npz``) to
        load (:func:`jcnn.models.weights.load_into`, strict). With a ``num_classes`` other than the
        file's, its classifier is left out and the new one keeps its ``seed`` initialisation (fine-tuning).
      kwargs: architecture options of that factory; unknown ones raise ``ValueError``.
    """
    meta = info(name)
    params = inspect.signature(meta.factory).parameters
    accepted = sorted(k for k in params if k not in ("rngs", "num_classes"))
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for k in kwargs:
            if k not in params or k in ("rngs", "num_classes"):
                close = difflib.get_close_matches(k, accepted, n=3)
                raise ValueError(f"create({name!r}): unknown option {k!r}; close matches: {close}; accepted: {accepted}")
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    elif meta.num_classes is not None and "num_classes" in params:
        kwargs["num_classes"] = meta.num_classes

    def make():
        return meta.factory(rngs=nnx.Rngs(params=seed, dropout=seed + 1), **kwargs)

    if weights is None:
        return make()
    from jcnn.models import weights as weights_lib  # lazy: building a model never needs file readers

    return weights_lib.build(name, make, weights, new_head=num_classes is not None)
