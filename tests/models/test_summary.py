"""jcnn.summary: per-layer params, MACs/FLOPs and receptive field; the counting examples of the seeds."""

import json

import jax
import numpy as np
import pytest
from flax import nnx

import jcnn
from jcnn import models, nn


def n_params(module):
    return sum(int(np.prod(v.shape)) for v in jax.tree_util.tree_leaves(nnx.state(module, nnx.Param)))


def test_lenet5_rows_params_macs():
    model = models.create("lenet5")
    s = jcnn.summary(model, (32, 32, 1), print_=False)
    assert [r.name for r in s.rows][:3] == ["conv1", "act1", "pool1"]
    for r in s.rows:
        assert r.params == n_params(getattr(model, r.name))
        assert r.flops == 2 * r.macs
    assert s.total["params"] == n_params(model) == sum(r.params for r in s.rows) == 61_706
    # conv1: 28x28x6 outputs, each 5x5x1 multiply-adds; conv2: 10x10x16 outputs of 5x5x6
    assert s["conv1"].macs == 28 * 28 * 6 * 5 * 5 * 1 == 117_600
    assert s["conv2"].macs == 10 * 10 * 16 * 5 * 5 * 6
    assert s["fc1"].macs == 400 * 120
    assert s.total["macs"] == sum(r.macs for r in s.rows)
    assert (s["pool2"].rf, s["pool2"].jump, s["pool2"].start) == (16, 4, 7.5)
    assert s["conv1"].output_shape == (1, 28, 28, 6)
    d = json.loads(s.to_json())
    assert d["total"] == s.total and d["layers"][0]["output_shape"] == [1, 28, 28, 6]
    assert "Total params: 61,706" in str(s) and "conv1 (Conv)" in str(s)


def test_registered_name_uses_default_input(capsys):
    s = jcnn.summary("lenet5_modern")
    assert s.input_shape == (1, 28, 28, 1) and s.rows[-1].output_shape == (1, 10)
    assert "lenet5_modern" in capsys.readouterr().out


class One(nnx.Module):
    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        return self.layer(x)


def test_dense_vs_conv_weights_28_to_14():
    rngs = nnx.Rngs(0)
    dense = jcnn.summary(One(nn.Dense(28 * 28, 14 * 14, use_bias=False, rngs=rngs)), (1, 784), print_=False)
    assert dense.total["params"] == 153_664
    conv = jcnn.summary(One(nn.Conv(1, 1, kernel_size=2, stride=2, use_bias=False, rngs=rngs)), (28, 28, 1),
                        print_=False)
    assert conv.total["params"] == 4 and conv.rows[0].output_shape == (1, 14, 14, 1)
    assert conv.total["macs"] == 14 * 14 * 4


def test_image_to_1000_units_dense():
    model = nnx.eval_shape(lambda: nnx.Sequential(nn.Flatten(), nn.Dense(64 * 64 * 3, 1000, use_bias=False,
                                                                          rngs=nnx.Rngs(0))))
    s = jcnn.summary(model, (64, 64, 3), print_=False)
    assert s.total["params"] == 12_288_000 == s.total["macs"]
    assert s.rows[1].rf == 64 and s.rows[1].jump is None  # dense after flatten sees everything


@pytest.mark.parametrize("c", [8, 16])
def test_three_3x3_vs_one_7x7(c):
    rngs = nnx.Rngs(0)
    three = nnx.Sequential(*[nn.Conv(c, c, kernel_size=3, padding=1, use_bias=False, rngs=rngs) for _ in range(3)])
    one = nnx.Sequential(nn.Conv(c, c, kernel_size=7, padding=3, use_bias=False, rngs=rngs))
    s3, s1 = (jcnn.summary(m, (16, 16, c), print_=False) for m in (three, one))
    assert s3.total["params"] == 27 * c * c and s1.total["params"] == 49 * c * c
    assert s3.rows[-1].rf == s1.rows[-1].rf == 7  # same field, fewer weights


def test_bottleneck_saving_at_56():
    bottleneck = nnx.eval_shape(lambda rngs: nnx.Sequential(
        nn.Conv(256, 64, kernel_size=1, use_bias=False, rngs=rngs),
        nn.Conv(64, 64, kernel_size=3, padding=1, use_bias=False, rngs=rngs),
        nn.Conv(64, 256, kernel_size=1, use_bias=False, rngs=rngs)), nnx.Rngs(0))
    plain = nnx.eval_shape(lambda rngs: nnx.Sequential(nn.Conv(256, 256, kernel_size=3, padding=1, use_bias=False,
                                                               rngs=rngs)), nnx.Rngs(0))
    b, p = (jcnn.summary(m, (56, 56, 256), print_=False) for m in (bottleneck, plain))
    assert [r.params for r in b.rows] == [16_384, 36_864, 16_384]
    assert b.total["params"] == 69_632 and p.total["params"] == 589_824
    # every weight is used once per output position: MACs = weights x 56 x 56
    assert b.total["macs"] == 69_632 * 56 * 56 and p.total["macs"] == 589_824 * 56 * 56
    assert p.total["flops"] / b.total["flops"] == pytest.approx(8.47, abs=0.01)


