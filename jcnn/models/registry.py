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
import numbers
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


def _accepted(meta: ModelInfo) -> tuple[dict, list[str]]:
    """The factory's parameters and the keyword arguments ``create`` accepts for it (sorted)."""
    params = inspect.signature(meta.factory).parameters
    own = [k for k in params if k != "rngs"]
    return params, sorted({*own, "seed", "weights"})


def check_arguments(name, *, num_classes=None, seed=0, **options) -> ModelInfo:
    """Check a :func:`create` call without building anything; returns the model's :class:`ModelInfo`.

    Raises:
      TypeError: ``name`` not a string, ``seed`` or ``num_classes`` not an int.
      ValueError: unknown model or option (with close matches among the model's
        options and ``create``'s own, e.g. ``num_clases`` -> ``num_classes``),
        an out-of-range ``seed``/``num_classes``, or ``num_classes`` for a model without classes.
    """
    if not isinstance(name, str):
        raise TypeError(f"create: name={name!r} must be a registered model name (a str), see jcnn.models.names()")
    meta = info(name)
    fn = f"create({name!r})"
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{fn}: seed={seed!r} must be an int (the initialisation seed, e.g. seed=0)")
    if not 0 <= seed < 2**63 - 1:
        raise ValueError(f"{fn}: seed={seed!r} must be an int in [0, 2**63 - 1)")
    params, accepted = _accepted(meta)
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
            raise TypeError(f"{fn}: num_classes={num_classes!r} must be a positive int or None (the model's default)")
        if num_classes < 1:
            raise ValueError(f"{fn}: num_classes={num_classes!r} must be a positive int")
        if "num_classes" not in params:
            raise ValueError(f"{fn}: this model has no num_classes option; accepted: {accepted}")
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for k in options:
            if k not in params or k in ("rngs", "num_classes"):
                why = "create builds rngs from seed" if k == "rngs" else f"accepted: {accepted}"
                close = difflib.get_close_matches(k, accepted, n=3, cutoff=0.6)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise ValueError(f"{fn}: unknown option {k!r}{hint} ({why})")
    return meta


def create(name: str, *, num_classes: int | None = None, seed: int = 0, weights=None, **kwargs) -> nnx.Module:
    """Build a registered model with parameters initialised from ``seed``.

    Args:
      name: a registered name (see :func:`names`).
      num_classes: overrides the model's default (a positive int).
      seed: initialisation seed, an int >= 0 (the ``params`` stream; ``dropout`` derives from it).
      weights: None, or a torchvision/timm state dict file (``.pth``, ``.safetensors``, ``.npz``) to
        load (:func:`jcnn.models.weights.load_into`, strict). With a ``num_classes`` other than the
        file's, its classifier is left out and the new one keeps its ``seed`` initialisation (fine-tuning).
      kwargs: architecture options of that factory; unknown ones raise ``ValueError``
        naming the close matches (see :func:`check_arguments`).
    """
    meta = check_arguments(name, num_classes=num_classes, seed=seed, **kwargs)
    params = inspect.signature(meta.factory).parameters
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    elif meta.num_classes is not None and "num_classes" in params:
        kwargs["num_classes"] = meta.num_classes

    seed = int(seed)

    def make():
        return meta.factory(rngs=nnx.Rngs(params=seed, dropout=seed + 1), **kwargs)

    if weights is None:
        return make()
    from jcnn.models import weights as weights_lib  # lazy: building a model never needs file readers

    return weights_lib.build(name, make, weights, new_head=num_classes is not None)
