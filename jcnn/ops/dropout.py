"""Dropout (Srivastava et al. 2014), inverted: kept units are scaled by ``1 / (1 - rate)``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jcnn.ops import _args


def dropout(x, key, *, rate, broadcast_dims=()):
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    Args:
      x: any shape, floating. key: a PRNG key (the mask is a pure function of it).
      rate: drop probability in [0, 1). broadcast_dims: axes along which one
        mask value is shared (e.g. the spatial axes for channel dropout).
    Returns:
      the shape and dtype of ``x``; the expectation equals ``x``.
    """
    _args.check_float("dropout", x=x)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate={rate!r} must be in [0, 1)")
    if rate == 0.0:
        return x
    shape = tuple(1 if i in {d % x.ndim for d in broadcast_dims} else s for i, s in enumerate(x.shape))
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype)).astype(x.dtype)
