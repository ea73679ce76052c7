"""VGG: parameter counts derived from Table 1, 224 -> 7x7x512, configuration C's 1x1 layers, BatchNorm variants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn.nn import apply


def _count(state):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(state))


def _param_count(model):
    return _count(nnx.state(model, nnx.Param))


# Simonyan & Zisserman 2015, Table 1, column by column: "conv<k>-<width>" layers; "M" is max pooling.
TABLE_1 = {
    "A": "conv3-64 M conv3-128 M conv3-256 conv3-256 M conv3-512 conv3-512 M conv3-512 conv3-512 M",
    "B": "conv3-64 conv3-64 M conv3-128 conv3-128 M conv3-256 conv3-256 M conv3-512 conv3-512 M "
         "conv3-512 conv3-512 M",
    "C": "conv3-64 conv3-64 M conv3-128 conv3-128 M conv3-256 conv3-256 conv1-256 M "
         "conv3-512 conv3-512 conv1-512 M conv3-512 conv3-512 conv1-512 M",
    "D": "conv3-64 conv3-64 M conv3-128 conv3-128 M conv3-256 conv3-256 conv3-256 M "
         "conv3-512 conv3-512 conv3-512 M conv3-512 conv3-512 conv3-512 M",
    "E": "conv3-64 conv3-64 M conv3-128 conv3-128 M conv3-256 conv3-256 conv3-256 conv3-256 M "
         "conv3-512 conv3-512 conv3-512 conv3-512 M conv3-512 conv3-512 conv3-512 conv3-512 M",
}
FC = [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)]  # FC-4096, FC-4096, FC-1000


def _table_count(config, batch_norm=False):
    """Weights and biases of Table 1's column; with BatchNorm each conv trades its bias for scale + bias."""
    total, cin = 0, 3
    for layer in TABLE_1[config].split():
        if layer == "M":
            continue
        k, width = (int(v) for v in layer[len("conv"):].split("-"))
        total += k * k * cin * width + (2 * width if batch_norm else width)
        cin = width
    return total + sum(i * o + o for i, o in FC)


CASES = [("vgg11", "A", False), ("vgg11_lrn", "A", False), ("vgg13", "B", False), ("vgg16_c", "C", False),
         ("vgg16", "D", False), ("vgg19", "E", False), ("vgg11_bn", "A", True), ("vgg13_bn", "B", True),
         ("vgg16_c_bn", "C", True), ("vgg16_bn", "D", True), ("vgg19_bn", "E", True)]


def test_the_issue_counts_follow_from_table_1():
    assert _table_count("D") == 138_357_544
    assert _table_count("C") == 133_638_952
    # Table 2's rounded "number of parameters (in millions)": 133, 133, 134, 138, 144.
    assert [round(_table_count(c) / 1e6) for c in "ABCDE"] == [133, 133, 134, 138, 144]


@pytest.mark.parametrize("name,config,batch_norm", CASES)
def test_parameter_count_and_shapes(name, config, batch_norm):
    model = nnx.eval_shape(lambda: models.create(name))
    assert _param_count(model) == _table_count(config, batch_norm) == models.info(name).published_params
    # BatchNorm variants carry running statistics (mean, var per conv channel), not counted as parameters.
    convs = [int(layer.split("-")[1]) for layer in TABLE_1[config].split() if layer != "M"]
    assert _count(nnx.state(model, nnx.BatchStat)) == (2 * sum(convs) if batch_norm else 0)
    model.eval()
    graphdef, state = nnx.split(model)

    def run(s, x):
        m = nnx.merge(graphdef, s)
        return m(x), m.stage5(m.stage4(m.stage3(m.stage2(m.stage1(x) if m.lrn is None else
                                                               m.pool1(m.lrn(m.stage1(x)))))))

    logits, features = jax.eval_shape(run, state, jax.ShapeDtypeStruct((2, 224, 224, 3), jnp.float32))
    assert logits.shape == (2, 1000) and features.shape == (2, 7, 7, 512)


def test_configuration_c_closes_stages_3_to_5_with_1x1_convolutions():
    model = nnx.eval_shape(lambda: models.create("vgg16_c"))
    kernels = [[c.conv.kernel.shape for c in getattr(model, f"stage{i}").convs] for i in range(1, 6)]
    assert kernels[2] == [(3, 3, 128, 256), (3, 3, 256, 256), (1, 1, 256, 256)]
    assert kernels[3][-1] == kernels[4][-1] == (1, 1, 512, 512)
    assert all(k[:2] == (3, 3) for stage in kernels[:2] for k in stage)


def test_a_lrn_normalises_after_the_first_convolution():
    model = nnx.eval_shape(lambda: models.create("vgg11_lrn"))
    assert model.stage1.pool is None and model.pool1 is not None and model.lrn.size == 5
    assert nnx.eval_shape(lambda: models.create("vgg11")).lrn is None


def test_small_input_forward_and_batchnorm_modes():
    # input_size=32 sizes fc6 for a 1x1x512 map; BN train mode updates the running statistics.
    model = models.create("vgg11_bn", input_size=32, num_classes=10, seed=0)
    assert model.fc6.kernel.shape == (512, 4096)
    graphdef, state = nnx.split(model)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 32, 32, 3)), jnp.float32)
    step = jax.jit(lambda s, x, key: (apply(graphdef, s, x, train=True, rngs=key), apply(graphdef, s, x)))
    (y_train, new_state), (y_eval, _) = step(state, x, jax.random.key(1))
    assert y_train.shape == y_eval.shape == (4, 10)
    assert bool(jnp.all(jnp.isfinite(y_train))) and bool(jnp.all(jnp.isfinite(y_eval)))
    old = nnx.state(model, nnx.BatchStat)["stage1"]["convs"][0]["bn"]["mean"][...]
    new = new_state["stage1"]["convs"][0]["bn"]["mean"][...]
    assert not np.allclose(np.asarray(old), np.asarray(new))
