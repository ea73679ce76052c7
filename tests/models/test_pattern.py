"""from_pattern: seed 004's grammar, the layers it builds, counts by hand, round trips, positioned errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn.models import from_pattern, normalize_pattern, to_pattern
from jcnn.nn import apply

SEED_004 = "INPUT -> [[CONV(32) -> RELU]*2 -> POOL]*2 -> [FC(128) -> RELU]*1 -> FC(10)"
EXPANDED = ("INPUT -> CONV(32) -> RELU -> CONV(32) -> RELU -> POOL -> CONV(32) -> RELU -> CONV(32) -> RELU -> POOL"
            " -> FC(128) -> RELU -> FC(10)")


def _param_count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_seed_pattern_builds_the_expected_layers_and_count():
    model = from_pattern(SEED_004, in_channels=1, input_size=28, num_classes=10)
    assert model.layer_names == ("conv1", "relu1", "conv2", "relu2", "pool1", "conv3", "relu3", "conv4", "relu4",
                                 "pool2", "flatten", "fc1", "relu5", "fc2")
    # 28 -> pool -> 14 -> pool -> 7, 'same' 3x3 convs: 7*7*32 = 1568 features into FC(128).
    convs = (9 * 1 * 32 + 32) + 3 * (9 * 32 * 32 + 32)
    dense = (7 * 7 * 32 * 128 + 128) + (128 * 10 + 10)
    assert _param_count(model) == convs + dense == 230_186
    assert model.fc1.kernel.shape == (1568, 128) and model.output_shape == (10,)
    assert model[0] is model.conv1 and model["fc2"] is model.fc2 and len(model) == 14


def test_forward_pass_jit():
    model = from_pattern(SEED_004, in_channels=1, input_size=28)
    graphdef, state = nnx.split(model)
    y = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, jnp.ones((2, 28, 28, 1)))
    assert y.shape == (2, 10) and bool(jnp.all(jnp.isfinite(y)))


def test_round_trip_normalised_spec():
    messy = "input->[ [conv(32)->Relu]*2->pool ]*2 -> [fc(128) -> relu]*1 → FC(10)"
    assert normalize_pattern(messy) == SEED_004
    assert normalize_pattern(messy, expand=True) == EXPANDED
    model = from_pattern(messy, in_channels=1, input_size=28, seed=3)
    assert model.pattern == SEED_004 and to_pattern(model) == EXPANDED
    # The expanded spec rebuilds the same architecture, and the same parameters from the same seed.
    again = from_pattern(to_pattern(model), in_channels=1, input_size=28, seed=3)
    assert again.layer_names == model.layer_names and to_pattern(again) == EXPANDED
    jax.tree.map(np.testing.assert_array_equal, nnx.state(model, nnx.Param), nnx.state(again, nnx.Param))


@pytest.mark.parametrize("spec,normal", [
    ("CONV(16, 3, 1) -> POOL(max, 2) -> GAP -> FC(4)", "INPUT -> CONV(16) -> POOL -> GAP -> FC(4)"),
    ("conv(16,5,2) -> pool(avg) -> pool(3) -> pool(avg,3)",
     "INPUT -> CONV(16, 5, 2) -> POOL(avg) -> POOL(3) -> POOL(avg, 3)"),
    ("CONV(8)*3 -> DROPOUT(.25) -> FC(2)", "INPUT -> [CONV(8)]*3 -> DROPOUT(0.25) -> FC(2)"),
    ("[CONV(8) -> BN -> LEAKY_RELU] -> POOL?", "INPUT -> [CONV(8) -> BN -> LEAKY_RELU]*1 -> POOL?"),
])
def test_normal_form(spec, normal):
    assert normalize_pattern(spec) == normal
    assert normalize_pattern(normal) == normal


def test_optional_pool_applies_while_the_map_fits():
    # 8 -> 4 -> 2 -> 1; the fourth and fifth POOL? are skipped.
    model = from_pattern("[CONV(4) -> RELU -> POOL?]*5 -> FC(3)", in_channels=3, input_size=8)
    assert [n for n in model.layer_names if n.startswith("pool")] == ["pool1", "pool2", "pool3"]
    assert model.fc1.kernel.shape == (4, 3)
    assert to_pattern(model).count("POOL") == 3 and "?" not in to_pattern(model)


def test_batchnorm_removes_the_bias_before_it_and_has_batch_stats():
    model = from_pattern("CONV(8) -> BN -> RELU -> CONV(8) -> RELU -> GAP -> FC(6) -> BN -> FC(2)",
                         in_channels=3, input_size=(6, 10))
    assert model.conv1.bias is None and model.conv2.bias is not None
    assert model.fc1.bias is None and model.fc2.bias is not None
    conv = 9 * 3 * 8 + (9 * 8 * 8 + 8)
    dense = 8 * 6 + 2 * 6 + (6 * 2 + 2)
    assert _param_count(model) == conv + 2 * 8 + dense
    graphdef, state = nnx.split(model)
    out, new_state = apply(graphdef, state, jnp.ones((2, 6, 10, 3)), train=True)
    assert out.shape == (2, 2) and "mean" in new_state["bn1"]


def test_init_is_a_function_of_seed():
    a = from_pattern(SEED_004, in_channels=1, input_size=28, seed=0)
    b = from_pattern(SEED_004, in_channels=1, input_size=28, rngs=nnx.Rngs(params=0, dropout=1))
    c = from_pattern(SEED_004, in_channels=1, input_size=28, seed=1)
    jax.tree.map(np.testing.assert_array_equal, nnx.state(a, nnx.Param), nnx.state(b, nnx.Param))
    assert not np.array_equal(np.asarray(a.conv1.kernel[...]), np.asarray(c.conv1.kernel[...]))


@pytest.mark.parametrize("spec,message,position", [
    ("INPUT -> CONV(32 -> RELU", "expected ')', got '->'", 17),
    ("INPUT -> CNV(32)", "unknown layer 'CNV' (close matches: ['CONV']", 9),
    ("CONV(0)", "CONV: width must be a positive int", 5),
    ("[CONV(8)]*0", "repetition count must be a positive int", 10),
    ("CONV(8) -> ", "expected a layer name or '['", 11),
    ("CONV(8) -> RELU?", "only POOL may be optional", 15),
    ("CONV(8) $ RELU", "unexpected character '$'", 8),
    ("[CONV(8) -> RELU", "expected ']'", 16),
    ("CONV(8)] -> RELU", "expected '->' or the end", 7),
    ("POOL(3, 3, 3)", "POOL takes 0 to 2 arguments", 0),
    ("DROPOUT(1.5)", "rate must be a number in [0, 1)", 8),
    ("CONV(8) -> INPUT", "INPUT may only start", 11),
    ("FC(10) -> CONV(8)", "CONV needs a spatial input", 10),
    ("CONV(8) -> POOL(16)", "16x16 window does not fit the 8x8 map", 11),
])
def test_syntax_errors_give_the_position(spec, message, position):
    with pytest.raises(ValueError) as err:
        from_pattern(spec, in_channels=3, input_size=8)
    assert message in str(err.value) and f"at position {position}:" in str(err.value)
    caret = str(err.value).splitlines()[-1]
    assert caret == "  " + " " * position + "^"


def test_num_classes_must_match_the_last_fc():
    with pytest.raises(ValueError, match=r"num_classes=5 but the pattern does not end in FC\(5\)"):
        from_pattern(SEED_004, in_channels=1, input_size=28, num_classes=5)
