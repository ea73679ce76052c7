"""Residual blocks (He et al. 2015/2016): basic block, 1x1-3x3-1x1 bottleneck, option-A shortcut, dilated block.

Every block computes ``relu(F(x) + shortcut(x))``. The shortcut is the
identity when the shapes agree; otherwise (stride > 1 or a change of width)
it is option A (stride-s subsampling + zero channel padding, no parameters;
the CIFAR networks of section 4.2) or option B (a 1x1 projection conv + BN,
the ImageNet networks). ``zero_init_residual=True`` starts the last BN of
``F`` at scale 0, so every block starts as its shortcut (Goyal et al. 2017).
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jcnn.nn.activations import Activation
from jcnn.nn.blocks import ConvBNAct
from jcnn.ops import _args

SHORTCUTS = ("A", "B")


class ShortcutA(nnx.Module):
    """He et al. 2015's option A: identity with stride-``s`` subsampling and zero-padded extra channels.

    No parameters. Output position ``i`` reads input position ``s*i``: the
    centre of the window a 3x3/s conv with padding 1 reads for that position.
    The new channels (``out_channels - in_channels``) are zeros appended
    after the input's (the paper only says "padded with zeros"; some CIFAR
    re-implementations pad half on each side, which is a permutation of ours).

    Call: ``x`` (N, H, W, C_in) -> (N, ceil(H/s), ceil(W/s), C_out).
    """

    def __init__(self, in_channels, out_channels, *, stride=1):
        if out_channels < in_channels:
            raise ValueError(f"ShortcutA: out_channels={out_channels} must be >= in_channels={in_channels} "
                             "(option A only pads channels; use shortcut='B' to project)")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride = _args.as_tuple(stride, 2, "stride", "ShortcutA")

    def __call__(self, x):
        # Data movement, not maths: subsample, then append zero channels.
        sh, sw = self.stride
        x = x[:, ::sh, ::sw, :]  # (N, ceil(H/sh), ceil(W/sw), C_in)
        extra = self.out_channels - self.in_channels
        return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, extra))) if extra else x  # (N, H', W', C_out)


def _shortcut(in_channels, out_channels, *, stride, shortcut, kernel_init, dtype, rngs, cls):
    """``None`` (identity) when shapes agree, else option A or a 1x1 projection + BN (option B)."""
    if shortcut not in SHORTCUTS:
        raise ValueError(f"{cls}: shortcut={shortcut!r} must be one of {SHORTCUTS}")
    if stride == 1 and in_channels == out_channels:
        return None
    if shortcut == "A":
        return ShortcutA(in_channels, out_channels, stride=stride)
    return ConvBNAct(in_channels, out_channels, kernel_size=1, stride=stride, padding=0, activation=None,
                     kernel_init=kernel_init, dtype=dtype, rngs=rngs)


def _pair(dilation, cls):
    return _args.as_tuple(dilation, 2, "dilation", cls)


class BasicBlock(nnx.Module):
    """Two 3x3 conv-BN layers with a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Args:
      in_channels, out_channels: C_in, C_out.
      stride: of ``conv1`` (and of the shortcut).
      shortcut: ``"B"`` 1x1 projection + BN or ``"A"`` zero padding, used only
        when the shapes change.
      dilation: int, or ``(d1, d2)`` for ``conv1`` and ``conv2``; padding
        equals the dilation so stride 1 keeps H x W.
      residual: ``False`` drops the shortcut (DRN-C's degridding layers).
      zero_init_residual: ``bn2`` starts at scale 0, so the block starts as its shortcut.

    Call: ``x`` (N, H, W, C_in) -> (N, ceil(H/stride), ceil(W/stride), C_out).
    """

    expansion = 1

    def __init__(self, in_channels, out_channels, *, stride=1, shortcut="B", dilation=1, residual=True,
                 zero_init_residual=False, kernel_init="he_normal_fan_out", dtype=None, rngs: nnx.Rngs):
        cls = type(self).__name__
        d1, d2 = _pair(dilation, cls)
        self.conv1 = ConvBNAct(in_channels, out_channels, kernel_size=3, stride=stride, dilation=d1,
                               kernel_init=kernel_init, dtype=dtype, rngs=rngs)
        self.conv2 = ConvBNAct(out_channels, out_channels, kernel_size=3, dilation=d2, activation=None,
                               zero_init_scale=zero_init_residual, kernel_init=kernel_init, dtype=dtype, rngs=rngs)
        self.shortcut = (_shortcut(in_channels, out_channels, stride=stride, shortcut=shortcut,
                                   kernel_init=kernel_init, dtype=dtype, rngs=rngs, cls=cls) if residual else None)
        self.residual = residual
        self.act = Activation("relu")
        self.in_channels, self.out_channels = in_channels, out_channels

    def __call__(self, x):
        y = self.conv2(self.conv1(x))
        if self.residual:
            y = y + (x if self.shortcut is None else self.shortcut(x))
        return self.act(y)


class DilatedResidualBlock(BasicBlock):
    """A :class:`BasicBlock` with dilated 3x3 convs (Yu, Koltun & Funkhouser 2017, "Dilated Residual Networks").

    DRN replaces a stage's stride by dilation so the map stays large; the
    receptive field still grows as if strided. As in DRN, the first block of
    a newly dilated stage uses ``dilation=(d // 2, d)``; ``residual=False``
    gives DRN-C's degridding layers. Same arguments as :class:`BasicBlock`,
    with ``dilation`` defaulting to 2.

    Call: ``x`` (N, H, W, C_in) -> (N, ceil(H/stride), ceil(W/stride), C_out); stride 1 keeps H x W.
    """

    def __init__(self, in_channels, out_channels, *, stride=1, shortcut="B", dilation=2, residual=True,
                 zero_init_residual=False, kernel_init="he_normal_fan_out", dtype=None, rngs: nnx.Rngs):
        super().__init__(in_channels, out_channels, stride=stride, shortcut=shortcut, dilation=dilation,
                         residual=residual, zero_init_residual=zero_init_residual, kernel_init=kernel_init,
                         dtype=dtype, rngs=rngs)


class Bottleneck(nnx.Module):
    """1x1 reduce -> 3x3 -> 1x1 expand, each conv-BN (ReLU but the last), plus a shortcut (He et al. 2015, Fig. 5).

    Args:
      in_channels, out_channels: C_in, C_out (ResNet-50: 256 -> 256 inside a stage).
      mid_channels: width of the 3x3 conv; defaults to ``out_channels // 4``
        (the paper's expansion 4: 256 -> 64 -> 64 -> 256).
      stride: on the 3x3 conv (``stride_on="3x3"``, torchvision's "ResNet v1.5")
        or on the first 1x1 conv (``stride_on="1x1"``, the paper's v1). The
        parameter count is the same.
      shortcut, dilation, zero_init_residual: as :class:`BasicBlock` (dilation on the 3x3 conv).

    Call: ``x`` (N, H, W, C_in) -> (N, ceil(H/stride), ceil(W/stride), C_out).
    """

    expansion = 4

    def __init__(self, in_channels, out_channels, *, mid_channels=None, stride=1, stride_on="3x3", shortcut="B",
                 dilation=1, zero_init_residual=False, kernel_init="he_normal_fan_out", dtype=None, rngs: nnx.Rngs):
        if stride_on not in ("1x1", "3x3"):
            raise ValueError(f"Bottleneck: stride_on={stride_on!r} must be '1x1' (paper, v1) or '3x3' (v1.5)")
        mid = mid_channels or out_channels // self.expansion
        s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
        kw = dict(kernel_init=kernel_init, dtype=dtype, rngs=rngs)
        self.conv1 = ConvBNAct(in_channels, mid, kernel_size=1, stride=s1, padding=0, **kw)  # reduce
        self.conv2 = ConvBNAct(mid, mid, kernel_size=3, stride=s3, dilation=dilation, **kw)
        self.conv3 = ConvBNAct(mid, out_channels, kernel_size=1, padding=0, activation=None,  # expand, linear
                               zero_init_scale=zero_init_residual, **kw)
        self.shortcut = _shortcut(in_channels, out_channels, stride=stride, shortcut=shortcut, cls="Bottleneck", **kw)
        self.act = Activation("relu")
        self.in_channels, self.out_channels, self.mid_channels = in_channels, out_channels, mid

    def __call__(self, x):
        y = self.conv3(self.conv2(self.conv1(x)))
        return self.act(y + (x if self.shortcut is None else self.shortcut(x)))
