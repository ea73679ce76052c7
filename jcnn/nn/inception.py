"""The Inception v1 module (Szegedy et al. 2014, Figure 2(b)): four parallel branches, concatenated on channels."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jcnn.nn.blocks import ConvBNAct
from jcnn.nn.pool import MaxPool


class Inception(nnx.Module):
    """Inception module with dimension reductions: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1.

    The 1x1 "reduce" convolutions shrink the depth before the costly 3x3 and
    5x5 convolutions (Szegedy et al. 2014, section 4); the pool branch's 1x1
    projection keeps the pooled depth from piling up. Every conv is followed
    by ReLU. As in the paper, convs have biases and there is no BatchNorm;
    ``norm=True`` puts BN after each conv (bias dropped), as later versions do.
    Argument names follow the columns of the paper's Table 1.

    Args:
      in_channels: C_in.
      ch1x1: "#1x1". ch3x3red, ch3x3: "#3x3 reduce", "#3x3". ch5x5red, ch5x5:
        "#5x5 reduce", "#5x5". pool_proj: "pool proj".

    Call: ``x`` (N, H, W, C_in) -> (N, H, W, ch1x1 + ch3x3 + ch5x5 + pool_proj).
    """

    def __init__(self, in_channels, *, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, norm=False,
                 kernel_init="glorot_uniform", dtype=None, rngs: nnx.Rngs):
        def conv(cin, cout, k):
            return ConvBNAct(cin, cout, kernel_size=k, norm=norm, kernel_init=kernel_init, dtype=dtype, rngs=rngs)

        self.branch1x1 = conv(in_channels, ch1x1, 1)
        self.branch3x3 = nnx.Sequential(conv(in_channels, ch3x3red, 1), conv(ch3x3red, ch3x3, 3))
        self.branch5x5 = nnx.Sequential(conv(in_channels, ch5x5red, 1), conv(ch5x5red, ch5x5, 5))
        self.branch_pool = nnx.Sequential(MaxPool(3, stride=1, padding=1), conv(in_channels, pool_proj, 1))
        self.in_channels, self.out_channels = in_channels, ch1x1 + ch3x3 + ch5x5 + pool_proj

    def __call__(self, x):
        branches = (self.branch1x1(x), self.branch3x3(x), self.branch5x5(x), self.branch_pool(x))
        return jnp.concatenate(branches, axis=-1)  # (N, H, W, out_channels): filter concatenation
