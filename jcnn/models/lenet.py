"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), in its textbook form and its modern form.

Input (N, 32, 32, 1) for ``lenet5`` (the paper pads MNIST's 28x28 digits to
32x32); ``lenet5_modern`` pads its first convolution by 2 and takes 28x28.
Shapes: 32 -C1 5x5-> 28 -S2-> 14 -C3 5x5-> 10 -S4-> 5 -C5-> 1 (as a 400 -> 120
dense layer) -> F6 84 -> 10.

Differences from the paper, as in the textbook form (Zhang, Lipton, Li & Smola 2023,
"Dive into Deep Learning", section 7.6): S2/S4 are plain average (or max)
pooling without the paper's trainable coefficient and bias, and the output is
a dense layer instead of Euclidean RBF units. The paper's squashing function
is available as ``activation="lecun_tanh"``; the textbook form uses sigmoid.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import nn, ops
from jcnn.models.registry import register

#: LeCun et al. 1998, Table I: which S2 maps (rows 0-5) feed each C3 map (columns 0-15).
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ConnectionTableConv(nnx.Module):
    """A convolution where output map ``o`` sees only the input maps ``table[o]`` (LeNet-5's C3).

    Owns only the connected weights: ``kernel`` (*K, E) for the E connections
    of ``table`` and ``bias`` (C_out,), so parameter counts match the paper
    (C3: 60 * 25 + 16 = 1,516). The full kernel is scattered from them and the
    maths is :func:`jcnn.ops.conv`.

    Call: ``x`` (N, H, W, C_in) -> (N, H - K + 1, W - K + 1, C_out).
    """

    def __init__(self, in_channels, table, *, kernel_size=5, kernel_init="lecun_1998", rngs: nnx.Rngs):
        rows = [i for col in table for i in col]
        cols = [o for o, col in enumerate(table) for _ in col]
        if max(rows) >= in_channels:
            raise ValueError(f"ConnectionTableConv: table refers to input map {max(rows)} but in_channels={in_channels}")
        self.rows, self.cols = tuple(rows), tuple(cols)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        # Each output map's fan-in counts only its connected inputs.
        fans = np.array([len(table[o]) for o in cols], np.float32)
        w = nn.init.get(kernel_init)(rngs.params(), (kernel_size, kernel_size, 1, len(rows)))[:, :, 0, :]
        self.kernel = nnx.Param(w * jnp.sqrt(in_channels / fans))
        self.bias = nnx.Param(jnp.zeros((len(table),)))

    def __call__(self, x):
        k = self.kernel_size
        # Compute in the input's dtype, as jcnn.nn's layers do (float32 parameters, bf16 compute).
        full = jnp.zeros((k, k, self.in_channels, self.out_channels), x.dtype)
        full = full.at[:, :, self.rows, self.cols].set(self.kernel[...].astype(x.dtype))  # (K, K, C_in, C_out)
        return ops.conv(x, full, self.bias[...].astype(x.dtype))


class LeNet5(nnx.Module):
    """LeNet-5: [conv 5x5 -> act -> pool 2x2] x 2 -> dense 120 -> act -> dense 84 -> act -> dense.

    Call: ``x`` (N, 32, 32, C) (or (N, 28, 28, C) with ``padding=2``) -> logits (N, num_classes).
    """

    def __init__(self, *, num_classes=10, in_channels=1, activation="sigmoid", pool="avg", padding=0,
                 c3_table=False, kernel_init="lecun_normal", rngs: nnx.Rngs):
        if pool not in ("avg", "max"):
            raise ValueError(f"LeNet5: pool={pool!r} must be 'avg' or 'max'")
        pool_cls = nn.AvgPool if pool == "avg" else nn.MaxPool
        self.conv1 = nn.Conv(in_channels, 6, kernel_size=5, padding=padding, kernel_init=kernel_init, rngs=rngs)
        self.act1 = nn.Activation(activation)
        self.pool1 = pool_cls(2)  # (N, 14, 14, 6)
        if c3_table:
            self.conv2 = ConnectionTableConv(6, C3_TABLE, rngs=rngs)
        else:
            self.conv2 = nn.Conv(6, 16, kernel_size=5, kernel_init=kernel_init, rngs=rngs)
        self.act2 = nn.Activation(activation)
        self.pool2 = pool_cls(2)  # (N, 5, 5, 16)
        self.flatten = nn.Flatten()  # (N, 400)
        self.fc1 = nn.Dense(400, 120, kernel_init=kernel_init, rngs=rngs)
        self.act3 = nn.Activation(activation)
        self.fc2 = nn.Dense(120, 84, kernel_init=kernel_init, rngs=rngs)
        self.act4 = nn.Activation(activation)
        self.fc3 = nn.Dense(84, num_classes, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(x)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


@register(input_shape=(32, 32, 1), num_classes=10, paper="LeCun et al. 1998",
          mean=(0.1307,), std=(0.3081,), notes="sigmoid + average (subsampling) pooling as in the paper; c3_table=True for Table I")
def lenet5(*, num_classes=10, in_channels=1, activation="sigmoid", c3_table=False, rngs):
    return LeNet5(num_classes=num_classes, in_channels=in_channels, activation=activation, pool="avg",
                  c3_table=c3_table, rngs=rngs)


@register(input_shape=(28, 28, 1), num_classes=10, paper="LeCun et al. 1998, modernised",
          mean=(0.1307,), std=(0.3081,), notes="ReLU + max pooling, conv1 padded by 2 for 28x28 input")
def lenet5_modern(*, num_classes=10, in_channels=1, rngs):
    return LeNet5(num_classes=num_classes, in_channels=in_channels, activation="relu", pool="max", padding=2,
                  kernel_init="he_normal", rngs=rngs)
