"""Dense layers and the 1x1 ("pointwise") convolution, which is a dense layer at every pixel."""

from __future__ import annotations

import jax.numpy as jnp

from jcnn.ops import _args
from jcnn.ops.conv import conv


def _check_w2(fn, x, w, b):
    _args.check_float(fn, x=x, w=w, b=b)
    if w.ndim != 2:
        raise ValueError(f"{fn}: w must have shape (C_in, C_out), got {tuple(w.shape)}")
    if x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"{fn}: x's last dim must equal C_in={w.shape[0]}; {_args.shape_str('x', x, 'w', w)}")
    if b is not None and tuple(b.shape) != (w.shape[1],):
        raise ValueError(f"{fn}: b must have shape ({w.shape[1]},) = (C_out,), got {tuple(b.shape)}")


def dense(x, w, b=None, *, precision=None):
    """``x @ w + b`` over the last axis.

    Args:
      x: (..., C_in). w: (C_in, C_out). b: (C_out,) or None.
    Returns:
      (..., C_out).
    """
    _check_w2("dense", x, w, b)
    y = jnp.matmul(x, w.astype(jnp.result_type(x, w)), precision=precision)
    return y if b is None else y + b.astype(y.dtype)


def pointwise_conv(x, w, b=None, *, precision=None):
    """A 1x1 convolution: mixes channels, keeps the spatial size (Lin, Chen & Yan 2014, section 3.1).

    This is :func:`jcnn.ops.conv` with a kernel of size 1 in every spatial dim;
    its value equals :func:`dense` applied at every pixel.

    Args:
      x: (N, *spatial, C_in). w: (C_in, C_out). b: (C_out,) or None.
    Returns:
      (N, *spatial, C_out).
    """
    fn = "pointwise_conv"
    nd = _args.spatial_rank(x, fn)
    _check_w2(fn, x, w, b)
    return conv(x, w.reshape((1,) * nd + tuple(w.shape)), b, precision=precision)
