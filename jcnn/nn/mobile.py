"""MobileNet blocks: depthwise-separable (Howard et al. 2017) and inverted residual (Sandler et al. 2018).

A depthwise 3x3 conv (``groups=C``: one 3x3 filter per channel, 9C weights)
filters space; a pointwise 1x1 conv (C*C_out weights) mixes channels. Their
cost is ``9C + C*C_out`` weights against ``9C*C_out`` for a full 3x3 conv.
"""

from __future__ import annotations

from flax import nnx

from jcnn.nn.blocks import ConvBNAct


def make_divisible(value, divisor=8, *, min_value=None):
    """Round a channel count to the nearest multiple of ``divisor``, never more than 10% down.

    MobileNet v2's width-multiplier rounding (the reference TensorFlow code
    and torchvision's ``_make_divisible``): ``make_divisible(32 * 0.75) == 24``,
    ``make_divisible(16 * 0.35) == 8``.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class DepthwiseSeparable(nnx.Module):
    """MobileNet v1's block (Howard et al. 2017, Fig. 3): depthwise 3x3 -> BN -> ReLU -> 1x1 -> BN -> ReLU.

    Parameters: ``9*C_in + 2*C_in`` (depthwise + BN) ``+ C_in*C_out + 2*C_out``
    (pointwise + BN); no conv biases.

    Call: ``x`` (N, H, W, C_in) -> (N, ceil(H/stride), ceil(W/stride), C_out).
    """

    def __init__(self, in_channels, out_channels, *, stride=1, activation="relu", kernel_init="he_normal_fan_out",
                 dtype=None, rngs: nnx.Rngs):
        kw = dict(activation=activation, kernel_init=kernel_init, dtype=dtype, rngs=rngs)
        self.depthwise = ConvBNAct(in_channels, in_channels, kernel_size=3, stride=stride, groups=in_channels, **kw)
        self.pointwise = ConvBNAct(in_channels, out_channels, kernel_size=1, padding=0, **kw)
        self.in_channels, self.out_channels = in_channels, out_channels

    def __call__(self, x):
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nnx.Module):
    """MobileNet v2's bottleneck (Sandler et al. 2018, Table 1): expand 1x1 -> depthwise 3x3 -> linear 1x1.

    ``1x1 conv (C_in -> t*C_in), BN, ReLU6 -> 3x3 depthwise /stride, BN, ReLU6
    -> 1x1 conv (t*C_in -> C_out), BN`` with no activation after the
    projection (the "linear bottleneck"), and ``x +`` that when
    ``stride == 1`` and ``C_in == C_out`` (the residual joins the thin
    bottlenecks, hence "inverted"). ``expand_ratio=1`` has no expansion conv
    (the first block of Table 2). ``zero_init_residual`` starts the last BN at scale 0.

    Call: ``x`` (N, H, W, C_in) -> (N, ceil(H/stride), ceil(W/stride), C_out).
    """

    def __init__(self, in_channels, out_channels, *, stride=1, expand_ratio=6, activation="relu6",
                 zero_init_residual=False, kernel_init="he_normal_fan_out", dtype=None, rngs: nnx.Rngs):
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride={stride!r} must be 1 or 2")
        hidden = int(round(in_channels * expand_ratio))
        kw = dict(kernel_init=kernel_init, dtype=dtype, rngs=rngs)
        self.expand = (ConvBNAct(in_channels, hidden, kernel_size=1, padding=0, activation=activation, **kw)
                       if expand_ratio != 1 else None)
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size=3, stride=stride, groups=hidden, activation=activation,
                                   **kw)
        self.project = ConvBNAct(hidden, out_channels, kernel_size=1, padding=0, activation=None,
                                 zero_init_scale=zero_init_residual, **kw)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.in_channels, self.out_channels, self.hidden_channels = in_channels, out_channels, hidden

    def __call__(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.use_residual else y
