"""Plain-NumPy oracles for ``jcnn.ops``, written from the definitions.

Every function here loops over output positions and kernel (window) offsets
in Python, vectorised only over batch and channels, and computes in float64.
Nothing here imports jcnn: these are the independent references the tests
compare the ops against.

Layout matches jcnn: activations ``(N, *spatial, C)``, kernels
``(*K, C_in // groups, C_out)``. Padding is always given here as explicit
``(lo, hi)`` pairs; :func:`pads` turns the user-facing forms into pairs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


# ----------------------------------------------------------------------------
# Padding and sizes.

def same_pads(sizes, kernel, stride, dilation):
    """'same' as XLA/TensorFlow define it: output ``ceil(n / s)``, odd extra padding on the high side."""
    out = []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
        out.append((total // 2, total - total // 2))
    return out


def pads(padding, sizes, kernel, stride, dilation):
    """Any user-facing padding (int, per-dim ints, pairs, 'same', 'valid') -> a list of (lo, hi)."""
    nd = len(sizes)
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return [(0, 0)] * nd
        assert padding.lower() == "same", padding
        return same_pads(sizes, kernel, stride, dilation)
    if isinstance(padding, int):
        return [(padding, padding)] * nd
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def tup(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def out_len(n, k, s, d, lo, hi, ceil_mode=False):
    """Number of windows, PyTorch's rule: with ceil_mode the last window must start before ``n + lo``."""
    span = n + lo + hi - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= n + lo:
            out -= 1
        return out
    return span // s + 1


# ----------------------------------------------------------------------------
# Convolution.

