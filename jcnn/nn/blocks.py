"""Plain convolutional blocks: conv -> BatchNorm -> activation, and a VGG stage.

Residual, Inception and mobile blocks live in their own files
(``residual.py``, ``inception.py``, ``mobile.py``).
"""

from __future__ import annotations

from flax import nnx

from jcnn.nn.activations import Activation
from jcnn.nn.conv import Conv
from jcnn.nn.norm import BatchNorm
from jcnn.nn.pool import MaxPool


class ConvBNAct(nnx.Module):
    """Conv -> BatchNorm -> activation (the BN sits after the conv, before the activation).

    The conv has no bias when BatchNorm follows: BN's shift makes it redundant,
    and its true gradient is zero (only rounding noise, which Adam amplifies).
    ``norm=False`` gives conv (with bias) -> activation. ``padding`` defaults
    to ``'same'``-like ``(kernel_size - 1) // 2 * dilation`` (odd kernels).

    Call: ``x`` (N, *spatial, C_in) -> (N, *out, C_out).
    """

    def __init__(self, in_channels, out_channels, *, kernel_size=3, stride=1, padding=None, dilation=1, groups=1,
                 norm=True, activation="relu", kernel_init="he_normal", bn_momentum=0.9, bn_eps=1e-5,
                 zero_init_scale=False, dtype=None, rngs: nnx.Rngs):
        if padding is None:
            k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
            padding = (k - 1) // 2 * dilation
        self.conv = Conv(in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, use_bias=not norm, kernel_init=kernel_init, dtype=dtype,
                         rngs=rngs)
        self.bn = (BatchNorm(out_channels, momentum=bn_momentum, eps=bn_eps, scale_init=0.0 if zero_init_scale else 1.0,
                             dtype=dtype) if norm else None)
        self.act = Activation(activation) if activation is not None else None

    def __call__(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return x if self.act is None else self.act(x)


class VGGStage(nnx.Module):
    """``num_convs`` x [conv 3x3 (pad 1) -> (BN) -> ReLU], then 2x2/2 max pooling (Simonyan & Zisserman 2015).

    ``kernel_sizes`` overrides the 3x3 per conv (configuration C uses 1x1 for
    the last conv of stages 3-5). Call: (N, H, W, C_in) -> (N, H/2, W/2, C_out).
    """

    def __init__(self, in_channels, out_channels, *, num_convs, kernel_sizes=None, batch_norm=False, pool=True,
                 kernel_init="he_normal", dtype=None, rngs: nnx.Rngs):
        kernel_sizes = kernel_sizes or (3,) * num_convs
        if len(kernel_sizes) != num_convs:
            raise ValueError(f"VGGStage: kernel_sizes={kernel_sizes!r} must have num_convs={num_convs} entries")
        self.convs = nnx.List([
            ConvBNAct(in_channels if i == 0 else out_channels, out_channels, kernel_size=k, norm=batch_norm,
                      kernel_init=kernel_init, dtype=dtype, rngs=rngs)
            for i, k in enumerate(kernel_sizes)
        ])
        self.pool = MaxPool(2) if pool else None

    def __call__(self, x):
        for conv in self.convs:
            x = conv(x)
        return x if self.pool is None else self.pool(x)