# Seed 001's GoogLeNet table (Szegedy et al. 2014, Table 1); the seed's "112x142" is the paper's 112x112.
GOOGLENET_TABLE = [
    ("conv1", (112, 112, 64)), ("pool1", (56, 56, 64)), ("conv2", (56, 56, 192)), ("pool2", (28, 28, 192)),
    ("inception3a", (28, 28, 256)), ("inception3b", (28, 28, 480)), ("pool3", (14, 14, 480)),
    ("inception4a", (14, 14, 512)), ("inception4b", (14, 14, 512)), ("inception4c", (14, 14, 512)),
    ("inception4d", (14, 14, 528)), ("inception4e", (14, 14, 832)), ("pool4", (7, 7, 832)),
    ("inception5a", (7, 7, 832)), ("inception5b", (7, 7, 1024)), ("avgpool", (1, 1, 1024)),
    ("dropout", (1, 1, 1024)), ("fc", (1, 1, 1000)),
]


def test_googlenet_table_rows_at_224():
    model = nnx.eval_shape(lambda: models.create("googlenet"))
    s = jcnn.summary(model, (224, 224, 3), depth=1, print_=False)
    shapes = {r.name: r.output_shape[1:] for r in s.rows}
    for name, shape in GOOGLENET_TABLE:
        assert shapes[name] == shape, name
    assert s.total["params"] == n_params(model)
    assert (s["conv1"].rf, s["conv1"].jump) == (7, 2)


def test_depth_groups_resnet_stages():
    model = nnx.eval_shape(lambda: models.create("resnet18"))
    s = jcnn.summary(model, (64, 64, 3), depth=1, print_=False)
    assert [r.name for r in s.rows] == ["stem", "maxpool", "layer1", "layer2", "layer3", "layer4", "pool", "fc"]
    assert sum(r.params for r in s.rows) == s.total["params"] == n_params(model)
    assert s["pool"].rf == 64 and s["pool"].jump is None  # global average pooling
    leaves = jcnn.summary(model, (64, 64, 3), print_=False)
    assert leaves.total == s.total


def test_check_input_names_model_layer_and_shapes():
    assert models.check_input("lenet5", (32, 32, 1)) == (1, 10)
    with pytest.raises(ValueError, match=r"lenet5.*3 channels.*expected 1"):
        models.check_input("lenet5", (32, 32, 3))
    with pytest.raises(ValueError, match=r"LeNet5|lenet5") as err:
        models.check_input("lenet5", (8, 8, 1))
    assert "conv2" in str(err.value) and "(1, 8, 8, 1)" in str(err.value)
    with pytest.raises(ValueError, match="unknown model 'lenet6'.*lenet5"):
        models.check_input("lenet6", (32, 32, 1))


def test_summary_error_names_layer():
    model = nnx.eval_shape(lambda: models.create("vgg16"))
    # 16x16 reaches 1x1 after four 2x2 pools: the fifth pool has nothing to pool
    with pytest.raises(ValueError, match=r"vgg16: layer 'stage5.pool' \(MaxPool\) cannot take input \(1, 1, 1, 512\)"):
        jcnn.summary("vgg16", (16, 16, 3), print_=False)
    with pytest.raises(ValueError, match=r"VGG.*\(1, 32, 32, 1\)"):
        jcnn.summary(model, (32, 32, 1), print_=False)


def test_summary_at_the_prompt_prints_the_table_once(capsys):
    import sys

    s = jcnn.summary("lenet5")
    sys.displayhook(s)  # what the interactive prompt does with the returned value
    out = capsys.readouterr().out
    assert out.count("Total params: 61,706") == 1 and out.count('Model: "lenet5"') == 1
    assert repr(s).count("\n") == 0 and "61,706 params" in repr(s)


def test_a_bare_layer_is_its_own_row():
    conv = nn.Conv(1, 2, kernel_size=3, rngs=nnx.Rngs(0))
    s = jcnn.summary(conv, (8, 8, 1), print_=False)
    assert [(r.name, r.type, r.output_shape) for r in s.rows] == [("Conv", "Conv", (1, 6, 6, 2))]
    row = s.rows[0]
    assert row.params == 3 * 3 * 1 * 2 + 2 == s.total["params"]
    assert row.macs == 6 * 6 * 2 * (3 * 3 * 1) == s.total["macs"]  # nothing left "outside layers"
    assert (row.rf, row.jump, row.start) == (3, 1, 1)  # unpadded: the first window is centred on pixel 1
