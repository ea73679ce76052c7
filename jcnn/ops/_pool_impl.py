"""The gradient of max pooling on XLA-CPU, and the rule that picks it.

``jax.grad`` of ``lax.reduce_window`` (max) lowers to XLA's
``select_and_scatter``, which XLA-CPU runs 5-10x slower than the forward
(LeNet-5's first pool, batch 128: forward 0.8 ms, backward 5 ms; a ResNet-size
32x32x16 map: 37 ms). On CPU, :func:`max_pool_call` keeps XLA's forward and
replaces the backward (a ``jax.custom_vjp``) by the same selection written
with elementwise ops: for each window offset, in scan order, the strided
slice of the padded input that equals the output and was not already taken
gets the output gradient (ties go to the first maximum, as
``select_and_scatter``); the per-offset gradients go back to their input
positions by one interleaving reshape (windows that tile the input) or by
strided padding (overlapping or dilated windows). Other platforms keep XLA's
gradient; ``jcnn.ops.conv_impl('xla')`` pins it on CPU too. Dilated windows,
which JAX cannot differentiate, use this backward on every platform.
"""

from __future__ import annotations

import itertools
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jcnn.ops import _conv_impl, _windows
from jcnn.ops._windows import full as _full


def _xla_max_pool(x, cfg):
    window, stride, dilation, pads = cfg
    # A NumPy (concrete) init value: lax then picks the differentiable
    # reduce_window_max; a jnp array is a tracer under jit and gives the generic,
    # non-differentiable reduce_window.
    return lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, _full(window, 1), _full(stride, 1),
                             _full(pads, (0, 0)), window_dilation=_full(dilation, 1))


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool_cpu(x, cfg):
    return _xla_max_pool(x, cfg)


def _max_pool_cpu_fwd(x, cfg):
    y = _xla_max_pool(x, cfg)
    return y, (x, y)


def _max_pool_cpu_bwd(cfg, res, dy):
    """dx: each output's gradient goes to the first input of its window that equals the output."""
    window, stride, dilation, pads = cfg
    x, y = res
    nd, sizes, outs = len(window), x.shape[1:-1], y.shape[1:-1]
    zero = np.array(0, dy.dtype)
    taken, parts = None, []
    for k, s in _windows.offset_slices(x, window, stride=stride, dilation=dilation, pads=pads, fill=-np.inf):
        hit = s == y
        if taken is None:
            taken = hit
        else:
            hit = hit & ~taken
            taken = taken | hit
        parts.append((k, jnp.where(hit, dy, zero)))
    if tuple(stride) == tuple(window) and all(d == 1 for d in dilation):
        # Windows tile the padded input: interleave the offsets back in one reshape.
        g = jnp.stack([p for _, p in parts], axis=1).reshape(dy.shape[0], *window, *outs, dy.shape[-1])
        perm = (0, *itertools.chain.from_iterable((1 + nd + i, 1 + i) for i in range(nd)), 2 * nd + 1)
        g = g.transpose(perm).reshape(dy.shape[0], *(o * w for o, w in zip(outs, window)), dy.shape[-1])
        # Back to x's frame: drop the low padding, cut or zero-fill to the input size.
        return (lax.pad(g, zero, _full([(-lo, n + lo - o * w, 0) for n, (lo, _), o, w in
                                        zip(sizes, pads, outs, window)], (0, 0, 0))),)
    return (_windows.scatter_offsets(parts, sizes, stride=stride, dilation=dilation, pads=pads),)


_max_pool_cpu.defvjp(_max_pool_cpu_fwd, _max_pool_cpu_bwd)


def max_pool_call(x, *, window, stride, dilation, pads, impl=None):
    """``max_pool``'s core: XLA's reduce_window forward; on CPU the elementwise backward above."""
    impl = _conv_impl.default_impl() if impl is None else impl
    cfg = (tuple(window), tuple(stride), tuple(dilation), tuple(tuple(p) for p in pads))
    if math.prod(window) == 1:
        return _xla_max_pool(x, cfg)
    if any(d > 1 for d in dilation):
        # JAX has no gradient for dilated max pooling; this backward is one on every platform.
        return _max_pool_cpu(x, cfg)
    if impl == "xla":
        return _xla_max_pool(x, cfg)
    return lax.platform_dependent(x, cpu=lambda a: _max_pool_cpu(a, cfg), default=lambda a: _xla_max_pool(a, cfg))
