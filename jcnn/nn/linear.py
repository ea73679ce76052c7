"""Dense and Flatten layers."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jcnn import ops
from jcnn.nn import init as init_lib
from jcnn.nn._dtype import cast


class Dense(nnx.Module):
    """Fully connected layer: owns ``kernel`` (C_in, C_out) and ``bias`` (C_out,).

    Call: ``x`` (..., C_in) -> (..., C_out), see :func:`jcnn.ops.dense`.
    """

    def __init__(self, in_channels, out_channels, *, use_bias=True, kernel_init="he_normal", bias_init="zeros",
                 dtype=None, param_dtype=jnp.float32, precision=None, rngs: nnx.Rngs):
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"Dense: {name}={v!r} must be a positive int")
        self.kernel = nnx.Param(init_lib.get(kernel_init)(rngs.params(), (in_channels, out_channels), param_dtype))
        self.bias = nnx.Param(init_lib.get(bias_init)(rngs.params(), (out_channels,), param_dtype)) if use_bias else None
        self.in_channels, self.out_channels, self.dtype, self.precision = in_channels, out_channels, dtype, precision

    def __call__(self, x):
        bias = None if self.bias is None else self.bias[...]
        x, w, b = cast(self.dtype, x, self.kernel[...], bias)
        return ops.dense(x, w, b, precision=self.precision)


class Flatten(nnx.Module):
    """(N, *dims) -> (N, prod(dims)), row-major (channels-last order)."""

    def __call__(self, x):
        return x.reshape(x.shape[0], -1)
