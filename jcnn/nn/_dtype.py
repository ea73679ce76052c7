"""Compute-dtype policy shared by the layers (mixed precision: params float32, compute bf16).

The policy is the Flax ImageNet example's and timm's AMP's (Micikevicius et al.
2018, "Mixed Precision Training", section 3): parameters are stored in float32,
convolutions and matrix products run in the compute dtype, and reductions that
need the range or precision (BatchNorm statistics, softmax and loss) run in
float32. A layer built with ``dtype=None`` computes in the dtype of its
(floating) input, so feeding a model bfloat16 images runs the whole network in
bfloat16 without casting the parameter tree: each layer casts its own float32
parameters at the call, and their gradients come back in float32 through that
cast. ``dtype=`` fixes a layer's compute dtype whatever its input.
"""

from __future__ import annotations

import jax.numpy as jnp


def compute_dtype(dtype, x):
    """``dtype``, or ``x``'s dtype when ``dtype`` is None and ``x`` is floating (else None: no cast)."""
    if dtype is not None:
        return dtype
    return x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else None


def cast(dtype, x, *params):
    """``(x, *params)`` cast to :func:`compute_dtype` ``(dtype, x)``; None entries stay None."""
    dtype = compute_dtype(dtype, x)
    if dtype is None:
        return (x, *params)
    return tuple(None if a is None else a.astype(dtype) for a in (x, *params))
