"""Convolution layers: own a kernel and a bias, call :func:`jcnn.ops.conv` / :func:`jcnn.ops.conv_transpose`."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jcnn import ops
from jcnn.nn import init as init_lib
from jcnn.nn._dtype import cast
from jcnn.ops import _args


def _kernel_size(kernel_size, cls):
    """An int means 2D; a tuple's length is the number of spatial dims."""
    nd = 2 if _args.is_int(kernel_size) else len(kernel_size) if isinstance(kernel_size, (tuple, list)) else 0
    if nd not in (1, 2, 3):
        raise ValueError(f"{cls}: kernel_size={kernel_size!r} must be an int (2D) or a tuple of 1, 2 or 3 ints")
    return _args.as_tuple(kernel_size, nd, "kernel_size", cls)


def _check_channels(cls, in_channels, out_channels, groups):
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
        if not _args.is_int(v) or v < 1:
            raise ValueError(f"{cls}: {name}={v!r} must be a positive int")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{cls}: groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")


class Conv(nnx.Module):
    """Convolution layer (cross-correlation; ``flip=True`` for true convolution).

    Owns ``kernel`` (*K, C_in // groups, C_out) and ``bias`` (C_out,). The
    rank is taken from ``kernel_size``: an int is 2D, a tuple of 1-3 ints sets it.
    Depthwise: ``groups=in_channels``.

    Call: ``x`` (N, *spatial, C_in) -> (N, *out, C_out), see :func:`jcnn.ops.conv`.
    """

    def __init__(self, in_channels, out_channels, *, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 flip=False, use_bias=True, kernel_init="he_normal", bias_init="zeros", dtype=None,
                 param_dtype=jnp.float32, precision=None, rngs: nnx.Rngs):
        _check_channels("Conv", in_channels, out_channels, groups)
        k = _kernel_size(kernel_size, "Conv")
        nd = len(k)
        # Validate hyperparameters now, not at the first call.
        _args.as_tuple(stride, nd, "stride", "Conv")
        _args.as_tuple(dilation, nd, "dilation", "Conv")
        _args.as_padding(padding, nd, "Conv")
        shape = (*k, in_channels // groups, out_channels)
        self.kernel = nnx.Param(init_lib.get(kernel_init)(rngs.params(), shape, param_dtype))
        self.bias = nnx.Param(init_lib.get(bias_init)(rngs.params(), (out_channels,), param_dtype)) if use_bias else None
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.dilation, self.groups, self.flip = stride, padding, dilation, groups, flip
        self.dtype, self.precision = dtype, precision

    def __call__(self, x):
        bias = None if self.bias is None else self.bias[...]
        x, w, b = cast(self.dtype, x, self.kernel[...], bias)
        return ops.conv(x, w, b, stride=self.stride, padding=self.padding, dilation=self.dilation,
                        groups=self.groups, flip=self.flip, precision=self.precision)


class ConvTranspose(nnx.Module):
    """Transposed convolution: the input gradient of a :class:`Conv` with the same kernel layout.

    Owns ``kernel`` (*K, C_out // groups, C_in) -- the kernel of the forward
    convolution that maps ``out_channels`` back to ``in_channels`` -- and ``bias``
    (C_out,). So ``ConvTranspose(in, out)`` maps ``in`` channels to ``out``
    channels, like PyTorch's ``ConvTranspose2d``.

    Call: ``x`` (N, *spatial, C_in) -> (N, *out, C_out) with
    ``out = (n - 1)*stride - lo - hi + dilation*(K - 1) + 1 + output_padding``.
    """

    def __init__(self, in_channels, out_channels, *, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, groups=1, use_bias=True, kernel_init="he_normal", bias_init="zeros", dtype=None,
                 param_dtype=jnp.float32, precision=None, rngs: nnx.Rngs):
        _check_channels("ConvTranspose", in_channels, out_channels, groups)
        k = _kernel_size(kernel_size, "ConvTranspose")
        shape = (*k, out_channels // groups, in_channels)
        self.kernel = nnx.Param(init_lib.get(kernel_init)(rngs.params(), shape, param_dtype))
        self.bias = nnx.Param(init_lib.get(bias_init)(rngs.params(), (out_channels,), param_dtype)) if use_bias else None
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.dilation, self.groups, self.dtype, self.precision = dilation, groups, dtype, precision

    def __call__(self, x):
        bias = None if self.bias is None else self.bias[...]
        x, w, b = cast(self.dtype, x, self.kernel[...], bias)
        return ops.conv_transpose(x, w, b, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding, dilation=self.dilation,
                                  groups=self.groups, precision=self.precision)
