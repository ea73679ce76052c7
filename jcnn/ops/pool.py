"""Pooling on ``lax.reduce_window``: max, average, global, and max with switches.

Inputs are channels-last ``(N, *spatial, C)`` with 1, 2 or 3 spatial dims;
windows never span the batch or channel dims. The number of spatial dims comes
from the arguments, never from the input's rank: the length of a per-dim
``window``/``stride``/``dilation``/``padding``, and 2 when all are ints (so
``max_pool(x, 2)`` is 2-D pooling of ``(N, H, W, C)``; 1-D and 3-D pooling pass
``window=(k,)`` or ``(k, k, k)``). A single ``(H, W, C)`` image is therefore an
error naming its missing batch dim, not a pooling of the wrong axes. Global
pools take ``spatial_dims`` (default 2) for the same reason.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jcnn.ops import _args, _pool_impl
from jcnn.ops._windows import full as _full


def _window_setup(x, window, stride, padding, dilation, ceil_mode, fn):
    """Check a pooling call; return ``(nd, window, stride, dilation, pads, ceil_extra)``.

    ``pads`` are the user's explicit pairs; ``ceil_extra`` is the additional
    high-side length that ``ceil_mode`` needs for its last, partial window
    (negative: the tail of the high padding that no window reads, trimmed).
    """
    nd = _args.window_rank(x, fn, window=window, stride=stride, dilation=dilation, padding=padding)
    _args.check_float(fn, x=x)
    window = _args.as_tuple(window, nd, "window", fn)
    stride = window if stride is None else _args.as_tuple(stride, nd, "stride", fn)
    dilation = _args.as_tuple(dilation, nd, "dilation", fn)
    sizes = x.shape[1:-1]
    pads = _args.resolve_padding(padding, sizes, window, stride, dilation, fn)
    extra = []
    for n, k, s, d, (lo, hi) in zip(sizes, window, stride, dilation, pads):
        out = _args.out_size(n, k, s, d, lo, hi, ceil_mode)
        if out < 1:
            raise ValueError(
                f"{fn}: spatial size {n} padded by ({lo}, {hi}) is smaller than the window "
                f"{d * (k - 1) + 1} (window={window}, dilation={dilation}); x {tuple(x.shape)}"
            )
        # Negative (down to -hi) when ceil mode's rule drops a last window that
        # the high padding alone would have made room for: trim that padding.
        extra.append(max((out - 1) * s + d * (k - 1) + 1 - (n + lo + hi), -hi))
    return nd, window, stride, dilation, pads, tuple(extra)


def max_pool(x, window, *, stride=None, padding=0, dilation=1, ceil_mode=False, impl=None):
    """Max pooling; padding and the ceil-mode overhang count as ``-inf``.

    Args:
      x: (N, *spatial, C). window: int or per dim. stride: defaults to ``window``.
      padding: int, per dim, (lo, hi) pairs, 'same' or 'valid'. dilation: int or per dim.
      ceil_mode: round the output size up (AlexNet's overlapping 3x3/2 pooling);
        a last window must start inside the input or its low padding.
      impl: None (the :func:`conv_impl` context, default ``'auto'``), ``'auto'`` or
        ``'xla'``. The forward is always one ``reduce_window``; ``'auto'`` on CPU
        computes its gradient without XLA's slow ``select_and_scatter``
        (``jcnn/ops/_pool_impl.py``); ties go to the first maximum either way.
    Returns:
      (N, *out, C), ``out = floor_or_ceil((n + lo + hi - dilation*(window-1) - 1) / stride) + 1``.
    """
    if impl not in (None, "auto", "xla"):
        raise ValueError(f"max_pool: impl={impl!r} must be None, 'auto' or 'xla'")
    nd, window, stride, dilation, pads, extra = _window_setup(x, window, stride, padding, dilation, ceil_mode, "max_pool")
    pads = [(lo, hi + e) for (lo, hi), e in zip(pads, extra)]
    return _pool_impl.max_pool_call(x, window=window, stride=stride, dilation=dilation, pads=pads, impl=impl)


def avg_pool(x, window, *, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling.

    The divisor is the window size, minus the ceil-mode overhang (which is never
    counted), minus the explicit padding if ``count_include_pad=False`` (PyTorch's
    conventions). Average pooling is a depthwise convolution with a constant
    ``1 / window`` kernel, away from the borders.

    Args:
      x: (N, *spatial, C). window: int or per dim. stride: defaults to ``window``.
      padding: int, per dim, (lo, hi) pairs, 'same' or 'valid'.
    Returns:
      (N, *out, C), with ``out`` as in :func:`max_pool` (no dilation).
    """
    nd, window, stride, _, pads, extra = _window_setup(x, window, stride, padding, 1, ceil_mode, "avg_pool")
    all_pads = [(lo, hi + e) for (lo, hi), e in zip(pads, extra)]
    dims, strides = _full(window, 1), _full(stride, 1)
    total = lax.reduce_window(x, np.array(0, x.dtype), lax.add, dims, strides, _full(all_pads, (0, 0)))
    # The divisor depends only on static shapes: count in NumPy, embed as a constant.
    sizes = x.shape[1:-1]
    if count_include_pad:
        ones = np.ones([n + lo + hi + min(e, 0) for n, (lo, hi), e in zip(sizes, pads, extra)], np.float32)
        counted = np.pad(ones, [(0, max(e, 0)) for e in extra])
    else:
        counted = np.pad(np.ones(sizes, np.float32), all_pads)
    view = np.lib.stride_tricks.sliding_window_view(counted, window)
    view = view[tuple(slice(None, None, s) for s in stride)]
    count = view.reshape(*view.shape[:nd], -1).sum(-1)
    return total / jnp.asarray(count[None, ..., None], x.dtype)


def _global_axes(x, spatial_dims, fn):
    if not _args.is_int(spatial_dims) or spatial_dims not in (1, 2, 3):
        raise ValueError(f"{fn}: spatial_dims={spatial_dims!r} must be 1, 2 or 3")
    _args.check_batched(x, int(spatial_dims), fn, why=f"spatial_dims={spatial_dims}")
    _args.check_float(fn, x=x)
    return tuple(range(1, spatial_dims + 1))


def global_avg_pool(x, *, spatial_dims=2):
    """Mean over all spatial dims: (N, *spatial, C) -> (N, C); ``spatial_dims`` says how many there are."""
    return jnp.mean(x, axis=_global_axes(x, spatial_dims, "global_avg_pool"))


def global_max_pool(x, *, spatial_dims=2):
    """Max over all spatial dims: (N, *spatial, C) -> (N, C); ``spatial_dims`` says how many there are."""
    return jnp.max(x, axis=_global_axes(x, spatial_dims, "global_max_pool"))


def _argmax_pick(a, b):
    (av, ai), (bv, bi) = a, b
    # The larger value wins; on a tie the lower flat index (the first in scan order).
    take_a = (av > bv) | ((av == bv) & (ai < bi))
    return lax.select(take_a, av, bv), lax.select(take_a, ai, bi)


def max_pool_with_argmax(x, window, *, stride=None, padding=0):
    """Max pooling that also returns the "switches" of ZFNet's deconvnet.

    Args:
      x: (N, *spatial, C). window, stride, padding: as :func:`max_pool`.
    Returns:
      ``(y, switches)``: ``y`` (N, *out, C) equals ``max_pool(x, ...)``;
      ``switches`` (N, *out, C) int32 holds, for each output, the flat index
      into ``x``'s spatial dims (row-major, as PyTorch) of the input that won;
      ties go to the first.
    """
    fn = "max_pool_with_argmax"
    nd, window, stride, _, pads, _ = _window_setup(x, window, stride, padding, 1, False, fn)
    y = max_pool(x, window, stride=stride, padding=pads)
    sizes = x.shape[1:-1]
    flat = jnp.arange(int(np.prod(sizes)), dtype=jnp.int32).reshape(1, *sizes, 1)
    flat = jnp.broadcast_to(flat, x.shape)
    pads = _full(pads, (0, 0))
    _, switches = lax.reduce_window(
        (lax.stop_gradient(x), flat), (jnp.array(-jnp.inf, x.dtype), jnp.array(np.iinfo(np.int32).max, jnp.int32)),
        _argmax_pick, _full(window, 1), _full(stride, 1), pads,
    )
    return y, switches


def max_unpool(y, switches, *, output_shape):
    """Place each pooled value back where its switch says; zeros elsewhere.

    Where windows overlap and two outputs chose the same input, their values
    add, which makes this the exact transpose of the selection: for gradients
    ``g``, ``max_unpool(g, switches)`` equals the gradient of :func:`max_pool`.

    ``output_shape`` must be the shape of the input that was pooled: a switch is
    a flat index into it, which means nothing in a grid of another shape. For
    concrete switches, one beyond the grid (an ``output_shape`` too small) is a
    ``ValueError``; under ``jit`` the switches are traced and cannot be read in
    Python, so an out-of-range switch makes the whole result NaN instead of
    being dropped silently.

    Args:
      y: (N, *out, C) values to place. switches: (N, *out, C) int flat indices
        from :func:`max_pool_with_argmax`. output_shape: (N, *spatial, C) or ``*spatial``.
    Returns:
      (N, *spatial, C).
    """
    fn = "max_unpool"
    nd = _args.spatial_rank(y, fn, "y")
    if tuple(switches.shape) != tuple(y.shape):
        raise ValueError(f"{fn}: switches {tuple(switches.shape)} must have y's shape {tuple(y.shape)}")
    if not jnp.issubdtype(switches.dtype, jnp.integer):
        raise TypeError(f"{fn}: switches must be integer indices, got dtype {switches.dtype}")
    if isinstance(output_shape, (str, bytes)) or not all(_args.is_int(s) for s in output_shape):
        raise TypeError(f"{fn}: output_shape={output_shape!r} must be a tuple of ints, (N, *spatial, C) or *spatial")
    output_shape = tuple(int(s) for s in output_shape)
    if len(output_shape) == nd:
        output_shape = (y.shape[0], *output_shape, y.shape[-1])
    if len(output_shape) != nd + 2 or output_shape[0] != y.shape[0] or output_shape[-1] != y.shape[-1]:
        raise ValueError(f"{fn}: output_shape={output_shape} must be (N, *spatial, C) matching y {tuple(y.shape)}")
    sizes = output_shape[1:-1]
    if any(n < 1 for n in sizes):
        raise ValueError(f"{fn}: output_shape={output_shape} must have positive spatial sizes")
    n, c, s = y.shape[0], y.shape[-1], int(np.prod(sizes))
    concrete = not isinstance(switches, jax.core.Tracer)
    if concrete and switches.size:
        lo, hi = int(np.min(switches)), int(np.max(switches))
        if lo < 0 or hi >= s:
            raise ValueError(f"{fn}: switches range over [{lo}, {hi}] but output_shape={output_shape} has {s} "
                             f"positions per channel: it must be the shape of the input that was pooled")
    vals = y.reshape(n, -1, c)  # (N, P, C)
    idx = switches.reshape(n, -1, c)
    out = jnp.zeros((n, s, c), y.dtype)
    out = out.at[jnp.arange(n)[:, None, None], idx, jnp.arange(c)[None, None, :]].add(vals)
    if not concrete and jnp.issubdtype(y.dtype, jnp.inexact):
        # Traced switches cannot be checked in Python: poison the result instead of returning garbage.
        bad = jnp.any((idx < 0) | (idx >= s))
        out = jnp.where(bad, jnp.asarray(jnp.nan, y.dtype), out)
    return out.reshape(output_shape)
