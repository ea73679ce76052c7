"""ZFNet: the sizes of Figure 3 and the parameter count from its layer table."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jcnn.models as models


def _param_count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


# Zeiler & Fergus 2014, Figure 3: (kernel, C_in, C_out) of each convolution, then the dense layers.
CONVS = [(7, 3, 96), (5, 96, 256), (3, 256, 384), (3, 384, 384), (3, 384, 256)]
DENSE = [(6 * 6 * 256, 4096), (4096, 4096), (4096, 1000)]
PAPER_COUNT = sum(k * k * cin * cout + cout for k, cin, cout in CONVS) + sum(i * o + o for i, o in DENSE)


def test_parameter_count_follows_figure_3():
    assert PAPER_COUNT == 62_357_608
    model = nnx.eval_shape(lambda: models.create("zfnet"))
    assert _param_count(model) == PAPER_COUNT == models.info("zfnet").published_params
    assert model.conv1.kernel.shape == (7, 7, 3, 96) and model.conv1.stride == 2
    assert model.conv2.kernel.shape == (5, 5, 96, 256) and model.conv2.stride == 2
    # Contrast normalisation across maps, AlexNet's LRN constants.
    assert (model.lrn1.k, model.lrn1.size, model.lrn1.alpha, model.lrn1.beta) == (2.0, 5, 1e-4, 0.75)


def test_feature_map_sizes_are_those_of_figure_3():
    model = nnx.eval_shape(lambda: models.create("zfnet"))
    model.eval()
    graphdef, state = nnx.split(model)

    def trace(s, image):
        m = nnx.merge(graphdef, s)
        out = {"logits": m(image)}
        x = out["conv1"] = m.relu1(m.conv1(image))
        x = out["pool1"] = m.lrn1(m.pool1(x))
        x = out["conv2"] = m.relu2(m.conv2(x))
        x = out["pool2"] = m.lrn2(m.pool2(x))
        x = out["conv5"] = m.relu5(m.conv5(m.relu4(m.conv4(m.relu3(m.conv3(x))))))
        out["pool5"] = m.pool5(x)
        return out

    shapes = jax.eval_shape(trace, state, jax.ShapeDtypeStruct((2, 224, 224, 3), jnp.float32))
    assert {k: v.shape[1:] for k, v in shapes.items()} == {
        "conv1": (110, 110, 96), "pool1": (55, 55, 96), "conv2": (26, 26, 256), "pool2": (13, 13, 256),
        "conv5": (13, 13, 256), "pool5": (6, 6, 256), "logits": (1000,)}
