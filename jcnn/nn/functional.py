"""The functional view of a model: ``apply(graphdef, state, x) -> (y, new_state)``."""

from __future__ import annotations

import jax
from flax import nnx


def apply(graphdef, state, x, *, train=False, rngs=None, **kwargs):
    """Run a model split by ``nnx.split`` as a pure function.

    Usable under ``jax.jit``, ``jax.grad``, ``jax.vmap`` and ``lax.scan``: the
    inputs are not modified; the updated state (e.g. BatchNorm running
    statistics in training mode, advanced RNG counters) is returned. The
    compute dtype follows ``x`` (see :mod:`jcnn.nn`): bfloat16 input runs the
    convolutions and matrix products in bfloat16 with float32 parameters.

    Args:
      graphdef, state: from ``graphdef, state = nnx.split(model)`` (``state``
        may also be several states, passed as a tuple). Each state is an
        ``nnx.State`` or the pure dict of one (``State.to_pure_dict()``, what
        checkpoints hold); it comes back in the same form.
      x: the model's input, e.g. (N, H, W, C).
      train: training mode (batch statistics, dropout on) or evaluation mode.
      rngs: a PRNG key; when given, every ``dropout`` stream is reseeded from it
        first, so the call is a pure function of ``(state, x, rngs)``.
      kwargs: passed to the model's ``__call__``.
    Returns:
      ``(y, new_state)``, ``new_state`` with the structure of ``state``.
    """
    states = state if isinstance(state, tuple) else (state,)
    model = nnx.merge(graphdef, *states, copy=True)
    model.train() if train else model.eval()
    if rngs is not None:
        nnx.reseed(model, dropout=rngs)
    y = model(x, **kwargs)
    if len(states) == 1 and isinstance(state, nnx.State):
        return y, nnx.state(model)
    pure = None
    new = []
    for s in states:
        if isinstance(s, nnx.State):
            # Re-partition by the variable types the caller's state held.
            types = _types(s)
            new.append(nnx.state(model, nnx.Any(*types) if types else nnx.Nothing))
        else:
            # A pure dict: the same paths, read from the updated model.
            pure = pure if pure is not None else nnx.to_pure_dict(nnx.state(model))
            new.append(jax.tree_util.tree_map_with_path(lambda path, _: _lookup(pure, path), s))
    return y, tuple(new) if isinstance(state, tuple) else new[0]


def _types(state):
    leaves = jax.tree.leaves(state, is_leaf=lambda v: isinstance(v, nnx.Variable))
    return tuple({type(v) for v in leaves})


def _lookup(tree, path):
    for k in path:
        tree = tree[k.key if hasattr(k, "key") else k.idx]
    return tree
