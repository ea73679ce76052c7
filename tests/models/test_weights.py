"""Pretrained weights: torchvision/timm state dicts give torchvision's/timm's own logits in jcnn, strictly.

The references come from the real libraries (``make_torchvision_reference.py``): each
supported model's state dict keys and shapes, and its eval-mode logits with seeded random
weights (BatchNorm statistics randomised). Here the same state dicts are regenerated with
NumPy alone, so these tests run without torch.
"""

import re

import jax
import numpy as np
import pytest
from flax import nnx

import _torchvision_reference as ref
import jcnn.models as models
from jcnn.models import weights

KEYS = ref.load_keys()["models"]
LOGITS = np.load(ref.LOGITS_FILE)


def state_dict(model_id):
    sd = ref.random_state_dict(model_id, KEYS[model_id]["keys"])
    assert ref.digest(sd) == KEYS[model_id]["digest"], (
        "NumPy's generator gives other values than when the logits were stored: rerun "
        "tests/models/make_torchvision_reference.py")
    return sd


def zeros_state_dict(model_id, **shapes):
    """Zeros (no memory touched) by the fixture's keys, some ``shapes`` replaced: for tests where values do not matter."""
    return {k: np.zeros(shapes.get(k, shape), np.int64 if k.endswith("num_batches_tracked") else np.float32)
            for k, shape in KEYS[model_id]["keys"]}


def rel_diff(a, b):
    return float(np.abs(np.asarray(a) - b).max() / np.abs(b).max())


def test_every_supported_model_has_a_reference_and_the_rest_are_refused():
    assert set(ref.MODELS.values()) == set(weights.SUPPORTED)
    assert {"alexnet", "googlenet"} <= set(weights.REFUSED)


# One model per conversion path runs by default: ResNet basic and bottleneck blocks, VGG without and
# with BatchNorm (conv bias folded into BN), MobileNetV2, and timm's key names for each family. The
# deeper variants map the same keys with more layers (up to 30 s each in CI at 224x224, their state
# dicts hold 20-140M random weights): full-size runs, marked slow.
DEEPER = {f"torchvision:{n}" for n in ("resnet34", "resnet101", "resnet152", "vgg13", "vgg13_bn", "vgg16",
                                        "vgg16_bn", "vgg19", "vgg19_bn")}


@pytest.mark.parametrize("model_id", [pytest.param(m, marks=pytest.mark.slow) if m in DEEPER else m
                                      for m in ref.MODELS])
def test_converted_weights_give_the_reference_logits_at_224(model_id):
    model = models.create(ref.MODELS[model_id], weights=state_dict(model_id))
    model.eval()
    out = jax.jit(lambda x: model(x))(ref.input_images())  # (2, 1000)
    want = LOGITS[model_id]
    assert rel_diff(out, want) <= 1e-4
    assert np.array_equal(np.argmax(out, -1), np.argmax(want, -1))


def _abstract(name, **kw):
    return nnx.eval_shape(lambda: models.create(name, **kw))


@pytest.mark.parametrize("edit, pattern", [
    (lambda sd: sd.pop("layer1.0.bn1.running_var"), r"missing \(1\): layer1\.0\.bn1\.running_var \(64,\)"),
    (lambda sd: sd.update({"layer5.0.conv1.weight": np.zeros((8, 8, 3, 3), np.float32)}),
     r"unexpected \(not used\) \(1\): layer5\.0\.conv1\.weight \(8, 8, 3, 3\)"),
    (lambda sd: sd.update({"fc.weight": np.zeros((10, 512), np.float32)}),
     r"wrong shape \(1\): fc\.weight: state dict has \(10, 512\), jcnn fc\.kernel \(512, 1000\) needs \(1000, 512\)"),
    (lambda sd: sd.update({"layer2.0.conv1.weight": np.zeros((128, 64, 1, 1), np.float32)}),
     r"layer2\.0\.conv1\.weight: state dict has \(128, 64, 1, 1\).*needs \(128, 64, 3, 3\)"),
])
def test_a_file_that_does_not_fit_names_the_key_and_both_shapes(edit, pattern):
    sd = zeros_state_dict("torchvision:resnet18")
    edit(sd)
    with pytest.raises(ValueError, match=pattern):
        weights.from_torchvision(_abstract("resnet18"), "resnet18", sd)


