"""jcnn.analysis.saliency: input gradients and Grad-CAM on models whose answers are known."""

import jax
import numpy as np
import pytest
from flax import nnx

from jcnn import nn
from jcnn.analysis import grad_cam, plot_saliency, saliency


class Linear(nnx.Module):
    """score = dense(flatten(x)): the saliency is |W[:, label]|, reshaped."""

    def __init__(self, *, rngs):
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(8 * 8 * 1, 3, rngs=rngs)

    def __call__(self, x):
        return self.fc(self.flatten(x))


class CamNet(nnx.Module):
    def __init__(self, *, rngs):
        self.conv = nn.Conv(1, 4, kernel_size=3, padding=1, rngs=rngs)
        self.act = nn.Activation("relu")
        self.gap = nn.GlobalAvgPool()
        self.fc = nn.Dense(4, 2, rngs=rngs)

    def __call__(self, x):
        return self.fc(self.gap(self.act(self.conv(x))))


def test_saliency_of_linear_model():
    m = Linear(rngs=nnx.Rngs(0))
    x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1))
    s = saliency(m, x, [1, 2])
    w = np.asarray(m.fc.kernel[...])
    np.testing.assert_allclose(s[0], np.abs(w[:, 1]).reshape(8, 8), rtol=1e-6)
    np.testing.assert_allclose(s[1], np.abs(w[:, 2]).reshape(8, 8), rtol=1e-6)
    assert saliency(m, x, 0, reduce="none").shape == x.shape
    with pytest.raises(ValueError, match="3 outputs"):
        saliency(m, x, 3)


def test_grad_cam_is_cam_for_gap_nets():
    # With global average pooling then a dense layer, Grad-CAM's weights are W[k, label] / (h*w): CAM.
    m = CamNet(rngs=nnx.Rngs(1))
    x = jax.random.uniform(jax.random.key(1), (2, 6, 6, 1))
    cam = grad_cam(m, x, 1, "act", normalize=False)
    a = m.act(m.conv(x))
    want = jax.nn.relu((a * m.fc.kernel[...][:, 1]).sum(-1) / 36)
    np.testing.assert_allclose(cam, want, rtol=1e-5, atol=1e-7)
    norm = grad_cam(m, x, 1, "act")
    assert norm.shape == (2, 6, 6) and 0 <= norm.min() and norm.max() <= 1
    assert len(plot_saliency(x, norm).axes) == 2
    with pytest.raises(ValueError, match="valid layers"):
        grad_cam(m, x, 1, "conv2")
    with pytest.raises(ValueError, match="not spatial"):
        grad_cam(m, x, 1, "gap")
