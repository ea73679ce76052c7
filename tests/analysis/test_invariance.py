"""jcnn.analysis.invariance: 0 for an exactly shift-invariant model, > 0 once a dense head sees positions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn import nn, ops
from jcnn.analysis import plot_invariance, translation_invariance


class CircularConv(nnx.Module):
    """A 3x3 convolution on a circularly padded input: commutes with circular shifts."""

    def __init__(self, cin, cout, *, rngs):
        self.kernel = nnx.Param(jax.random.normal(rngs.params(), (3, 3, cin, cout)) * 0.5)

    def __call__(self, x):
        return ops.conv(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap"), self.kernel[...], padding="valid")


class Invariant(nnx.Module):
    def __init__(self, *, dense_head=False, rngs):
        self.conv1 = CircularConv(1, 4, rngs=rngs)
        self.act1 = nn.Activation("relu")
        self.conv2 = CircularConv(4, 3, rngs=rngs)
        self.dense_head = dense_head
        self.head = nn.Sequential(nn.Flatten(), nn.Dense(8 * 8 * 3, 3, rngs=rngs)) if dense_head else nn.GlobalAvgPool()

    def __call__(self, x):
        return self.head(self.conv2(self.act1(self.conv1(x))))


@pytest.fixture(scope="module")
def images():
    return jax.random.uniform(jax.random.key(0), (3, 8, 8, 1))


def test_zero_for_global_pooling_on_circular_convs(images):
    m = Invariant(rngs=nnx.Rngs(0))
    res = translation_invariance(m, images, [1, (0, 3), (2, -1)], layers=["conv1", "conv2"])
    np.testing.assert_allclose(res["output"], 0, atol=1e-5)
    np.testing.assert_array_equal(res["agreement"], 1)
    # The feature maps themselves move with the image (equivariant, not invariant).
    assert (res["layers"]["conv1"] > 0.1).all() and (res["layers"]["conv2"] > 0.1).all()
    assert len(plot_invariance(res).axes) == 1


def test_positive_with_dense_head_and_zero_padding(images):
    m = Invariant(dense_head=True, rngs=nnx.Rngs(0))
    res = translation_invariance(m, images, [1, 2])
    assert (res["output"] > 0.01).all()
    inv = Invariant(rngs=nnx.Rngs(0))
    res = translation_invariance(inv, images, [0, 1], mode="zero")
    assert res["output"][0] == 0 and res["output"][1] > 0  # zero-filling breaks exact invariance


def test_errors(images):
    m = Invariant(rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="valid layers"):
        translation_invariance(m, images, [1], layers=["pool"])
    with pytest.raises(ValueError, match="mode"):
        translation_invariance(m, images, [1], mode="reflect")
    with pytest.raises(ValueError, match="shift"):
        translation_invariance(m, images, [(1, 2, 3)])
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        translation_invariance(m, images[0], [1])
