"""AlexNet: parameter counts from the paper's layer table, 224 and 227 inputs, towers, the paper's init."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn.models.alexnet import TowerLRN


def _param_count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _eval_shape(model, shape, fn=lambda m, x: m(x)):
    """Output shape of ``fn(model, x)`` for x of ``shape``, without computing (model may be abstract)."""
    model.eval()
    graphdef, state = nnx.split(model)
    out = jax.eval_shape(lambda s, x: fn(nnx.merge(graphdef, s), x), state, jax.ShapeDtypeStruct(shape, jnp.float32))
    return out.shape


# Krizhevsky et al. 2012, section 3.5 / Figure 2: (kernel, C_in, C_out, groups) of each convolution;
# with two towers, conv2, conv4 and conv5 see only the maps on their own GPU (groups=2).
CONVS = [(11, 3, 96), (5, 96, 256), (3, 256, 384), (3, 384, 384), (3, 384, 256)]
TOWER_GROUPS = [1, 2, 1, 2, 2]
DENSE = [(6 * 6 * 256, 4096), (4096, 4096), (4096, 1000)]


def _table_count(groups):
    convs = sum(k * k * cin // g * cout + cout for (k, cin, cout), g in zip(CONVS, groups))
    return convs + sum(i * o + o for i, o in DENSE)


@pytest.mark.parametrize("name,groups,count", [("alexnet", [1] * 5, 62_378_344),
                                               ("alexnet_grouped", TOWER_GROUPS, 60_965_224)])
def test_parameter_count_follows_the_paper_table(name, groups, count):
    assert _table_count(groups) == count
    assert _param_count(nnx.eval_shape(lambda: models.create(name))) == count
    assert models.info(name).published_params == count


def _features(m, x):
    x = m.pool1(m.lrn1(m.relu1(m.conv1(x))))
    x = m.pool2(m.lrn2(m.relu2(m.conv2(x))))
    x = m.relu4(m.conv4(m.relu3(m.conv3(x))))
    return m.pool5(m.relu5(m.conv5(x)))


@pytest.mark.parametrize("name", ["alexnet", "alexnet_grouped"])
@pytest.mark.parametrize("size,conv1", [(227, 55), (224, 54)])
def test_224_and_227_inputs_both_reach_6x6_at_pool5(name, size, conv1):
    model = nnx.eval_shape(lambda: models.create(name))
    assert _eval_shape(model, (2, size, size, 3), lambda m, x: m.conv1(x)) == (2, conv1, conv1, 96)
    assert _eval_shape(model, (2, size, size, 3), lambda m, x: m.pool1(m.conv1(x))) == (2, 27, 27, 96)
    assert _eval_shape(model, (2, size, size, 3), _features) == (2, 6, 6, 256)
    assert _eval_shape(model, (2, size, size, 3)) == (2, 1000)


def test_towers_split_conv2_conv4_conv5_only():
    model = nnx.eval_shape(lambda: models.create("alexnet_grouped"))
    shapes = {n: getattr(model, n).kernel.shape for n in ("conv1", "conv2", "conv3", "conv4", "conv5")}
    assert shapes == {"conv1": (11, 11, 3, 96), "conv2": (5, 5, 48, 256), "conv3": (3, 3, 256, 384),
                      "conv4": (3, 3, 192, 384), "conv5": (3, 3, 192, 256)}


def test_relu_after_fc6_and_fc7_as_in_the_paper():
    # Seed 003's code has no ReLU after fc6/fc7; the paper (and this model) does.
    model = nnx.eval_shape(lambda: models.create("alexnet"))
    assert model.relu6.name == "relu" and model.relu7.name == "relu"
    assert model.drop6.rate == 0.5 and model.drop7.rate == 0.5


def _np_lrn(x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    c = x.shape[-1]
    out = np.empty_like(x)
    for i in range(c):
        lo, hi = max(0, i - size // 2), min(c, i + (size - 1) // 2 + 1)
        out[..., i] = x[..., i] / (k + alpha * (x[..., lo:hi] ** 2).sum(-1)) ** beta
    return out


def test_tower_lrn_normalises_within_each_tower():
    x = np.random.default_rng(0).normal(scale=30.0, size=(2, 3, 3, 8)).astype(np.float32)
    y = np.asarray(TowerLRN(groups=2)(jnp.asarray(x)))
    ref = np.concatenate([_np_lrn(x[..., :4]), _np_lrn(x[..., 4:])], axis=-1)
    np.testing.assert_allclose(y, ref, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(TowerLRN()(jnp.asarray(x))), _np_lrn(x), rtol=1e-5)


def test_paper_init_and_a_real_forward_pass():
    model = models.create("alexnet_grouped", paper_init=True, seed=0)
    for name in ("conv2", "conv4", "conv5", "fc6", "fc7"):
        np.testing.assert_array_equal(np.asarray(getattr(model, name).bias[...]), 1.0)
    for name in ("conv1", "conv3", "fc8"):
        np.testing.assert_array_equal(np.asarray(getattr(model, name).bias[...]), 0.0)
    assert abs(float(jnp.std(model.fc6.kernel[...])) - 0.01) < 1e-4
    model.eval()
    graphdef, state = nnx.split(model)
    y = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, jnp.ones((1, 224, 224, 3)))
    assert y.shape == (1, 1000) and bool(jnp.all(jnp.isfinite(y)))
