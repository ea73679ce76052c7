"""MobileNet v1 (Howard et al. 2017) and MobileNet v2 (Sandler et al. 2018).

v1 (Table 1), input (N, 224, 224, 3): conv 3x3/2 32 -> 13 depthwise-separable
blocks (64, 128/2, 128, 256/2, 256, 512/2, 5 x 512, 1024/2, 1024) -> 7x7x1024
-> global average pool -> fc. Width multiplier ``width`` (alpha) scales every
width as ``int(c * width)`` (the reference Keras code's rounding).

v2 (Table 2), input (N, 224, 224, 3): conv 3x3/2 32 -> inverted residual
bottlenecks (t, c, n, s) of :data:`V2_CONFIG` -> conv 1x1 1280 -> 7x7x1280
-> global average pool -> dropout 0.2 -> fc (the paper's final 1x1 conv on
the 1x1 map, written as a dense layer). Widths scale with ``width`` rounded
by :func:`jcnn.nn.make_divisible` (8); the last conv stays 1280 for
``width <= 1`` (torchvision's rule). Dropout 0.2 is torchvision's; the paper
names none.

Both use a global average pool where the papers write "Avg Pool 7x7", so
any input of at least 32x32 works (e.g. 32x32 gives a 1x1 map before it).
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn
from jcnn.models.registry import IMAGENET, register

#: Howard et al. 2017, Table 1: (output channels, stride) of the 13 depthwise-separable blocks.
V1_CONFIG = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

#: Sandler et al. 2018, Table 2: (expansion t, channels c, repeats n, first stride s) per sequence.
V2_CONFIG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1))

WIDTHS_V1 = (1.0, 0.75, 0.5, 0.25)


def _check_input(name, x, in_channels):
    if x.ndim != 4 or x.shape[-1] != in_channels:
        raise ValueError(f"{name}: input must be (N, H, W, {in_channels}), got {tuple(x.shape)} at layer 'stem'")


class MobileNetV1(nnx.Module):
    """MobileNet v1: ``stem`` conv-BN-ReLU, ``blocks`` (13 :class:`jcnn.nn.DepthwiseSeparable`), ``pool``, ``fc``.

    Call: ``x`` (N, H, W, C) -> logits (N, num_classes); H/32 x W/32 before the pool.
    """

    def __init__(self, *, num_classes=1000, in_channels=3, width=1.0, dropout=0.0,
                 kernel_init="he_normal_fan_out", rngs: nnx.Rngs):
        if not 0.0 < width <= 1.0:
            raise ValueError(f"mobilenet_v1: width={width!r} must be in (0, 1] (the paper uses {WIDTHS_V1})")
        self.in_channels = in_channels
        cin = int(32 * width)
        self.stem = nn.ConvBNAct(in_channels, cin, kernel_size=3, stride=2, kernel_init=kernel_init, rngs=rngs)
        blocks = []
        for c, s in V1_CONFIG:
            blocks.append(nn.DepthwiseSeparable(cin, int(c * width), stride=s, kernel_init=kernel_init, rngs=rngs))
            cin = int(c * width)
        self.blocks = nnx.List(blocks)  # (N, H/32, W/32, 1024 * width)
        self.pool = nn.GlobalAvgPool()
        self.dropout = nn.Dropout(dropout, rngs=rngs)  # 0 in the paper; Keras uses 1e-3
        self.fc = nn.Dense(cin, num_classes, kernel_init="torch_default", rngs=rngs)

    def __call__(self, x):
        _check_input("mobilenet_v1", x, self.in_channels)
        x = self.stem(x)
        for blk in self.blocks:
            x = blk(x)
        return self.fc(self.dropout(self.pool(x)))


class MobileNetV2(nnx.Module):
    """MobileNet v2: ``stem``, ``blocks`` (17 :class:`jcnn.nn.InvertedResidual`), ``head`` 1x1 conv, ``pool``, ``fc``.

    Call: ``x`` (N, H, W, C) -> logits (N, num_classes); H/32 x W/32 before the pool.
    """

    def __init__(self, *, num_classes=1000, in_channels=3, width=1.0, dropout=0.2, last_channels=1280,
                 zero_init_residual=False, kernel_init="he_normal_fan_out", rngs: nnx.Rngs):
        if not width > 0:
            raise ValueError(f"mobilenet_v2: width={width!r} must be positive")
        self.in_channels = in_channels
        cin = nn.make_divisible(32 * width)
        self.stem = nn.ConvBNAct(in_channels, cin, kernel_size=3, stride=2, activation="relu6",
                                 kernel_init=kernel_init, rngs=rngs)  # (N, H/2, W/2, 32)
        blocks = []
        for t, c, n, s in V2_CONFIG:
            cout = nn.make_divisible(c * width)
            for i in range(n):
                blocks.append(nn.InvertedResidual(cin, cout, stride=s if i == 0 else 1, expand_ratio=t,
                                                  zero_init_residual=zero_init_residual, kernel_init=kernel_init,
                                                  rngs=rngs))
                cin = cout
        self.blocks = nnx.List(blocks)  # (N, H/32, W/32, 320 * width)
        last = nn.make_divisible(last_channels * max(1.0, width))
        self.head = nn.ConvBNAct(cin, last, kernel_size=1, padding=0, activation="relu6", kernel_init=kernel_init,
                                 rngs=rngs)  # (N, H/32, W/32, 1280)
        self.pool = nn.GlobalAvgPool()  # (N, 1280)
        self.dropout = nn.Dropout(dropout, rngs=rngs)
        self.fc = nn.Dense(last, num_classes, kernel_init="torch_default", rngs=rngs)

    def __call__(self, x):
        _check_input("mobilenet_v2", x, self.in_channels)
        x = self.stem(x)
        for blk in self.blocks:
            x = blk(x)
        return self.fc(self.dropout(self.pool(self.head(x))))


@register(input_shape=(224, 224, 3), **IMAGENET, published_params=4_231_976,
          paper="Howard et al. 2017, Table 1 (4.2M)",
          notes="width multiplier in {1.0, 0.75, 0.5, 0.25}; global average pool")
def mobilenet_v1(*, num_classes=1000, in_channels=3, width=1.0, dropout=0.0, rngs):
    """MobileNet v1 at width ``width``: (N, 224, 224, 3) -> (N, num_classes)."""
    return MobileNetV1(num_classes=num_classes, in_channels=in_channels, width=width, dropout=dropout, rngs=rngs)


@register(input_shape=(224, 224, 3), **IMAGENET, published_params=3_504_872,
          paper="Sandler et al. 2018, Table 2 (3.4M)",
          notes="inverted residuals, ReLU6, make_divisible(8) widths, dropout 0.2 (torchvision)")
def mobilenet_v2(*, num_classes=1000, in_channels=3, width=1.0, dropout=0.2, zero_init_residual=False, rngs):
    """MobileNet v2 at width ``width``: (N, 224, 224, 3) -> (N, num_classes)."""
    return MobileNetV2(num_classes=num_classes, in_channels=in_channels, width=width, dropout=dropout,
                       zero_init_residual=zero_init_residual, rngs=rngs)
