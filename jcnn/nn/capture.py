"""Look inside any NNX model: its named layers, a shape-only trace of its calls, and activations.

- :func:`layers` lists submodules by dot-joined attribute path (``"conv1"``,
  ``"layer1.0.conv1"``, ``"layers.2"`` inside an ``nnx.Sequential``), in the
  order their attributes were defined.
- :func:`trace` runs the model under :func:`jax.eval_shape` (no FLOPs, so
  224x224 ImageNet models trace in well under a second) and returns one
  :class:`CallRecord` per module call, in call order.
- :func:`capture` runs the model for real and returns chosen layers' outputs
  (optionally stopping right after one of them).
- :func:`intercept` routes chosen layers' calls through a callback (what
  :func:`trace`, :func:`capture` and ``jcnn.summary`` are built on); the class
  patching behind it lives in :mod:`jcnn.nn._intercept` and needs no
  cooperation from the modules (any ``nnx.Module``, ``nnx.List``, ``nnx.Sequential``).

A layer that rejects its input (``ValueError``/``TypeError`` from ``jcnn.ops``,
e.g. wrong channel count or a spatial size below the kernel) surfaces as a
:class:`LayerInputError` (a ``ValueError``) naming the model, the innermost
reported layer's path, its input shape and the model's input shape.

A *leaf* is a module with no submodules. ``depth=k`` reports modules whose path
has ``k`` parts (and leaves above that), so ``depth=1`` on a ResNet gives one
row per stage. A module called twice is reported as ``name`` then ``name#2``.
A model that is itself a leaf (a bare ``nn.Conv``) is its own one layer, named
after its class, with path ``""``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn.nn._intercept import patched

# Pure containers are walked through but never reported: they are not called.
_CONTAINERS = tuple(c for c in (getattr(nnx, "List", None), getattr(nnx, "Dict", None)) if c is not None)
_MODE_ATTRS = ("deterministic", "use_running_average")


# ----------------------------------------------------------------------------
# Walking the module tree


def _children(module):
    """Yield ``(key, child_module)`` in attribute-definition order (lists and dicts expanded)."""

    def expand(key, value):
        if isinstance(value, nnx.Module):
            yield key, value
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield from expand(f"{key}.{i}", v)
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from expand(f"{key}.{k}", v)

    for key, value in vars(module).items():
        if key.startswith("_pytree__"):
            continue
        yield from expand(str(key), value)


def _walk(model):
    """All modules under ``model`` (root included as ``""``), pre-order, first path wins for shared ones."""
    out, seen = [], set()

    def go(prefix, m):
        if id(m) in seen:
            return
        seen.add(id(m))
        out.append((prefix, m))
        for key, child in _children(m):
            go(f"{prefix}.{key}" if prefix else key, child)

    go("", model)
    return out


def _is_leaf(module) -> bool:
    return next(_children(module), None) is None


def layers(model: nnx.Module) -> list[tuple[str, nnx.Module]]:
    """Named submodules of ``model``: ``[(path, module), ...]`` in definition order, parents first.

    ``path`` is the dot-joined attribute path (``"conv1"``, ``"layer1.0.conv1"``).
    Pure containers (``nnx.List``) are walked through but not listed; the root is not listed.
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"layers: model must be an nnx.Module, got {type(model).__name__}")
    return [(p, m) for p, m in _walk(model) if p and not isinstance(m, _CONTAINERS)]


def param_count(module) -> int:
    """Number of scalars in the ``nnx.Param`` variables of ``module`` (its whole subtree)."""
    leaves = jax.tree_util.tree_leaves(nnx.state(module, nnx.Param))
    return int(sum(np.prod(np.shape(v)) for v in leaves))


# ----------------------------------------------------------------------------
# Intercepting __call__


@contextlib.contextmanager
def intercept(model: nnx.Module, around, *, paths=None):
    """Within the block, calls of ``model``'s layers go through ``around``.

    Args:
      model: any ``nnx.Module``.
      around: ``around(path, module, call, args) -> output``; ``call()`` runs the
        layer on its positional ``args`` and returns its output. Return something
        else to replace the output; raise to stop the forward pass there.
      paths: the layer paths to intercept (``""``: the model itself); None: every
        layer of :func:`layers` (the model itself not included).
    """
    named = [(p, m) for p, m in _walk(model) if not isinstance(m, _CONTAINERS)]
    named = [(p, m) for p, m in named if (p in paths if paths is not None else p)]
    with patched(named, around) as hook:
        yield hook


@contextlib.contextmanager
def mode(model, train: bool):
    """Within the block ``model`` is in train (or eval) mode; the previous flags are restored after."""
    saved = [(m, a, getattr(m, a)) for _, m in _walk(model) for a in _MODE_ATTRS if hasattr(m, a)]
    model.train() if train else model.eval()
    try:
        yield model
    finally:
        for m, a, v in saved:
            setattr(m, a, v)


