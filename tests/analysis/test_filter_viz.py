"""jcnn.analysis.filter_viz: gradient ascent raises the target activation, across octaves and sizes."""

import numpy as np
import pytest
from flax import nnx

from jcnn import nn
from jcnn.analysis import plot_filter_visualization, visualize_filter
from jcnn.models.pattern import from_pattern


@pytest.fixture(scope="module")
def net():
    # The dense head fixes the input at 16x16, but the conv layers are visualised at any size.
    return from_pattern("INPUT -> [[CONV(4) -> RELU]*1 -> POOL]*2 -> FC(10)", in_channels=3, input_size=16)


def test_ascent_raises_activation(net):
    res = visualize_filter(net, "conv2", 1, steps=8, lr=0.05, octaves=1, start_size=12)
    assert res.history[-1] > res.history[0]
    assert res.image.shape == (12, 12, 3) and res.history.shape == (9,)


def test_octaves_upscale_with_regularisers(net):
    res = visualize_filter(net, "relu1", 2, steps=4, octaves=3, upscale=1.5, jitter=1, blur=0.5, l2=1e-3,
                           start_size=8, seed=1)
    assert res.sizes == (8, 12, 18) and res.image.shape == (18, 18, 3)
    assert res.history[-1] > res.history[0]
    again = visualize_filter(net, "relu1", 2, steps=4, octaves=3, upscale=1.5, jitter=1, blur=0.5, l2=1e-3,
                             start_size=8, seed=1)
    np.testing.assert_array_equal(res.image, again.image)
    assert len(plot_filter_visualization(res).axes) == 2


def test_errors(net):
    with pytest.raises(ValueError, match="valid layers"):
        visualize_filter(net, "conv7", 0, steps=1)
    with pytest.raises(ValueError, match="channel=4"):
        visualize_filter(net, "conv1", 4, steps=1)
    with pytest.raises(ValueError, match="steps"):
        visualize_filter(net, "conv1", 0, steps=0)
    with pytest.raises(ValueError, match="in_channels"):
        visualize_filter(nnx.Sequential(nn.Flatten()), "layers.0", 0, steps=1)
