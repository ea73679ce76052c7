"""LeNet-5: shapes, parameter counts from the paper's layer table, the C3 connection table."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn.models.lenet import C3_TABLE


def _param_count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


# LeCun et al. 1998, section II.B: C1 6@5x5 on 1 map, C3 16@5x5 on 6 maps, C5 (400 -> 120), F6 120 -> 84, out 84 -> 10.
C1 = 6 * (5 * 5 * 1) + 6
C3_FULL = 16 * (5 * 5 * 6) + 16
C3_TABLE_PARAMS = 60 * 25 + 16  # the paper's 1,516
C5 = 400 * 120 + 120  # the paper's 48,120
F6 = 120 * 84 + 84  # the paper's 10,164
OUT = 84 * 10 + 10


def test_parameter_counts_follow_the_paper_table():
    assert C3_TABLE_PARAMS == 1516 and C5 == 48120 and F6 == 10164
    assert _param_count(models.create("lenet5")) == C1 + C3_FULL + C5 + F6 + OUT == 61706
    assert _param_count(models.create("lenet5", c3_table=True)) == C1 + C3_TABLE_PARAMS + C5 + F6 + OUT
    assert _param_count(models.create("lenet5_modern")) == 61706


def test_c3_table_is_lecun_table_one():
    assert len(C3_TABLE) == 16 and sum(len(c) for c in C3_TABLE) == 60
    assert [len(c) for c in C3_TABLE] == [3] * 6 + [4] * 9 + [6]


def test_c3_table_output_map_ignores_unconnected_inputs():
    model = models.create("lenet5", c3_table=True)
    x = np.random.default_rng(0).normal(size=(1, 14, 14, 6)).astype(np.float32)
    y = np.asarray(model.conv2(jnp.asarray(x)))
    x2 = x.copy()
    x2[..., 3:] = 0.0  # output map 0 sees inputs 0, 1, 2 only
    y2 = np.asarray(model.conv2(jnp.asarray(x2)))
    np.testing.assert_array_equal(y[..., 0], y2[..., 0])
    assert not np.allclose(y[..., 3], y2[..., 3])


@pytest.mark.parametrize("name,shape", [("lenet5", (2, 32, 32, 1)), ("lenet5_modern", (2, 28, 28, 1))])
def test_forward_shapes_and_jit(name, shape):
    model = models.create(name)
    graphdef, state = nnx.split(model)
    y = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, jnp.ones(shape))
    assert y.shape == (2, 10) and bool(jnp.all(jnp.isfinite(y)))


def test_classic_lenet_uses_sigmoid_and_average_pooling():
    model = models.create("lenet5")
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 32, 32, 1)), jnp.float32)
    h = model.act1(model.conv1(x))
    assert float(h.min()) > 0.0 and float(h.max()) < 1.0  # sigmoid range
    p = np.asarray(model.pool1(h))
    np.testing.assert_allclose(p[0, 0, 0], np.asarray(h)[0, :2, :2].mean((0, 1)), rtol=1e-6)
