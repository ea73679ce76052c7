"""Formulations of :func:`jcnn.ops.conv` and the rule that picks one per shape and backend.

XLA's convolution is the reference and the default off CPU. On XLA-CPU some
shapes run far below matmul speed, so :func:`conv_impl_call` routes them,
forward, input gradient and kernel gradient separately (a ``jax.custom_vjp``),
to formulations that do the same sums with faster pieces:

- ``"im2col"``: tiny ``C_in`` (``groups=1``, ``C_in <= 4``): the strided input
  slices of every kernel offset, concatenated on the channel axis, times the
  reshaped kernel in one ``dot_general``.
- ``"shift"``: the same sums as ``sum over offsets of slice * w[k]``,
  elementwise. Alone it is the fastest forward, but XLA fuses it into a
  following pooling or reduction and runs that fusion 5-10x slower (LeNet-5
  conv1 + ReLU + 2x2 max pool: 7 ms vs 2.8 ms for ``im2col``, whose dot ends
  the fusion), so ``auto`` takes ``im2col``.
- ``"matmul"``: 1x1 kernels (``groups=1``): one ``dot_general`` over channels;
  ``auto`` takes it only when XLA-CPU convolutions run on YNNPACK (jcnn's
  XLA-CPU setting not in force), where it is 3x faster than XLA's conv.
- ``"depthwise"``: ``groups == C_in``: the sum over offsets of a slice times
  ``w[k]``, elementwise per channel.
- ``"onednn"``: oneDNN's convolution primitives (forward, kernel gradient and
  most input gradients, see ``_onednn_dx``) through XLA's FFI, when the
  optional extension is built (``jcnn/ops/_onednn``); ``auto`` takes it for
  every shape it supports (float32 and bfloat16, 1-3 spatial dims): with one
  thread each it matches PyTorch eager per layer, 1.3-5x jcnn's other
  formulations.
- ``"blocked"``: XLA's own kernel-gradient convolution, run on blocks of the
  batch and summed. XLA-CPU's kernel gradient is a contraction with a huge
  reduced dimension and a tiny output; on blocks of 8-16 samples (up to about
  1 MB) it runs 1.3-2x faster. Feature maps so large that a block would hold
  fewer than 8 samples keep XLA's unblocked kernel gradient (VGG 56x56x64).

Gradients of ``matmul`` and ``depthwise`` are their own autodiff (pads,
slices, dots and products); ``im2col``, ``shift`` and ``blocked`` take the
blocked kernel gradient and, for up to 4 input channels, a col2im input
gradient (one dot, then one strided pad per kernel offset), else XLA's; ``blocked``'s forward is
XLA's. The choice is a pure function of shapes, dtypes, hyperparameters and
the platform, made at trace time; ``impl=`` or :func:`conv_impl` pins one.
All figures: ``experiments/benchmarks/results/conv_cpu_*.md``, measured with
``import jcnn``'s XLA-CPU setting (``jcnn/_xla_cpu.py``: convolutions on XLA's
own kernels rather than YNNPACK).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from jcnn import _xla_cpu
from jcnn.ops import _args, _onednn, _windows

IMPLS = ("auto", "xla", "onednn", "im2col", "shift", "matmul", "depthwise", "blocked")

# Target bytes of one batch block of the (padded) input in the blocked kernel
# gradient, and the largest block; measured on XLA-CPU, see conv_cpu.py.
_BLOCK_BYTES = 1 << 20
_BLOCK_MAX = 16
# Below this many samples per block (big feature maps), XLA's unblocked kernel gradient wins.
_BLOCK_MIN = 8
_SHIFT_MAX_CIN = 4
# Up to this many input channels (groups=1) the input gradient is col2im (below). Alone, col2im also beats
# XLA's input gradient at 5-8 channels, but inside a whole step XLA-CPU fuses its 25-term sum into a following
# max-pool gradient, which then recomputes it for every input position of each window: LeNet-5's step (conv2,
# C_in = 6, after a pool) took 67 ms with 8 here and 33 ms with 4 (one thread, no oneDNN).
_COL2IM_MAX_CIN = 4

_state = threading.local()


def default_impl() -> str:
    """The formulation ``conv`` uses when its ``impl`` is None (set by :func:`conv_impl`)."""
    return getattr(_state, "impl", "auto")


@contextlib.contextmanager
def conv_impl(impl: str):
    """Context manager: the formulation ``conv`` uses when its ``impl`` is None.

    ``with jcnn.ops.conv_impl("xla"): ...`` pins XLA's convolution. Read at
    trace time: a function jitted inside the block keeps its choice.
    """
    _check_impl(impl, "conv_impl")
    old = default_impl()
    _state.impl = impl
    try:
        yield
    finally:
        _state.impl = old


def _check_impl(impl, fn):
    if impl not in IMPLS:
        raise ValueError(f"{fn}: impl={impl!r} must be None or one of {', '.join(map(repr, IMPLS))}")


# ----------------------------------------------------------------------------
# Formulations. All take the padded-free input x (N, *S, C_in), w (*K, C_in/g, C_out)
# and a static config; all return (N, *out, C_out) in the result dtype.

def conv_general(lhs, rhs, *, strides, padding, lhs_dilation=None, rhs_dilation=None, groups=1,
                  batch_groups=1, specs=None, precision=None):
    """The one call to ``lax.conv_general_dilated``; ``specs`` default to channels-last."""
    nd = lhs.ndim - 2
    dtype = jnp.result_type(lhs, rhs)
    return lax.conv_general_dilated(
        lhs.astype(dtype), rhs.astype(dtype), strides, padding,
        lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
        dimension_numbers=specs or _args.nhwc(nd),
        feature_group_count=groups, batch_group_count=batch_groups, precision=precision,
    )


def _xla_fwd(x, w, cfg):
    stride, pads, dilation, groups, precision = cfg
    return conv_general(x, w, strides=stride, padding=pads, rhs_dilation=dilation, groups=groups, precision=precision)


def _offset_slices(x, w, cfg):
    """Yield ``(k, slice)``: for each kernel offset ``k``, the strided window of the zero-padded input."""
    stride, pads, dilation, _, _ = cfg
    return _windows.offset_slices(x, w.shape[:x.ndim - 2], stride=stride, dilation=dilation, pads=pads)


def _acc_dtype(dtype):
    return jnp.promote_types(dtype, jnp.float32)


def _shift_fwd(x, w, cfg):
    acc = None
    for k, s in _offset_slices(x, w, cfg):
        s = s.astype(_acc_dtype(s.dtype))
        for c in range(w.shape[-2]):
            term = s[..., c:c + 1] * w[k + (c,)].astype(s.dtype)
            acc = term if acc is None else acc + term
    return acc.astype(x.dtype)


def _depthwise_fwd(x, w, cfg):
    mult = w.shape[-1] // x.shape[-1]
    if mult > 1:
        x = jnp.repeat(x, mult, axis=-1)
    acc = None
    for k, s in _offset_slices(x, w, cfg):
        term = s.astype(_acc_dtype(s.dtype)) * w[k + (0,)].astype(_acc_dtype(s.dtype))
        acc = term if acc is None else acc + term
    return acc.astype(x.dtype)


def _im2col_fwd(x, w, cfg):
    precision = cfg[4]
    # Columns (N, *out, K * C_in), offsets major, channels minor: w's own (*K, C_in, C_out) order.
    cols = jnp.concatenate([s for _, s in _offset_slices(x, w, cfg)], axis=-1)
    w2 = w.reshape(-1, w.shape[-1])
    y = lax.dot_general(cols, w2, (((cols.ndim - 1,), (0,)), ((), ())), precision=precision,
                        preferred_element_type=_acc_dtype(cols.dtype))
    return y.astype(x.dtype)


def _matmul_fwd(x, w, cfg):
    precision = cfg[4]
    (_, s), = _offset_slices(x, w, cfg)
    w2 = w.reshape(w.shape[-2:])
    y = lax.dot_general(s, w2, (((s.ndim - 1,), (0,)), ((), ())), precision=precision,
                        preferred_element_type=_acc_dtype(s.dtype))
    return y.astype(x.dtype)


def _out_shape(x, w, cfg):
    stride, pads, dilation, _, _ = cfg
    outs = (_args.out_size(n, k, s, d, lo, hi)
            for n, k, s, d, (lo, hi) in zip(x.shape[1:-1], w.shape[:x.ndim - 2], stride, dilation, pads))
    return (x.shape[0], *outs, w.shape[-1])


def _onednn_fwd(x, w, cfg):
    return _onednn.conv_fwd(x, w, cfg, _out_shape(x, w, cfg))


_FWD = {"xla": _xla_fwd, "onednn": _onednn_fwd, "im2col": _im2col_fwd, "shift": _shift_fwd, "depthwise": _depthwise_fwd, "matmul": _matmul_fwd}


def _block_size(x):
    per_sample = math.prod(x.shape[1:]) * x.dtype.itemsize
    nb = max(1, min(_BLOCK_MAX, _BLOCK_BYTES // max(per_sample, 1)))
    return 1 << (nb.bit_length() - 1)  # a power of two


def _blocked_dw(x, w, dy, cfg):
    """Kernel gradient as XLA's kernel-gradient conv on batch blocks, summed in batch order."""
    nb, n = _block_size(x), x.shape[0]
    dw = None
    for b in range(0, n, nb):
        _, vjp = jax.vjp(lambda w_: _xla_fwd(x[b:b + nb], w_, cfg), w)
        part = vjp(dy[b:b + nb])[0].astype(_acc_dtype(w.dtype))
        dw = part if dw is None else dw + part
    return dw.astype(w.dtype)


