"""Compute-dtype policy shared by the layers (mixed precision: params float32, compute bf16)."""

from __future__ import annotations


def cast(dtype, *arrays):
    """Cast every non-None array to ``dtype`` (no-op when ``dtype`` is None)."""
    if dtype is None:
        return arrays
    return tuple(None if a is None else a.astype(dtype) for a in arrays)