def test_a_vgg_built_for_another_input_size_is_refused_by_fc6s_shape():
    with pytest.raises(ValueError, match=r"classifier\.0\.weight: state dict has \(4096, 25088\).*needs \(4096, 512\)"):
        weights.from_torchvision(_abstract("vgg11", input_size=32), "vgg11", zeros_state_dict("torchvision:vgg11"))


@pytest.mark.parametrize("name, pattern", [
    ("alexnet", "one weird trick"), ("googlenet", "BatchNorm after every convolution"),
    ("lenet5", "torchvision has no network matching"), ("vgg16_c", "torchvision has no network matching")])
def test_models_without_torchvision_weights_are_refused_with_the_reason(name, pattern):
    with pytest.raises(ValueError, match=pattern):
        models.create(name, weights={})


def test_resnet_v1_strides_are_refused():
    with pytest.raises(ValueError, match="stride_on='1x1'"):
        weights.from_torchvision(_abstract("resnet50", stride_on="1x1"), "resnet50", {})


def _leaves(model):
    return {p: np.asarray(v.get_value()) for p, v in nnx.to_flat_state(nnx.state(model, (nnx.Param, nnx.BatchStat)))}


@pytest.mark.parametrize("model_id", ["torchvision:resnet18", "torchvision:vgg11_bn", "torchvision:mobilenet_v2"])
def test_export_round_trip(model_id):
    name, sd = ref.MODELS[model_id], state_dict(model_id)
    kw = {}
    if name.startswith("vgg"):  # at 32x32 fc6 takes 1x1x512: the same layout with a small classifier
        kw, sd["classifier.0.weight"] = {"input_size": 32}, sd["classifier.0.weight"][:, ::49].copy()
    model = models.create(name, weights=sd, **kw)
    out = weights.to_torchvision(model, name)
    expected = dict(sd)
    for k in sd:  # vgg*_bn: conv bias b of features.i folded into features.(i+1)'s running mean
        r = re.fullmatch(r"features\.(\d+)\.bias", k)
        if r and name.endswith("_bn") and sd[f"features.{r[1]}.weight"].ndim == 4:
            bn = f"features.{int(r[1]) + 1}.running_mean"
            expected[k], expected[bn] = np.zeros_like(sd[k]), sd[bn] - sd[k]
    assert sorted(out) == sorted(expected)
    for k, v in out.items():
        assert v.dtype == expected[k].dtype, k
        np.testing.assert_array_equal(v, expected[k], err_msg=k)
    again = _leaves(models.create(name, weights=out, **kw))
    for path, v in _leaves(model).items():
        np.testing.assert_array_equal(again[path], v)


def test_fine_tuning_head_is_the_seeds_fresh_one_and_the_rest_is_the_files():
    sd = state_dict("torchvision:resnet18")
    model = models.create("resnet18", num_classes=10, seed=3, weights=sd)
    assert model.fc.kernel.shape == (512, 10)
    np.testing.assert_array_equal(np.asarray(model.layer4[1].conv2.conv.kernel[...]),
                                  sd["layer4.1.conv2.weight"].transpose(2, 3, 1, 0))
    fresh = models.create("resnet18", num_classes=10, seed=3)
    np.testing.assert_array_equal(np.asarray(model.fc.kernel[...]), np.asarray(fresh.fc.kernel[...]))
    np.testing.assert_array_equal(np.asarray(model.fc.bias[...]), np.asarray(fresh.fc.bias[...]))
    with pytest.raises(ValueError, match=r"fc\.weight: state dict has \(1000, 512\)"):
        weights.from_torchvision(_abstract("resnet18", num_classes=10), "resnet18", sd)


def test_vgg_fc6_reads_torchvision_columns_in_c_h_w_order():
    # Hand check: torchvision's column c*4 + h*2 + w of classifier.0 multiplies feature (c, h, w) of a
    # 2x2x512 map (a 64x64 input); jcnn's fc6 row (h*2 + w)*512 + c multiplies the same feature.
    sd = zeros_state_dict("torchvision:vgg11", **{"classifier.0.weight": (4096, 2048)})
    sd["classifier.0.weight"] = np.arange(4096 * 2048, dtype=np.float32).reshape(4096, 2048)
    k = np.asarray(models.create("vgg11", input_size=64, weights=sd).fc6.kernel[...])
    assert k.shape == (2048, 4096)
    for c, h, w, o in [(0, 0, 0, 0), (5, 1, 0, 17), (511, 1, 1, 4095), (300, 0, 1, 2048)]:
        assert k[(h * 2 + w) * 512 + c, o] == sd["classifier.0.weight"][o, c * 4 + h * 2 + w]