def _col2im_dx(x_shape, w, dy, cfg):
    """Input gradient as one dot and a col2im: ``z = dy @ w^T`` gives, per output pixel, the
    (K * C_in) contributions to the inputs it read; each kernel offset's slice of ``z`` goes back to
    its input positions by one strided pad (negative pads crop the conv's padding), and they add.

    XLA-CPU's own input gradient is a transposed convolution with C_in output channels, slow when
    C_in is tiny (LeNet-5 conv2, C_in = 6: 8.7 ms vs 4.9 ms here); above about 8 channels the 2-D
    pads cost more than they save (16 channels: 10 ms vs 52 ms).
    """
    stride, pads, dilation, _, precision = cfg
    kernel, c_in = w.shape[:len(stride)], w.shape[-2]
    z = lax.dot_general(dy, w.reshape(-1, w.shape[-1]), (((dy.ndim - 1,), (1,)), ((), ())), precision=precision,
                        preferred_element_type=_acc_dtype(dy.dtype))
    z = z.reshape(*dy.shape[:-1], math.prod(kernel), c_in)
    parts = [(k, z[..., i, :]) for i, k in enumerate(itertools.product(*map(range, kernel)))]
    dx = _windows.scatter_offsets(parts, x_shape[1:-1], stride=stride, dilation=dilation, pads=pads)
    return dx.astype(dy.dtype)


