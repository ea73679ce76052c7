"""jcnn.analysis.deconvnet: equals jax.vjp on a linear conv stack; switches and ReLU going down; errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn import nn, ops
from jcnn.analysis import deconvnet, plot_deconvnet
from jcnn.analysis.features import layer_output


def conv_stack():
    r = nnx.Rngs(0)
    return nnx.Sequential(nn.Conv(3, 4, kernel_size=3, padding=1, rngs=r),
                          nn.Conv(4, 5, kernel_size=3, stride=2, padding="same", rngs=r),
                          nn.Conv(5, 6, kernel_size=2, dilation=2, rngs=r))


@pytest.mark.parametrize("top", ["map", "max"])
def test_equals_vjp_without_relu_and_pooling(top):
    m = conv_stack()
    x = jax.random.normal(jax.random.key(0), (2, 11, 11, 3))
    layer, channel = "layers.2", 3
    graphdef, state = nnx.split(m)
    y = jax.jit(lambda st, v: layer_output(nnx.merge(graphdef, st), v, layer))(state, x)
    # The top signal: the layer's output with every other channel zeroed ("max": only the channel's max).
    top_signal = jnp.zeros_like(y).at[..., channel].set(y[..., channel])
    if top == "max":
        flat = y[..., channel].reshape(2, -1)
        keep = (flat == flat.max(1, keepdims=True)).reshape(y.shape[:-1])
        top_signal = top_signal * keep[..., None]
    vjp = jax.jit(lambda st, v, t: jax.vjp(lambda u: layer_output(nnx.merge(graphdef, st), u, layer), v)[1](t)[0])
    want = vjp(state, x, top_signal)
    got = deconvnet(m, x, layer, channel, top=top)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_pooling_and_relu_going_down():
    r = nnx.Rngs(1)
    m = nnx.Sequential(nn.Conv(1, 2, kernel_size=3, padding=1, rngs=r), nn.Activation("relu"), nn.MaxPool(2))
    x = jax.random.normal(jax.random.key(2), (1, 6, 6, 1))
    got = deconvnet(m, x, "layers.2", 1)
    conv = m.layers[0]
    h = jax.nn.relu(ops.conv(x, conv.kernel[...], conv.bias[...], padding=1))
    y, sw = ops.max_pool_with_argmax(h, 2)
    g = ops.max_unpool(jnp.zeros_like(y).at[..., 1].set(y[..., 1]), sw, output_shape=h.shape)
    want = ops.conv_transpose(jax.nn.relu(g), conv.kernel[...], padding=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert len(plot_deconvnet(got, x).axes) == 2


class Scaled(nnx.Module):
    """Its __call__ doubles conv1's output before conv2: not the plain chain of its layers."""

    def __init__(self, *, rngs):
        self.conv1 = nn.Conv(1, 2, kernel_size=3, padding=1, rngs=rngs)
        self.conv2 = nn.Conv(2, 2, kernel_size=3, padding=1, rngs=rngs)

    def __call__(self, x):
        return self.conv2(2 * self.conv1(x))


def test_errors():
    m = conv_stack()
    x = jnp.ones((1, 11, 11, 3))
    with pytest.raises(ValueError, match="valid layers"):
        deconvnet(m, x, "conv1", 0)
    with pytest.raises(ValueError, match="channel=6"):
        deconvnet(m, x, "layers.2", 6)
    with pytest.raises(ValueError, match="in_channels=3"):
        deconvnet(m, jnp.ones((1, 11, 11, 1)), "layers.2", 0)
    r = nnx.Rngs(0)
    bad = nnx.Sequential(nn.Conv(1, 2, kernel_size=3, rngs=r), nn.AvgPool(2), nn.Activation("tanh"))
    with pytest.raises(ValueError, match="AvgPool"):
        deconvnet(bad, jnp.ones((1, 8, 8, 1)), "layers.2", 0)
    with pytest.raises(ValueError, match="plain chain"):
        deconvnet(Scaled(rngs=nnx.Rngs(0)), jnp.ones((1, 6, 6, 1)), "conv2", 0)
    assert deconvnet(Scaled(rngs=nnx.Rngs(0)), jnp.ones((1, 6, 6, 1)), "conv1", 0).shape == (1, 6, 6, 1)