def units(model, depth=None) -> dict[str, str]:
    """``{path: group}`` of the modules whose calls are recorded at ``depth`` (None: leaves).

    At ``depth=k`` a callable module whose path has ``k`` parts is one unit (its
    output includes whatever its ``__call__`` does around its children); leaves
    higher up are their own unit; below a pure container (``nnx.List``) of depth
    ``<= k`` the first callable modules are units grouped under the path's first
    ``k`` parts (``layer1.0``, ``layer1.1`` -> ``layer1``). A model with no
    submodules is its own unit, ``{"": ""}``.
    """
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise ValueError(f"trace: depth={depth!r} must be None (leaves) or a positive int")
    if _is_leaf(model):
        return {"": ""}
    kinds = {p: isinstance(m, _CONTAINERS) for p, m in _walk(model)}
    out = {}
    for p, m in _walk(model):
        if not p or kinds[p]:
            continue
        parts = p.split(".")
        if depth is None:
            if _is_leaf(m):
                out[p] = p
            continue
        ancestors = [".".join(parts[:i]) for i in range(1, len(parts))]
        if any(a in out for a in ancestors):
            continue  # inside a unit
        if len(parts) == depth or (len(parts) < depth and _is_leaf(m)):
            out[p] = p
        elif len(parts) > depth and all(kinds.get(a, True) for a in ancestors[depth - 1:]):
            out[p] = ".".join(parts[:depth])
    return out


class LayerInputError(ValueError):
    """A layer rejected its input; ``model``, ``layer`` (path), ``layer_input`` and ``model_input`` say where."""

    def __init__(self, model: str, layer: str, layer_type: str, layer_input, model_input, reason):
        self.model, self.layer, self.layer_input, self.model_input = model, layer, layer_input, model_input
        super().__init__(f"{model}: layer {layer!r} ({layer_type}) cannot take input {layer_input} "
                         f"(model input {model_input}): {reason}")


def _guarded(around, label, model_input):
    """``around`` that turns a layer's ValueError/TypeError into a :class:`LayerInputError` (innermost wins)."""

    def wrapped(path, module, call, args):
        try:
            return around(path, module, call, args)
        except LayerInputError:
            raise
        except (ValueError, TypeError) as e:
            if not path:  # the model itself: _model_errors names it
                raise
            raise LayerInputError(label, path, type(module).__name__, shapes(args[:1]), model_input, e) from e

    return wrapped


@contextlib.contextmanager
def _model_errors(label, model_input):
    """Errors raised outside any reported layer (the model's own ``__call__`` code) get the model's name."""
    try:
        yield
    except LayerInputError:
        raise
    except (ValueError, TypeError) as e:
        raise ValueError(f"{label}: input {model_input}: {e}") from e


def _repeat_name(path, counts):
    counts[path] = counts.get(path, 0) + 1
    return path if counts[path] == 1 else f"{path}#{counts[path]}"


