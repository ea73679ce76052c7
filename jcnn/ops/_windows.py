"""Sliding-window pieces shared by the CPU formulations of convolution and max pooling.

A window op with kernel/window ``K``, ``stride``, ``dilation`` and padding
``(lo, hi)`` per spatial dim reads, for output position ``o`` and offset
``k``, the input at ``o * stride + k * dilation - lo``. :func:`offset_slices`
gathers, per offset, those inputs for every output (a strided slice of the
padded input); :func:`scatter_offsets` is its transpose: it sends per-offset
values ``(N, *out, C)`` back to their input positions and sums them (col2im).
Channels-last throughout: ``(N, *spatial, C)``.
"""

from __future__ import annotations

import itertools

import numpy as np
from jax import lax


def full(per_dim, fill):
    """``(fill, *per_dim, fill)``: a per-spatial-dim tuple widened to ``(N, *spatial, C)``."""
    return (fill, *per_dim, fill)


def offset_slices(x, window, *, stride, dilation, pads, fill=0):
    """Yield ``(k, slice)`` for each offset ``k`` in row-major order.

    Args:
      x: (N, *spatial, C). window, stride, dilation: one int per spatial dim.
      pads: one ``(lo, hi)`` pair per spatial dim, filled with ``fill``.
    Yields:
      ``k`` (a tuple of ints) and the (N, *out, C) inputs that offset ``k`` reads,
      ``out = (n + lo + hi - dilation * (window - 1) - 1) // stride + 1``.
    """
    xp = lax.pad(x, np.array(fill, x.dtype), full([(lo, hi, 0) for lo, hi in pads], (0, 0, 0)))
    outs = [(p - d * (w - 1) - 1) // s + 1 for p, w, s, d in zip(xp.shape[1:-1], window, stride, dilation)]
    for k in itertools.product(*map(range, window)):
        start = (0, *(ki * d for ki, d in zip(k, dilation)), 0)
        limit = (xp.shape[0], *(s + (o - 1) * st + 1 for s, o, st in zip(start[1:], outs, stride)), xp.shape[-1])
        yield k, lax.slice(xp, start, limit, full(stride, 1))


def scatter_offsets(parts, sizes, *, stride, dilation, pads):
    """The transpose of :func:`offset_slices`: ``sum_k`` of each offset's values put back where they were read.

    Args:
      parts: ``[(k, v), ...]``, ``v`` (N, *out, C) the values of offset ``k``.
      sizes: the unpadded input's spatial sizes. stride, dilation, pads: as :func:`offset_slices`.
    Returns:
      (N, *sizes, C); inputs no window read (padding, the floor division's leftover) get 0.
    """
    dx = None
    for k, v in parts:
        outs = v.shape[1:-1]
        # Spread v with stride - 1 zeros between samples, shifted to k * dilation - lo
        # (negative pads crop what fell in the padding).
        cfg = [(ki * d - lo, n - (ki * d - lo + (o - 1) * st + 1), st - 1)
               for ki, d, (lo, _), n, o, st in zip(k, dilation, pads, sizes, outs, stride)]
        term = lax.pad(v, np.array(0, v.dtype), full(cfg, (0, 0, 0)))
        dx = term if dx is None else dx + term
    return dx