def _dx(x, w, dy, cfg):
    """The input gradient for the custom formulations: col2im for few input channels, else XLA's."""
    if cfg[3] == 1 and x.shape[-1] <= _COL2IM_MAX_CIN:
        return _col2im_dx(x.shape, w, dy, cfg)
    return jax.vjp(lambda x_: _xla_fwd(x_, w, cfg), x)[1](dy)[0]


def _onednn_dx(x, w, dy, cfg):
    """The ``onednn`` formulation's input gradient: oneDNN's, except two shapes where jcnn's own is faster.

    oneDNN 3.2 runs the input gradient as a forward convolution with C_in output
    channels, slow when C_in is tiny (LeNet-5 conv1, C_in = 1: 5.2 ms vs 3.9 ms
    for col2im, one thread), and its depthwise input gradient at about half the
    speed of the elementwise transpose (MobileNet 3x3 28x28x128: 7.6 ms vs 3.4 ms).
    """
    if cfg[3] == 1 and x.shape[-1] <= _COL2IM_MAX_CIN:
        return _col2im_dx(x.shape, w, dy, cfg)
    if _supports("depthwise", x, w, cfg):
        return jax.vjp(lambda x_: _depthwise_fwd(x_, w, cfg), x)[1](dy)[0]
    return _onednn.conv_dx(dy, w, cfg, x.shape)


# ----------------------------------------------------------------------------
# Support and selection.

def _supports(name, x, w, cfg) -> bool:
    stride, pads, dilation, groups, _ = cfg
    c_in, ci_g, c_out = x.shape[-1], w.shape[-2], w.shape[-1]
    kernel = w.shape[:x.ndim - 2]
    if name in ("xla", "blocked"):
        return True
    if name == "onednn":
        return _onednn.available() and _onednn.supports(x, w, cfg)
    if name in ("shift", "im2col"):
        return groups == 1 and c_in <= _SHIFT_MAX_CIN
    if name == "matmul":
        return groups == 1 and all(k == 1 for k in kernel)
    if name == "depthwise":
        return groups == c_in > 1 and ci_g == 1 and c_out % c_in == 0
    return False


