"""GoogLeNet: seed 001's (= the paper's Table 1) output sizes, the parameter count, auxiliary heads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn.models.googlenet import INCEPTION_TABLE


def _count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _abstract(**kw):
    return nnx.eval_shape(lambda: models.create("googlenet", **kw))


def _run(model, fn, shape=(1, 224, 224, 3)):
    graphdef, state = nnx.split(model)
    return jax.eval_shape(lambda s, x: fn(nnx.merge(graphdef, s), x), state, jax.ShapeDtypeStruct(shape, jnp.float32))


# Seed 001's table, rows in order (H, W, C). The seed prints conv1 as 112x142x64; the paper has 112x112x64.
TABLE_1 = [
    ("conv1", (112, 112, 64)), ("pool1", (56, 56, 64)), ("conv2", (56, 56, 192)), ("pool2", (28, 28, 192)),
    ("inception3a", (28, 28, 256)), ("inception3b", (28, 28, 480)), ("pool3", (14, 14, 480)),
    ("inception4a", (14, 14, 512)), ("inception4b", (14, 14, 512)), ("inception4c", (14, 14, 512)),
    ("inception4d", (14, 14, 528)), ("inception4e", (14, 14, 832)), ("pool4", (7, 7, 832)),
    ("inception5a", (7, 7, 832)), ("inception5b", (7, 7, 1024)), ("avgpool", (1, 1, 1024)),
    ("dropout", (1, 1, 1024)), ("fc", (1, 1, 1000)),
]


def test_output_sizes_reproduce_the_table_at_224():
    names = []

    def rows(m, x):
        out = m.intermediates(x)
        names.extend(out)  # eval_shape returns dicts key-sorted: keep the model's order here
        return list(out.values())

    shapes = _run(_abstract(), rows)
    assert list(zip(names, (s.shape[1:] for s in shapes))) == TABLE_1
    assert _run(_abstract(), lambda m, x: m(x)).shape == (1, 1000)


def conv(k, cin, cout):
    """A k x k conv with bias (the paper has no BatchNorm)."""
    return k * k * cin * cout + cout


def googlenet_params(num_classes=1000):
    """Table 1: conv1 7x7/2 64, conv2 (1x1 64, 3x3 192), nine Inception modules, linear 1024 -> classes."""
    total = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    cin = 192
    for c1, c3r, c3, c5r, c5, pp in (
        (64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64),  # 3a, 3b
        (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),  # 4a-4c
        (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128),  # 4d, 4e
        (256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128),  # 5a, 5b
    ):
        total += conv(1, cin, c1) + conv(1, cin, c3r) + conv(3, c3r, c3) + conv(1, cin, c5r) + conv(5, c5r, c5) \
            + conv(1, cin, pp)
        cin = c1 + c3 + c5 + pp
    assert cin == 1024
    return total + cin * num_classes + num_classes


def aux_params(cin, num_classes=1000):
    """Section 5: 1x1 conv 128 on the 4x4 pooled map, fc 2048 -> 1024, linear 1024 -> classes."""
    return conv(1, cin, 128) + (4 * 4 * 128 * 1024 + 1024) + (1024 * num_classes + num_classes)


def test_parameter_count_follows_table_1():
    assert googlenet_params() == 6_998_552
    assert _count(_abstract()) == googlenet_params() == models.info("googlenet").published_params
    assert _count(_abstract(lrn=False)) == 6_998_552  # LRN has no parameters
    assert list(INCEPTION_TABLE) == ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


def test_aux_heads_in_training_mode_only():
    model = _abstract(aux_logits=True)
    assert _count(model) == googlenet_params() + aux_params(512) + aux_params(528)
    model.train()
    logits, aux1, aux2 = _run(model, lambda m, x: m(x), (2, 224, 224, 3))
    assert logits.shape == aux1.shape == aux2.shape == (2, 1000)
    model.eval()
    assert _run(model, lambda m, x: m(x), (2, 224, 224, 3)).shape == (2, 1000)


def test_too_small_input_names_the_layer():
    with pytest.raises(ValueError, match=r"googlenet: layer 'avgpool'.*223x223"):
        _run(_abstract(), lambda m, x: m(x), (1, 128, 128, 3))
    with pytest.raises(ValueError, match=r"googlenet: input must be \(N, H, W, 3\)"):
        _run(_abstract(), lambda m, x: m(x), (1, 224, 224, 1))
