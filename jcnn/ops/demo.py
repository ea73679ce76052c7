"""``python -m jcnn demo``: a short tour of the pure ops on the "X" image of Rohrer 2016 ("How do CNNs work?")."""

from __future__ import annotations

import numpy as np


def add_arguments(parser):
    """The demo takes no options (``jcnn demo --help`` says so)."""


def x_image() -> np.ndarray:
    """Rohrer 2016's 9x9 "X": +1 on the two diagonals (inside a -1 border), -1 elsewhere."""
    img = -np.ones((9, 9), np.float32)
    for i in range(1, 8):
        img[i, i] = img[i, 8 - i] = 1.0
    return img


#: Rohrer 2016's three 3x3 templates: the two diagonals and their crossing.
X_TEMPLATES = np.array(
    [[[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],
     [[1, -1, 1], [-1, 1, -1], [1, -1, 1]],
     [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]]],
    np.float32,
)


def run(args) -> int:
    import jax.numpy as jnp

    from jcnn import ops

    x = jnp.asarray(x_image())[None, :, :, None]  # (1, 9, 9, 1)
    w = jnp.asarray(X_TEMPLATES.transpose(1, 2, 0))[:, :, None, :]  # (3, 3, 1, 3)
    corr = ops.conv(x, w) / 9.0  # normalised correlation, (1, 7, 7, 3)
    pooled = ops.max_pool(jnp.maximum(corr, 0), 2, ceil_mode=True)  # (1, 4, 4, 3)
    np.set_printoptions(precision=2, suppress=True)
    print("The X image correlated with the '\\' template (/9):")
    print(np.asarray(corr[0, :, :, 0]))
    print("after ReLU and 2x2 max pooling (ceil mode):")
    print(np.asarray(pooled[0, :, :, 0]))
    print("output size (W - F + 2P)/S + 1 for W=224, F=7, P=3, S=2:",
          ops.conv_output_size(224, 7, stride=2, padding=3))
    return 0