def _single_cpu_device() -> bool:
    # XLA cannot partition a custom call: with the batch sharded over several CPU devices it would
    # gather the whole batch around every oneDNN call (correct, but each device computes everything).
    # So ``auto`` takes oneDNN only in single-device processes; ``impl='onednn'`` still forces it.
    try:
        return len(jax.local_devices(backend="cpu")) == 1 and jax.process_count() == 1
    except RuntimeError:
        return False


def _select_cpu(x, w, cfg) -> str:
    """The CPU rule (numbers: experiments/benchmarks/results/conv_cpu_*.md)."""
    # With XLA's own convolution kernels (jcnn's XLA-CPU setting), a 1x1 conv is
    # faster as XLA's conv than as a dot; under YNNPACK convolutions it is not.
    names = ("onednn", "im2col", "depthwise") if _xla_cpu.active() else ("onednn", "matmul", "im2col", "depthwise")
    if not _single_cpu_device():
        names = names[1:]
    for name in names:
        if _supports(name, x, w, cfg):
            return name
    nb = _block_size(x)
    return "blocked" if _BLOCK_MIN <= nb < x.shape[0] else "xla"


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_custom(x, w, name, cfg):
    return _FWD.get(name, _xla_fwd)(x, w, cfg)


def _conv_custom_fwd(x, w, name, cfg):
    return _conv_custom(x, w, name, cfg), (x, w)


def _conv_custom_bwd(name, cfg, res, dy):
    x, w = res
    if name == "onednn":
        return _onednn_dx(x, w, dy, cfg).astype(x.dtype), _onednn.conv_dw(x, dy, cfg, w.shape)
    if name in ("blocked", "shift", "im2col"):
        # shift's own autodiff (75 pads of channel sums) loses to col2im / XLA's input
        # gradient, and its kernel gradient to the blocked one (LeNet conv1).
        return _dx(x, w, dy, cfg).astype(x.dtype), _blocked_dw(x, w, dy, cfg)
    _, vjp = jax.vjp(lambda x_, w_: _FWD[name](x_, w_, cfg), x, w)
    return vjp(dy)


_conv_custom.defvjp(_conv_custom_fwd, _conv_custom_bwd)


def _run(name, x, w, cfg):
    return _xla_fwd(x, w, cfg) if name == "xla" else _conv_custom(x, w, name, cfg)


def conv_impl_call(x, w, *, stride, pads, dilation, groups, precision, impl, fn="conv"):
    """``conv``'s core (no bias, no flip): the same result as XLA's conv, via the chosen formulation."""
    impl = default_impl() if impl is None else impl
    _check_impl(impl, fn)
    dtype = jnp.result_type(x, w)
    x, w = x.astype(dtype), w.astype(dtype)
    cfg = (tuple(stride), tuple(tuple(p) for p in pads), tuple(dilation), int(groups), precision)
    if impl == "xla":
        return _xla_fwd(x, w, cfg)
    if impl != "auto":
        if impl == "onednn" and not _onednn.available():
            raise ValueError(f"{fn}: impl='onednn' needs jcnn's oneDNN extension, which is {_onednn.status()}; "
                             f"use impl='auto' or 'xla'")
        if not _supports(impl, x, w, cfg):
            raise ValueError(f"{fn}: impl={impl!r} does not support x {tuple(x.shape)}, w {tuple(w.shape)}, "
                             f"groups={groups}; use impl='auto' or 'xla'")
        return _run(impl, x, w, cfg)
    name = _select_cpu(x, w, cfg)
    if name == "xla":
        return _xla_fwd(x, w, cfg)
    # The CPU rule applies only when lowering for CPU; every other platform
    # lowers XLA's convolution, exactly as without this module.
    return lax.platform_dependent(x, w, cpu=lambda a, b: _run(name, a, b, cfg),
                                  default=lambda a, b: _xla_fwd(a, b, cfg))


def select(x, w, *, stride=1, padding=0, dilation=1, groups=1) -> str:
    """The formulation ``impl='auto'`` uses on CPU for these shapes (for benchmarks and tests)."""
    nd = x.ndim - 2
    kernel = tuple(w.shape[:nd])
    stride = _args.as_tuple(stride, nd, "stride", "select")
    dilation = _args.as_tuple(dilation, nd, "dilation", "select")
    pads = _args.resolve_padding(padding, x.shape[1:-1], kernel, stride, dilation, "select")
    return _select_cpu(x, w, (stride, pads, dilation, groups, None))
