"""jcnn.analysis.features: activations by layer name, checked by hand; errors; figures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn.analysis import feature_maps, filter_images, plot_feature_maps, plot_filters
from jcnn.models.pattern import from_pattern


@pytest.fixture(scope="module")
def net():
    return from_pattern("INPUT -> [[CONV(4) -> RELU]*1 -> POOL]*2 -> FC(10)", in_channels=3, input_size=16)


@pytest.fixture(scope="module")
def x():
    return jax.random.uniform(jax.random.key(1), (2, 16, 16, 3))


def test_conv1_by_hand(net, x):
    maps = feature_maps(net, x, layers=["conv1", "relu1", "pool2"])
    w, b = np.asarray(net.conv1.kernel[...]), np.asarray(net.conv1.bias[...])
    xp = np.pad(np.asarray(x), ((0, 0), (1, 1), (1, 1), (0, 0)))  # 'same' for 3x3
    want = np.zeros((2, 16, 16, 4), np.float32) + b
    for n in range(2):
        for i in range(16):
            for j in range(16):
                want[n, i, j] += np.einsum("abc,abco->o", xp[n, i:i + 3, j:j + 3], w)
    np.testing.assert_allclose(maps["conv1"], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["relu1"], np.maximum(want, 0), rtol=1e-5, atol=1e-6)
    assert maps["pool2"].shape == (2, 4, 4, 4)
    assert set(feature_maps(net, x, layers="conv2")) == {"conv2"}


def test_unknown_layer_lists_names(net, x):
    with pytest.raises(ValueError, match=r"unknown layer 'conv3'.*conv1.*pool2"):
        feature_maps(net, x, layers=["conv3"])


def test_wrong_input_shape(net, x):
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        feature_maps(net, x[0], layers="conv1")
    with pytest.raises(ValueError, match="in_channels=3"):
        feature_maps(net, x[..., :1], layers="conv1")


def test_filters_as_images(net):
    imgs = filter_images(net.conv1.kernel[...])
    assert imgs.shape == (4, 3, 3, 3)
    np.testing.assert_allclose(imgs.reshape(4, -1).min(1), 0)
    np.testing.assert_allclose(imgs.reshape(4, -1).max(1), 1)
    assert filter_images(net.conv2.kernel[...]).shape == (4, 3, 3)  # 4 input channels: mean, gray
    assert len(plot_filters(net).axes) == 4
    with pytest.raises(ValueError, match="K_h, K_w"):
        filter_images(jnp.ones((3, 3)))


def test_plot_feature_maps(net, x):
    fig = plot_feature_maps(feature_maps(net, x, layers=["conv1", "conv2"]), max_channels=3)
    assert len(fig.axes) == 6


def test_tools_on_a_model_with_dropout_and_batchnorm():
    # Mode flags and BatchNorm statistics are set/written inside jit/grad/eval_shape traces:
    # the tools run on a copy, so they work and the model is left as it was.
    from jcnn import nn
    from jcnn.analysis import effective_receptive_field, grad_cam, saliency, translation_invariance, visualize_filter

    r = nnx.Rngs(0, dropout=1)
    m = nnx.Sequential(nn.Conv(3, 4, kernel_size=3, padding=1, rngs=r), nn.BatchNorm(4, rngs=r),
                       nn.Activation("relu"), nn.Dropout(0.5, rngs=r), nn.GlobalAvgPool(), nn.Dense(4, 3, rngs=r))
    before = jax.tree.map(np.asarray, nnx.state(m, (nnx.Param, nnx.BatchStat)))
    x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 3))
    assert effective_receptive_field(m, (9, 9, 3), layer="layers.3", samples=2, train=True).shape == (9, 9)
    assert saliency(m, x, 1).shape == (2, 8, 8) and grad_cam(m, x, 1, "layers.2").shape == (2, 8, 8)
    assert visualize_filter(m, "layers.2", 1, steps=2, start_size=8).history.shape == (9,)
    assert feature_maps(m, x, ["layers.1"], train=True)["layers.1"].shape == (2, 8, 8, 4)
    assert translation_invariance(m, x, [1], train=True)["output"].shape == (1,)
    assert m.layers[3].deterministic is False and m.layers[1].use_running_average is False
    after = jax.tree.map(np.asarray, nnx.state(m, (nnx.Param, nnx.BatchStat)))
    jax.tree.map(np.testing.assert_array_equal, after, before)
