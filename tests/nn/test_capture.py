"""jcnn.nn.capture: layer names, shape-only traces, captured activations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn import models, nn
from jcnn.nn.capture import CallRecord, LayerInputError, capture, intercept, layers, trace, units

LENET_LAYERS = ["conv1", "act1", "pool1", "conv2", "act2", "pool2", "flatten", "fc1", "act3", "fc2", "act4", "fc3"]


class Twice(nnx.Module):
    """One conv applied twice (shared weights), then a dense head."""

    def __init__(self, *, rngs):
        self.conv = nn.Conv(2, 2, kernel_size=3, padding=1, rngs=rngs)
        self.head = nn.Dense(2, 3, rngs=rngs)

    def __call__(self, x):
        x = self.conv(self.conv(x))
        return self.head(x.mean(axis=(1, 2)))


class Nested(nnx.Module):
    def __init__(self, *, rngs):
        self.blocks = nnx.List([nnx.Sequential(nn.Conv(1, 4, kernel_size=3, rngs=rngs), nn.Activation("relu"))
                                for _ in range(1)])
        self.out = nn.Conv(4, 2, kernel_size=1, rngs=rngs)

    def __call__(self, x):
        for b in self.blocks:
            x = b(x)
        return self.out(x)


@pytest.fixture(scope="module")
def lenet():
    return models.create("lenet5")


def test_lenet_layer_names(lenet):
    assert [p for p, _ in layers(lenet)] == LENET_LAYERS
    assert isinstance(dict(layers(lenet))["conv2"], nn.Conv)


def test_nested_paths_in_definition_order():
    m = Nested(rngs=nnx.Rngs(0))
    assert [p for p, _ in layers(m)] == ["blocks.0", "blocks.0.layers.0", "blocks.0.layers.1", "out"]
    recs = trace(m, (1, 8, 8, 1))
    assert [(r.name, r.output_shape) for r in recs] == [
        ("blocks.0.layers.0", (1, 6, 6, 4)), ("blocks.0.layers.1", (1, 6, 6, 4)), ("out", (1, 6, 6, 2))]
    # depth=1: the nnx.List is a group of its blocks
    assert [(r.name, r.type, r.input_shape, r.output_shape, r.params) for r in trace(m, (1, 8, 8, 1), depth=1)] == [
        ("blocks", "List", (1, 8, 8, 1), (1, 6, 6, 4), 3 * 3 * 4 + 4), ("out", "Conv", (1, 6, 6, 4), (1, 6, 6, 2), 10)]


def test_lenet_trace_shapes_and_params(lenet):
    recs = trace(lenet, (2, 32, 32, 1))
    assert [r.name for r in recs] == LENET_LAYERS
    by = {r.name: r for r in recs}
    assert by["conv1"].input_shape == (2, 32, 32, 1) and by["conv1"].output_shape == (2, 28, 28, 6)
    assert by["pool2"].output_shape == (2, 5, 5, 16) and by["flatten"].output_shape == (2, 400)
    assert by["conv1"].params == 5 * 5 * 1 * 6 + 6 and by["conv2"].params == 5 * 5 * 6 * 16 + 16
    assert by["fc1"].params == 400 * 120 + 120 and by["act1"].params == 0
    # The class __call__ is restored afterwards.
    assert not hasattr(type(lenet.conv1).__call__, "__jcnn_capture__")


def test_trace_is_abstract_at_224():
    model = nnx.eval_shape(lambda: models.create("vgg16"))  # no parameters are even initialised
    recs = trace(model, (1, 224, 224, 3))
    assert recs[-1].output_shape == (1, 1000)
    assert sum(r.params for r in recs) == 138_357_544


def test_capture_conv1_equals_running_it(lenet):
    x = jax.random.normal(jax.random.key(0), (2, 32, 32, 1))
    got = capture(lenet, x, layers=["conv1", "pool2"])
    assert set(got) == {"conv1", "pool2"}
    np.testing.assert_allclose(got["conv1"], lenet.conv1(x), rtol=1e-6, atol=1e-6)
    y = lenet.pool1(lenet.act1(lenet.conv1(x)))
    np.testing.assert_allclose(got["pool2"], lenet.pool2(lenet.act2(lenet.conv2(y))), rtol=1e-5, atol=1e-6)


def test_capture_unknown_layer_lists_names(lenet):
    with pytest.raises(ValueError, match="conv3") as err:
        capture(lenet, jnp.zeros((1, 32, 32, 1)), layers="conv3")
    assert "conv1" in str(err.value) and "fc3" in str(err.value)


def test_module_called_twice():
    m = Twice(rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (1, 5, 5, 2))
    got = capture(m, x, layers=["conv"])
    first = m.conv(x)
    np.testing.assert_allclose(got["conv"], first, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got["conv#2"], m.conv(first), rtol=1e-5, atol=1e-6)
    assert [(r.name, r.call) for r in trace(m, x)] == [("conv", 1), ("conv#2", 2), ("head", 1)]


def test_capture_restores_train_mode():
    m = nn.Dropout(0.5, rngs=nnx.Rngs(0))
    seq = nnx.Sequential(m)
    seq.train()
    capture(seq, jnp.ones((1, 4)), layers=["layers.0"])
    assert m.deterministic is False


def test_layer_errors_name_model_layer_and_shapes(lenet):
    # 28x28 instead of 32x32: the convolutions fit, fc1 gets 16*4*4 = 256 features instead of 400
    with pytest.raises(LayerInputError, match=r"LeNet5: layer 'fc1' \(Dense\) cannot take input \(1, 256\)") as err:
        trace(lenet, (1, 28, 28, 1))
    assert err.value.layer == "fc1" and err.value.model_input == (1, 28, 28, 1)
    with pytest.raises(ValueError, match=r"layer 'conv1' \(Conv\).*\(1, 32, 32, 3\).*3 channels"):
        trace(lenet, (1, 32, 32, 3))
    # capture names the failing layer even when it is not one of those asked for
    with pytest.raises(LayerInputError, match="'fc1'"):
        capture(lenet, jnp.zeros((1, 28, 28, 1)), layers="conv1")
    assert not hasattr(type(lenet.conv1).__call__, "__jcnn_capture__")  # restored after an error too


def test_capture_stop_after_runs_nothing_behind_the_layer(lenet):
    x = jax.random.normal(jax.random.key(2), (1, 64, 64, 1))  # 64x64: fc1 would reject the flattened map
    got = capture(lenet, x, layers=["conv1", "pool2"], stop_after="pool2")
    y = lenet.pool1(lenet.act1(lenet.conv1(x)))
    np.testing.assert_allclose(got["pool2"], lenet.pool2(lenet.act2(lenet.conv2(y))), rtol=1e-5, atol=1e-6)
    assert set(got) == {"conv1", "pool2"} and got["pool2"].shape == (1, 13, 13, 16)
    with pytest.raises(LayerInputError, match="'fc1'"):
        capture(lenet, x, layers="pool2")  # without stop_after the head runs and fails
    with pytest.raises(ValueError, match="stop_after='pool9'.*close matches"):
        capture(lenet, x, layers="conv1", stop_after="pool9")


def test_intercept_replaces_a_layer_output(lenet):
    x = jax.random.normal(jax.random.key(3), (1, 32, 32, 1))
    seen = []

    def around(path, module, call, args):
        seen.append(path)
        return call() * 0.0

    with intercept(lenet, around, paths={"conv2"}):
        y = lenet(x)
    assert seen == ["conv2"]
    fc3 = lenet.fc3  # everything behind conv2 sees zeros: the output is what the biases alone give
    h = lenet.fc1(lenet.flatten(lenet.pool2(lenet.act2(jnp.zeros((1, 10, 10, 16))))))
    expect = fc3(lenet.act4(lenet.fc2(lenet.act3(h))))
    np.testing.assert_allclose(y, expect, rtol=1e-6, atol=1e-6)
    assert not hasattr(type(lenet.conv2).__call__, "__jcnn_capture__")


def test_a_bare_layer_traces_as_one_record():
    conv = nn.Conv(1, 2, kernel_size=3, rngs=nnx.Rngs(0))
    assert units(conv) == {"": ""}
    assert trace(conv, (1, 8, 8, 1)) == [CallRecord("Conv", "", "Conv", (1, 8, 8, 1), (1, 6, 6, 2), 20, 1)]
