"""Normalisation: batch normalisation and AlexNet's local response normalisation."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jcnn.ops import _args


def _check_channels(fn, x, **vectors):
    c = x.shape[-1]
    for name, v in vectors.items():
        if v is not None and tuple(jnp.shape(v)) != (c,):
            raise ValueError(f"{fn}: {name} must have shape ({c},) = (C,) for x {tuple(x.shape)}, got {tuple(jnp.shape(v))}")


def batch_moments(x):
    """Mean and biased variance per channel over every axis but the last.

    Args:
      x: (N, *spatial, C).
    Returns:
      ``(mean, var)``, each (C,), computed in at least float32.
    """
    _args.check_float("batch_moments", x=x)
    if x.ndim < 2:
        raise ValueError(f"batch_moments: x must have rank >= 2 (N, ..., C), got shape {tuple(x.shape)}")
    axes = tuple(range(x.ndim - 1))
    xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mean = jnp.mean(xf, axis=axes)
    # E[(x - mean)^2], not E[x^2] - mean^2: the latter cancels catastrophically.
    var = jnp.mean(jnp.square(xf - mean), axis=axes)
    return mean, var


def batch_norm(x, mean, var, scale=None, bias=None, *, eps=1e-5):
    """``(x - mean) / sqrt(var + eps) * scale + bias``, per channel.

    Args:
      x: (N, *spatial, C) or (N, C). mean, var: (C,). scale, bias: (C,) or None.
      eps: added to the variance.
    Returns:
      the shape and dtype of ``x``.
    """
    fn = "batch_norm"
    _args.check_float(fn, x=x, mean=mean, var=var, scale=scale, bias=bias)
    _check_channels(fn, x, mean=mean, var=var, scale=scale, bias=bias)
    if not eps > 0:
        raise ValueError(f"{fn}: eps={eps!r} must be positive")
    inv = lax.rsqrt(var + eps)
    if scale is not None:
        inv = inv * scale
    y = (x - mean) * inv
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype)


def batch_norm_train(x, scale=None, bias=None, *, eps=1e-5):
    """Training-mode batch norm: normalise ``x`` with its own batch moments; returns ``(y, mean, var)``.

    The forward is ``batch_norm(x, *batch_moments(x), scale, bias, eps=eps)``;
    the backward is written by hand (a ``jax.custom_vjp``) instead of being
    differentiated through the moments: with ``xhat = (x - mean) / sqrt(var + eps)``
    and ``m`` the number of values per channel,
    ``dx = scale / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))``
    (plus the terms of any cotangent of the returned ``mean``/``var``),
    ``dscale = sum(dy * xhat)``, ``dbias = sum(dy)``: two reductions and one
    elementwise pass, about 2x faster than autodiff's graph on XLA-CPU.

    Args:
      x: (N, *spatial, C) or (N, C). scale, bias: (C,) or None.
    Returns:
      ``y`` with the shape and dtype of ``x``; ``mean``, ``var`` (C,) in at least float32
      (the biased variance, as :func:`batch_moments`).
    """
    fn = "batch_norm_train"
    _args.check_float(fn, x=x, scale=scale, bias=bias)
    if x.ndim < 2:
        raise ValueError(f"{fn}: x must have rank >= 2 (N, ..., C), got shape {tuple(x.shape)}")
    _check_channels(fn, x, scale=scale, bias=bias)
    if not eps > 0:
        raise ValueError(f"{fn}: eps={eps!r} must be positive")
    c, acc = x.shape[-1], jnp.promote_types(x.dtype, jnp.float32)
    s = jnp.ones((c,), acc) if scale is None else scale
    b = jnp.zeros((c,), acc) if bias is None else bias
    return _bn_train(x, s, b, float(eps))


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _bn_train(x, scale, bias, eps):
    mean, var = batch_moments(x)
    return batch_norm(x, mean, var, scale, bias, eps=eps), mean, var


def _bn_train_fwd(x, scale, bias, eps):
    y, mean, var = _bn_train(x, scale, bias, eps)
    return (y, mean, var), (x, mean, var, scale, bias)


def _bn_train_bwd(eps, res, cts):
    x, mean, var, scale, bias = res
    dy, dmean, dvar = cts
    axes = tuple(range(x.ndim - 1))
    m = x.size // x.shape[-1]
    acc = mean.dtype
    inv = lax.rsqrt(var + eps)
    xc = x.astype(acc) - mean
    dy = dy.astype(acc)
    db = jnp.sum(dy, axis=axes)
    dxc = jnp.sum(dy * xc, axis=axes)  # dscale = dxc * inv
    s = scale.astype(acc)
    # The y path, then the cotangents of the returned moments (zero in a loss that ignores them).
    dx = (inv * s) * (dy - db / m - xc * (dxc * inv * inv / m)) + dmean / m + xc * (2 * dvar / m)
    return dx.astype(x.dtype), (dxc * inv).astype(scale.dtype), db.astype(bias.dtype)


_bn_train.defvjp(_bn_train_fwd, _bn_train_bwd)


def lrn(x, *, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3).

    ``y_c = x_c / (k + alpha * sum_{c'} x_{c'}^2) ** beta``, the sum running over
    ``size`` adjacent channels centred on ``c`` (``size // 2`` below,
    ``(size - 1) // 2`` above, clipped at the ends).

    Convention: ``alpha`` is the paper's and is **not** divided by ``size``;
    the defaults are the paper's (k=2, n=5, alpha=1e-4, beta=0.75). PyTorch's
    ``LocalResponseNorm`` and Caffe divide by ``size``: pass
    ``alpha=alpha_torch / size`` to reproduce them.

    Args:
      x: (N, *spatial, C).
    Returns:
      the shape of ``x``.
    """
    fn = "lrn"
    _args.check_float(fn, x=x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: x must have rank >= 2 (N, ..., C), got shape {tuple(x.shape)}")
    if not _args.is_int(size) or size < 1:
        raise ValueError(f"{fn}: size={size!r} must be a positive int")
    window = (1,) * (x.ndim - 1) + (size,)
    pads = ((0, 0),) * (x.ndim - 1) + ((size // 2, (size - 1) // 2),)
    # NumPy init value: concrete under jit, so lax uses the differentiable reduce_window_sum.
    sq = lax.reduce_window(jnp.square(x), np.array(0, x.dtype), lax.add, window, (1,) * x.ndim, pads)
    return x / jnp.power(k + alpha * sq, beta)


def standardize_images(images, *, mean, std, pad=0, dtype=jnp.float32):
    """Pixels to network input: scale to [0, 1], zero-pad, then ``(x - mean) / std`` per channel.

    The one home of input normalisation: the training step, ``jcnn.models.preprocess``
    and the predictors of trained runs call it, so a network sees the same numbers in
    training and afterwards. Padding is applied to the [0, 1] image (black borders, as
    LeNet-5's 28 -> 32 padding in LeCun et al. 1998, section II.B) before normalising.

    Args:
      images: (N, H, W, C) uint8 in [0, 255] (scaled by 1/255) or floating in [0, 1].
      mean, std: C values each (or one value for all channels), in [0, 1] pixel units.
      pad: pixels of zero padding added to each side of H and W.
      dtype: the result's dtype (the compute dtype).
    Returns:
      (N, H + 2 pad, W + 2 pad, C) of ``dtype``.
    """
    images = jnp.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"standardize_images: images must be (N, H, W, C), got shape {tuple(images.shape)}")
    c = images.shape[-1]
    mean_a, std_a = (np.asarray(v, np.float32).reshape(-1) for v in (mean, std))
    for name, v in (("mean", mean_a), ("std", std_a)):
        if v.shape[0] not in (1, c):
            raise ValueError(f"standardize_images: {name} has {v.shape[0]} values; images {tuple(images.shape)} "
                             f"have C={c} channels (give C values or one)")
    if np.any(std_a <= 0):
        raise ValueError(f"standardize_images: std={tuple(std_a.tolist())} must be positive")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"standardize_images: pad={pad!r} must be an int >= 0")
    if jnp.issubdtype(images.dtype, jnp.integer):
        x = images.astype(jnp.float32) * np.float32(1 / 255)
    elif jnp.issubdtype(images.dtype, jnp.floating):
        x = images.astype(jnp.float32)
    else:
        raise TypeError(f"standardize_images: images dtype {images.dtype} must be an integer (uint8) or float type")
    if pad:
        x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))  # (N, H + 2p, W + 2p, C)
    return ((x - mean_a) / std_a).astype(dtype)