# ----------------------------------------------------------------------------
# trace and capture


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One module call seen by :func:`trace`.

    ``params`` is the parameter count of the module's subtree (the same on every
    call of a shared module; ``call`` is 1, 2, ... for its first, second call).
    """

    name: str  # path, with "#k" for the k-th call (k >= 2)
    path: str
    type: str
    input_shape: tuple | None  # shape of the first array argument
    output_shape: tuple | list | None  # shape of the output (a list of shapes for several outputs)
    params: int
    call: int = 1



def shapes(tree):
    """The shape of the one array in ``tree``, a list of shapes for several, None for none."""
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "shape")]
    if not leaves:
        return None
    if len(leaves) == 1:
        return tuple(int(d) for d in leaves[0].shape)
    return [tuple(int(d) for d in x.shape) for x in leaves]


def as_input(x_or_shape, dtype=jnp.float32):
    """An array, a ``jax.ShapeDtypeStruct`` or a shape tuple -> something :func:`jax.eval_shape` takes."""
    if hasattr(x_or_shape, "shape") and hasattr(x_or_shape, "dtype"):
        return x_or_shape
    if isinstance(x_or_shape, (tuple, list)) and all(isinstance(d, (int, np.integer)) for d in x_or_shape):
        return jax.ShapeDtypeStruct(tuple(int(d) for d in x_or_shape), dtype)
    raise TypeError(f"expected an array, a jax.ShapeDtypeStruct or a shape tuple of ints, got {x_or_shape!r}")


def trace(model: nnx.Module, x_or_shape, *, depth: int | None = None, train: bool = False) -> list[CallRecord]:
    """Per-call records of ``model(x)``, in call order, without computing anything.

    Args:
      model: any ``nnx.Module``.
      x_or_shape: an input array, a ``jax.ShapeDtypeStruct``, or the full input shape
        (e.g. ``(1, 224, 224, 3)``; float32).
      depth: None reports leaves (modules with no submodules); ``k`` reports the
        modules whose path has ``k`` parts (and leaves higher up).
      train: trace in train mode (default eval; the model's mode is restored after).

    Returns:
      ``[CallRecord(name, path, type, input_shape, output_shape, params, call), ...]``.

    Raises:
      LayerInputError: a layer rejected its input (the message names model, layer and shapes).
    """
    x = as_input(x_or_shape)
    unit_map = units(model, depth)
    raw = []

    def around(path, module, call, args):
        out = call()
        raw.append((path, module, shapes(args[:1]), shapes(out)))
        return out

    with mode(model, train):
        call_abstract(model, x, around, paths=set(unit_map), label=type(model).__name__)
    return [rec for rec, _ in group_calls(model, raw, unit_map)]


def call_abstract(model, x, around, *, paths=None, make_jaxpr=False, label=None):
    """``jax.eval_shape`` (or ``jax.make_jaxpr``) of ``model(x)`` with calls going through ``around``.

    The model's state is an argument, not a constant, so an abstract model
    (``nnx.eval_shape(lambda: create(...))``) works and nothing is computed; the
    model is split and merged, so whatever the call writes (BatchNorm
    statistics in train mode) never reaches ``model``. Returns the output
    shapes, or the ``ClosedJaxpr`` whose last input is ``x``. Errors name
    ``label`` (default: the model's class) and the layer (:class:`LayerInputError`).
    """
    graphdef, state = nnx.split(model)
    label = label or type(model).__name__
    around = _guarded(around, label, shapes(x))

    def f(st, v):
        merged = nnx.merge(graphdef, st)
        with intercept(merged, around, paths=paths):
            return merged(v)

    with _model_errors(label, shapes(x)):
        if make_jaxpr:
            return jax.make_jaxpr(f)(state, x)
        return jax.eval_shape(f, state, x)


def group_calls(model, raw, unit_map):
    """Merge raw calls ``[(path, module, in_shape, out_shape), ...]`` into records.

    Consecutive calls of units in the same container group become one record
    (input of the first, output of the last, parameters of each module once).
    The model itself (path ``""``, when it is a leaf) is named after its class.
    Returns ``[(CallRecord, [indices into raw]), ...]``.
    """
    modules = dict(_walk(model))
    out, counts = [], {}
    i = 0
    while i < len(raw):
        path, module, in_shape, _ = raw[i]
        group = unit_map.get(path, path)
        j = i + 1
        if group != path:
            while j < len(raw) and unit_map.get(raw[j][0]) == group and raw[j][0] != path:
                j += 1
        members = list(range(i, j))
        base = group or type(model).__name__
        name = _repeat_name(base, counts)
        params = sum(param_count(raw[k][1]) for k in members)
        kind = type(modules.get(group, module)).__name__
        out.append((CallRecord(name, group, kind, in_shape, raw[j - 1][3], params, counts[base]), members))
        i = j
    return out


class _Stop(Exception):
    """Raised after ``stop_after``'s call: not a ValueError, so no layer reports it as a bad input."""


def capture(model: nnx.Module, x, *, layers: str | list[str] | tuple[str, ...], train: bool = False,
            stop_after: str | None = None) -> dict:
    """Outputs of the named layers when running ``model(x)`` (for real, eval mode unless ``train``).

    Args:
      model: any ``nnx.Module``.
      x: the input, e.g. (N, H, W, C).
      layers: one path or a list of paths from :func:`layers` (``"conv1"``, ``"layer1.0"``).
      stop_after: a path from :func:`layers`: the forward pass ends right after that
        layer's first call, so nothing behind it runs (a convolutional layer of a
        model with a dense head can then be evaluated at any input size); layers
        called after it are not in the result.

    Returns:
      ``{name: activation}``; a layer called several times gives ``name``, ``name#2``, ...
      The model's own output is under the key ``"output"`` only if asked for as a layer name ``"output"``.

    Raises:
      ValueError: an unknown layer name (the message lists the valid ones); with
        ``stop_after``: ``"output"`` asked for, or ``stop_after`` never called.
      LayerInputError: a layer rejected its input.
    """
    wanted = [layers] if isinstance(layers, str) else list(layers)
    valid = [p for p, _ in _layers(model)]
    for arg, name in [("layers", n) for n in wanted] + ([("stop_after", stop_after)] if stop_after else []):
        if name not in valid and (name != "output" or arg == "stop_after"):
            close = difflib.get_close_matches(str(name), valid, n=3)
            raise ValueError(f"capture: unknown layer {arg}={name!r} in {type(model).__name__}; "
                             f"close matches: {close}; valid layers: {valid}")
    if stop_after is not None and "output" in wanted:
        raise ValueError(f"capture: layers asks for 'output' but stop_after={stop_after!r} ends the pass before it")
    out, counts = {}, {}

    def around(path, module, call, args):
        y = call()
        if path in wanted:
            out[_repeat_name(path, counts)] = y
        if path == stop_after:
            raise _Stop
        return y

    # Every module is intercepted (not only the wanted ones) so that an error names its layer.
    label, shape = type(model).__name__, shapes(x)
    around = _guarded(around, label, shape)
    try:
        with mode(model, train), _model_errors(label, shape), intercept(model, around):
            y = model(x)
    except _Stop:
        return out
    if stop_after is not None:
        raise ValueError(f"capture: layer stop_after={stop_after!r} of {label} was never called on input {shape}")
    if "output" in wanted:
        out["output"] = y
    return out


_layers = layers