def conv(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation ``y[n, p, o] = b[o] + sum_{k, i} x_pad[n, p*s + k*d, g(o)*Cg + i] w[k, i, o]``."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    nd = x.ndim - 2
    kernel = w.shape[:nd]
    stride, dilation = tup(stride, nd), tup(dilation, nd)
    pp = pads(padding, x.shape[1:-1], kernel, stride, dilation)
    xp = np.pad(x, [(0, 0), *pp, (0, 0)])
    outs = [out_len(n, k, s, d, lo, hi) for n, k, s, d, (lo, hi) in zip(x.shape[1:-1], kernel, stride, dilation, pp)]
    n, c_in, c_out = x.shape[0], x.shape[-1], w.shape[-1]
    cig, cog = c_in // groups, c_out // groups
    y = np.zeros((n, *outs, c_out))
    for p in itertools.product(*map(range, outs)):
        for k in itertools.product(*map(range, kernel)):
            idx = tuple(pi * si + ki * di for pi, ki, si, di in zip(p, k, stride, dilation))
            patch = xp[(slice(None), *idx)].reshape(n, groups, cig)  # (N, g, C_in/g)
            wk = w[k].reshape(cig, groups, cog)  # (C_in/g, g, C_out/g)
            y[(slice(None), *p)] += np.einsum("ngi,igo->ngo", patch, wk).reshape(n, c_out)
    return y if b is None else y + np.asarray(b, np.float64)


def conv_transpose(y, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Transposed convolution by scattering: input position ``p`` adds ``w[k] @ y[p]`` at ``p*s + k*d``.

    The scatter runs into a buffer with the forward conv's low padding in
    front; the result is that buffer with ``lo`` cropped from the front and cut
    to ``(n-1)*s - lo - hi + d*(k-1) + 1 + output_padding``. 'same' means the
    output is ``n * s``: the forward conv of an ``n*s`` input with 'same' padding.
    """
    y, w = np.asarray(y, np.float64), np.asarray(w, np.float64)
    nd = y.ndim - 2
    kernel = w.shape[:nd]
    stride, dilation, opad = tup(stride, nd), tup(dilation, nd), tup(output_padding, nd)
    sizes = y.shape[1:-1]
    if isinstance(padding, str) and padding.lower() == "same":
        pp = same_pads([n * s for n, s in zip(sizes, stride)], kernel, stride, dilation)
        outs = [n * s for n, s in zip(sizes, stride)]
    else:
        pp = pads(padding, sizes, kernel, stride, dilation)
        outs = [(n - 1) * s - lo - hi + d * (k - 1) + 1 + op
                for n, s, d, k, op, (lo, hi) in zip(sizes, stride, dilation, kernel, opad, pp)]
    n, c_out = y.shape[0], y.shape[-1]
    cig, cog = w.shape[-2], c_out // groups
    buf_len = [max(lo + o, (m - 1) * s + d * (k - 1) + 1)
               for o, (lo, _), m, s, d, k in zip(outs, pp, sizes, stride, dilation, kernel)]
    buf = np.zeros((n, *buf_len, cig * groups))
    for p in itertools.product(*map(range, sizes)):
        yp = y[(slice(None), *p)].reshape(n, groups, cog)  # (N, g, C_out/g)
        for k in itertools.product(*map(range, kernel)):
            idx = tuple(pi * si + ki * di for pi, ki, si, di in zip(p, k, stride, dilation))
            wk = w[k].reshape(cig, groups, cog)
            buf[(slice(None), *idx)] += np.einsum("ngo,igo->ngi", yp, wk).reshape(n, groups * cig)
    crop = tuple(slice(lo, lo + o) for (lo, _), o in zip(pp, outs))
    x = buf[(slice(None), *crop)]
    return x if b is None else x + np.asarray(b, np.float64)


# ----------------------------------------------------------------------------
# Pooling (PyTorch's definitions, generalised to (lo, hi) padding).

def _windows(sizes, window, stride, dilation, pp, ceil_mode):
    outs = [out_len(n, k, s, d, lo, hi, ceil_mode)
            for n, k, s, d, (lo, hi) in zip(sizes, window, stride, dilation, pp)]
    return outs


def _max_pool_setup(x, window, stride, padding, dilation, ceil_mode):
    """``(window, stride, dilation, sizes, pads, outs)`` of a max-pool call, by PyTorch's rules."""
    nd = x.ndim - 2
    window = tup(window, nd)
    stride = window if stride is None else tup(stride, nd)
    dilation = tup(dilation, nd)
    sizes = x.shape[1:-1]
    pp = pads(padding, sizes, window, stride, dilation)
    return window, stride, dilation, sizes, pp, _windows(sizes, window, stride, dilation, pp, ceil_mode)


def max_pool(x, window, *, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over the in-bounds window elements (padding is -inf, so it never wins)."""
    x = np.asarray(x, np.float64)
    window, stride, dilation, sizes, pp, outs = _max_pool_setup(x, window, stride, padding, dilation, ceil_mode)
    y = np.full((x.shape[0], *outs, x.shape[-1]), -np.inf)
    for p in itertools.product(*map(range, outs)):
        for k in itertools.product(*map(range, window)):
            idx = tuple(pi * si - lo + ki * di for pi, ki, si, di, (lo, _) in zip(p, k, stride, dilation, pp))
            if all(0 <= i < n for i, n in zip(idx, sizes)):
                y[(slice(None), *p)] = np.maximum(y[(slice(None), *p)], x[(slice(None), *idx)])
    return y


def max_pool_grad(x, dy, window, *, stride=None, padding=0, dilation=1, ceil_mode=False):
    """d sum(dy * max_pool(x)) / dx: each output's dy goes to the first in-bounds maximum of its window
    (window offsets in row-major order), summed where windows overlap."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    window, stride, dilation, sizes, pp, outs = _max_pool_setup(x, window, stride, padding, dilation, ceil_mode)
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[-1]):
            for p in itertools.product(*map(range, outs)):
                best, where = -np.inf, None
                for k in itertools.product(*map(range, window)):
                    idx = tuple(pi * si - lo + ki * di for pi, ki, si, di, (lo, _) in zip(p, k, stride, dilation, pp))
                    if all(0 <= i < m for i, m in zip(idx, sizes)) and (where is None or x[(n, *idx, c)] > best):
                        best, where = x[(n, *idx, c)], idx
                dx[(n, *where, c)] += dy[(n, *p, c)]
    return dx


def avg_pool(x, window, *, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """PyTorch's avg_pool: divisor = window clipped to the padded input (``count_include_pad``) or to the input."""
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    window = tup(window, nd)
    stride = window if stride is None else tup(stride, nd)
    sizes = x.shape[1:-1]
    pp = pads(padding, sizes, window, stride, (1,) * nd)
    outs = _windows(sizes, window, stride, (1,) * nd, pp, ceil_mode)
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for p in itertools.product(*map(range, outs)):
        start = [pi * si - lo for pi, si, (lo, _) in zip(p, stride, pp)]
        end = [min(st + k, n + hi) for st, k, n, (_, hi) in zip(start, window, sizes, pp)]
        padded_count = math.prod(e - st for st, e in zip(start, end))
        start = [max(st, 0) for st in start]
        end = [min(e, n) for e, n in zip(end, sizes)]
        total = x[(slice(None), *(slice(st, e) for st, e in zip(start, end)))].sum(axis=tuple(range(1, nd + 1)))
        count = padded_count if count_include_pad else math.prod(e - st for st, e in zip(start, end))
        y[(slice(None), *p)] = total / count
    return y


def constant_kernel_conv(x, window):
    """Depthwise 'valid' correlation of every channel with a constant ``1 / prod(window)`` kernel, stride = window."""
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    window = tup(window, nd)
    kern = np.full(window, 1.0 / math.prod(window))
    outs = [n // k for n, k in zip(x.shape[1:-1], window)]
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for p in itertools.product(*map(range, outs)):
        for k in itertools.product(*map(range, window)):
            idx = tuple(pi * ki_ + ki for pi, ki_, ki in zip(p, window, k))
            y[(slice(None), *p)] += kern[k] * x[(slice(None), *idx)]
    return y


# ----------------------------------------------------------------------------
# Normalisation.

def lrn(x, *, size, alpha, beta, k):
    """Krizhevsky et al.: ``x_c / (k + alpha * sum_{c' in [c - size//2, c + (size-1)//2]} x_c'^2) ** beta``."""
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    y = np.empty_like(x)
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c - 1, ch + (size - 1) // 2)
        s = (x[..., lo:hi + 1] ** 2).sum(-1)
        y[..., ch] = x[..., ch] / (k + alpha * s) ** beta
    return y


def lrn_torch(x, *, size, alpha, beta, k):
    """``torch.nn.functional.local_response_norm`` in NumPy.

    PyTorch pads the squared input with ``size // 2`` channels in front and
    ``(size - 1) // 2`` behind, averages over ``size`` channels (zeros counted),
    then ``div = (div * alpha + k) ** beta`` and returns ``x / div``.
    """
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    sq = np.concatenate([np.zeros(x.shape[:-1] + (size // 2,)), x**2,
                         np.zeros(x.shape[:-1] + ((size - 1) // 2,))], axis=-1)
    div = np.stack([sq[..., ch:ch + size].sum(-1) / size for ch in range(c)], axis=-1)
    return x / (div * alpha + k) ** beta


def batch_moments(x):
    x = np.asarray(x, np.float64)
    flat = x.reshape(-1, x.shape[-1])
    mean = flat.sum(0) / flat.shape[0]
    var = ((flat - mean) ** 2).sum(0) / flat.shape[0]
    return mean, var


def batch_norm(x, mean, var, scale, bias, eps):
    x = np.asarray(x, np.float64)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def dense(x, w, b=None):
    """``y[..., o] = b[o] + sum_i x[..., i] w[i, o]`` with an explicit loop over outputs."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    y = np.zeros(x.shape[:-1] + (w.shape[1],))
    for o in range(w.shape[1]):
        y[..., o] = (x * w[:, o]).sum(-1)
    return y if b is None else y + b


def correlate2d_valid(img, kern):
    """The seed's two-loop cross-correlation of one (H, W) image with one (K, K) kernel."""
    img, kern = np.asarray(img, np.float64), np.asarray(kern, np.float64)
    kh, kw = kern.shape
    out = np.zeros((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (img[i:i + kh, j:j + kw] * kern).sum()
    return out


# ----------------------------------------------------------------------------
# Comparison: float32 tight; half precisions loose against the float64 oracle.

RTOL = {"float32": 1e-5, "float64": 1e-12, "bfloat16": 2e-2, "float16": 4e-3}


def assert_close(actual, expected, dtype="float32", *, scale=None):
    """``|actual - expected| <= rtol * (|expected| + scale)`` with ``scale`` the oracle's max magnitude.

    The absolute part is relative to the largest value, since a sum of many
    terms can cancel to near zero while each term carried rounding error.
    """
    actual = np.asarray(np.asarray(actual).astype(np.float64))
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol = RTOL[dtype if isinstance(dtype, str) else np.dtype(dtype).name]
    scale = float(np.abs(expected).max(initial=1.0)) if scale is None else scale
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)
