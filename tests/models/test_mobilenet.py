"""MobileNet v1 and v2: parameter counts from the papers' tables, width multipliers, small forwards."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn import nn


def _count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _abstract(name, **kw):
    return nnx.eval_shape(lambda: models.create(name, **kw))


def _run(model, shape):
    graphdef, state = nnx.split(model)
    return jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, jax.ShapeDtypeStruct(shape, jnp.float32))


def conv_bn(k, cin, cout, groups=1):
    """A bias-free k x k conv and its BatchNorm (scale + bias)."""
    return k * k * (cin // groups) * cout + 2 * cout


def v1_params(width=1.0, num_classes=1000):
    """Howard et al. 2017, Table 1: conv 3x3/2 32, then 13 x (depthwise 3x3 + BN, pointwise 1x1 + BN), fc."""
    c = lambda n: int(n * width)  # noqa: E731
    total, cin = conv_bn(3, 3, c(32)), c(32)
    for cout in (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024):
        total += conv_bn(3, cin, cin, groups=cin) + conv_bn(1, cin, c(cout))
        cin = c(cout)
    return total + cin * num_classes + num_classes


def v2_params(num_classes=1000):
    """Sandler et al. 2018, Table 2 (t, c, n, s): conv 32, 17 bottlenecks, conv 1x1 1280, classifier."""
    total, cin = conv_bn(3, 3, 32), 32
    for t, c, n, _ in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)):
        for _ in range(n):
            hidden = t * cin
            expand = conv_bn(1, cin, hidden) if t != 1 else 0
            total += expand + conv_bn(3, hidden, hidden, groups=hidden) + conv_bn(1, hidden, c)
            cin = c
    return total + conv_bn(1, cin, 1280) + 1280 * num_classes + num_classes


def test_known_counts():
    assert v1_params() == 4_231_976  # the paper's 4.2M
    assert v2_params() == 3_504_872  # torchvision's exact figure; the paper's Table 4 says 3.4M


@pytest.mark.parametrize("width,paper_millions", [(1.0, 4.2), (0.75, 2.6), (0.5, 1.3), (0.25, 0.5)])
def test_mobilenet_v1_counts_follow_table_1_and_table_6(width, paper_millions):
    model = _abstract("mobilenet_v1", width=width)
    assert _count(model) == v1_params(width)
    assert round(_count(model) / 1e6, 1) == paper_millions  # Table 6: width multiplier
    if width == 1.0:
        assert _count(model) == models.info("mobilenet_v1").published_params


def test_mobilenet_v2_count_follows_table_2():
    model = _abstract("mobilenet_v2")
    assert _count(model) == v2_params() == models.info("mobilenet_v2").published_params
    assert len(model.blocks) == 17 and sum(b.use_residual for b in model.blocks) == 10  # n - 1 per sequence


def test_mobilenet_v2_width_multiplier_rounds_to_8_and_keeps_1280():
    model = _abstract("mobilenet_v2", width=0.35)
    assert model.stem.conv.out_channels == nn.make_divisible(32 * 0.35) == 16
    assert [b.out_channels for b in model.blocks][::4] == [8, 16, 24, 32, 112]
    assert model.head.conv.out_channels == 1280
    assert _abstract("mobilenet_v2", width=1.4).head.conv.out_channels == 1792


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
def test_shapes_at_224(name):
    assert _run(_abstract(name), (2, 224, 224, 3)).shape == (2, 1000)


@pytest.mark.parametrize("name,kw", [("mobilenet_v1", {"width": 0.25}), ("mobilenet_v2", {"width": 0.5})])
def test_small_forward_jit_train_and_eval(name, kw):
    model = models.create(name, num_classes=10, **kw)
    graphdef, state = nnx.split(model)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 32, 32, 3)), jnp.float32)
    step = jax.jit(lambda s, x, key: nn.apply(graphdef, s, x, train=True, rngs=key))
    y, new_state = step(state, x, jax.random.key(0))
    assert y.shape == (2, 10) and bool(jnp.all(jnp.isfinite(y)))
    assert not np.allclose(np.asarray(new_state["stem"]["bn"]["mean"][...]), 0.0)
    y_eval, _ = jax.jit(lambda s, x: nn.apply(graphdef, s, x))(state, x)
    assert y_eval.shape == (2, 10)


def test_bad_width_and_input():
    with pytest.raises(ValueError, match="width"):
        models.create("mobilenet_v1", width=1.5)
    with pytest.raises(ValueError, match=r"mobilenet_v2: input must be \(N, H, W, 3\)"):
        _run(_abstract("mobilenet_v2"), (2, 32, 32))
