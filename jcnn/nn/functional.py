"""The functional view of a model: ``apply(graphdef, state, x) -> (y, new_state)``."""

from __future__ import annotations

import jax
from flax import nnx


def apply(graphdef, state, x, *, train=False, rngs=None, **kwargs):
    """Run a model split by ``nnx.split`` as a pure function.

    Usable under ``jax.jit``, ``jax.grad`` and ``jax.vmap``: the inputs are not
    modified; the updated state (e.g. BatchNorm running statistics in training
    mode, advanced RNG counters) is returned.

    Args:
      graphdef, state: from ``graphdef, state = nnx.split(model)`` (``state``
        may also be several states, passed as a tuple).
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
    if len(states) == 1:
        return y, nnx.state(model)
    # Re-partition the updated state exactly as the caller's tuple was.
    filters = [nnx.Any(*_types(s)) if _types(s) else nnx.Nothing for s in states]
    return y, tuple(nnx.state(model, *filters))


def _types(state):
    leaves = jax.tree.leaves(state, is_leaf=lambda v: isinstance(v, nnx.Variable))
    return tuple({type(v) for v in leaves})
