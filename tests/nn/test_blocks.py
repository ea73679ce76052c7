"""jcnn.nn blocks: ConvBNAct, VGGStage, residual, Inception and MobileNet blocks.

Parameter counts are written out from the papers' block diagrams; value
oracles are NumPy, written here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn import nn


def _count(module):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(module, nnx.Param)))


def _x(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def np_conv2d(x, w, pad, stride=1):
    """Plain loop cross-correlation, (N, H, W, C) x (KH, KW, C, O), no bias."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw, _, o = w.shape
    ho, wo = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], ho, wo, o))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y


def np_option_a(x, out_channels, stride):
    """He et al.'s option A: subsample by ``stride``, zero-pad channels up to ``out_channels``."""
    x = x[:, ::stride, ::stride, :]
    return np.concatenate([x, np.zeros((*x.shape[:-1], out_channels - x.shape[-1]), x.dtype)], axis=-1)


# ---------------------------------------------------------------- ConvBNAct, VGGStage

def test_conv_bn_act_is_conv_then_bn_then_relu_without_conv_bias():
    block = nn.ConvBNAct(3, 4, kernel_size=3, rngs=nnx.Rngs(0))
    assert block.conv.bias is None and _count(block) == 3 * 3 * 3 * 4 + 2 * 4
    block.eval()  # running mean 0, var 1: BN is x / sqrt(1 + eps)
    x = np.asarray(_x((2, 5, 5, 3)))
    ref = np.maximum(np_conv2d(x, np.asarray(block.conv.kernel[...]), 1) / np.sqrt(1 + 1e-5), 0)
    np.testing.assert_allclose(np.asarray(block(jnp.asarray(x))), ref, rtol=1e-5, atol=1e-5)


def test_conv_bn_act_without_norm_keeps_the_bias():
    block = nn.ConvBNAct(3, 4, kernel_size=1, norm=False, activation=None, rngs=nnx.Rngs(0))
    assert block.bn is None and block.conv.bias is not None and _count(block) == 3 * 4 + 4


def test_vgg_stage_halves_the_map_and_counts_its_convs():
    stage = nn.VGGStage(3, 8, num_convs=2, batch_norm=True, rngs=nnx.Rngs(0))
    assert stage(_x((2, 8, 8, 3))).shape == (2, 4, 4, 8)
    assert _count(stage) == (9 * 3 * 8 + 2 * 8) + (9 * 8 * 8 + 2 * 8)
    with pytest.raises(ValueError, match="kernel_sizes"):
        nn.VGGStage(3, 8, num_convs=2, kernel_sizes=(3,), rngs=nnx.Rngs(0))


# ---------------------------------------------------------------- residual blocks

def test_basic_block_counts_two_3x3_convs_and_a_projection_only_when_shapes_change():
    same = nn.BasicBlock(16, 16, rngs=nnx.Rngs(0))
    assert same.shortcut is None and _count(same) == 2 * (9 * 16 * 16 + 2 * 16)
    proj = nn.BasicBlock(16, 32, stride=2, rngs=nnx.Rngs(0))
    assert _count(proj) == (9 * 16 * 32 + 64) + (9 * 32 * 32 + 64) + (16 * 32 + 64)
    option_a = nn.BasicBlock(16, 32, stride=2, shortcut="A", rngs=nnx.Rngs(0))
    assert isinstance(option_a.shortcut, nn.ShortcutA) and _count(option_a) == _count(proj) - (16 * 32 + 64)
    assert option_a(_x((2, 8, 8, 16))).shape == (2, 4, 4, 32)


@pytest.mark.parametrize("cin,cout,stride,hw", [(16, 16, 1, 6), (16, 32, 2, 8), (8, 16, 2, 7)])
def test_zero_initialised_residual_branch_leaves_relu_of_the_shortcut(cin, cout, stride, hw):
    block = nn.BasicBlock(cin, cout, stride=stride, shortcut="A", zero_init_residual=True, rngs=nnx.Rngs(0))
    block.eval()
    x = np.asarray(_x((2, hw, hw, cin)))
    y = np.asarray(block(jnp.asarray(x)))
    np.testing.assert_array_equal(y, np.maximum(np_option_a(x, cout, stride), 0))


def test_option_a_shortcut_has_no_parameters_and_rejects_narrowing():
    sc = nn.ShortcutA(4, 6, stride=2)
    assert _count(sc) == 0
    x = np.asarray(_x((1, 5, 5, 4)))
    np.testing.assert_array_equal(np.asarray(sc(jnp.asarray(x))), np_option_a(x, 6, 2))  # odd: ceil(5/2) = 3
    with pytest.raises(ValueError, match="shortcut='B'"):
        nn.ShortcutA(8, 4)
    with pytest.raises(ValueError, match="shortcut='C'"):
        nn.BasicBlock(4, 8, shortcut="C", rngs=nnx.Rngs(0))


def test_bottleneck_256_64_256_is_seed_001s_saving():
    block = nn.Bottleneck(256, 256, rngs=nnx.Rngs(0))
    assert block.mid_channels == 64 and block.shortcut is None
    weights = 256 * 64 + 9 * 64 * 64 + 64 * 256  # 1x1 reduce, 3x3, 1x1 expand
    assert weights == 69_632 and _count(block) == weights + 2 * (64 + 64 + 256)
    assert 2 * 9 * 256 * 256 == 1_179_648  # two plain 3x3 layers at 256: ~17x more
    assert block(_x((1, 4, 4, 256))).shape == (1, 4, 4, 256)


@pytest.mark.parametrize("stride_on", ["3x3", "1x1"])
def test_bottleneck_stride_placement_v1_and_v1_5(stride_on):
    block = nn.Bottleneck(64, 256, stride=2, stride_on=stride_on, rngs=nnx.Rngs(0))
    assert block.conv1.conv.stride == (2 if stride_on == "1x1" else 1)
    assert block.conv2.conv.stride == (1 if stride_on == "1x1" else 2)
    assert _count(block) == 64 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256) + (64 * 256 + 2 * 256)
    assert block(_x((1, 8, 8, 64))).shape == (1, 4, 4, 256)


def test_batch_norm_in_a_residual_block_updates_running_stats_in_train_mode_only():
    block = nn.BasicBlock(4, 8, stride=2, rngs=nnx.Rngs(0))
    x = _x((4, 6, 6, 4)) * 3.0 + 1.0
    before = np.asarray(block.conv1.bn.mean[...]).copy()
    block.train()
    y_train = block(x)
    after = np.asarray(block.conv1.bn.mean[...]).copy()
    assert not np.allclose(before, after)
    block.eval()
    y1, y2 = block(x), block(x)
    np.testing.assert_array_equal(np.asarray(block.conv1.bn.mean[...]), after)
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    assert not np.allclose(np.asarray(y_train), np.asarray(y1))


def test_dilated_block_keeps_the_map_and_sees_only_its_grid():
    # Two dilation-2 3x3 convs: the branch reads a 9x9 window at even offsets only (DRN's "gridding").
    block = nn.DilatedResidualBlock(1, 1, dilation=2, residual=False, rngs=nnx.Rngs(0))
    block.eval()
    assert block.conv1.conv.dilation == 2 and block.conv2.conv.dilation == 2
    x = _x((1, 15, 15, 1), seed=1)
    assert block(x).shape == x.shape
    g = np.asarray(jax.grad(lambda x: jnp.sum(block.conv2(block.conv1(x))[0, 7, 7]))(x))[0, :, :, 0]
    rows, cols = np.nonzero(g)
    assert rows.min() >= 3 and rows.max() <= 11 and cols.min() >= 3 and cols.max() <= 11
    assert np.all((rows - 7) % 2 == 0) and np.all((cols - 7) % 2 == 0)
    assert nn.DilatedResidualBlock(4, 4, dilation=(1, 2), rngs=nnx.Rngs(0)).conv1.conv.dilation == 1


# ---------------------------------------------------------------- Inception

def test_inception_3a_counts_table_1_and_concatenates_branches_in_order():
    block = nn.Inception(192, ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32, pool_proj=32, rngs=nnx.Rngs(0))
    assert block.out_channels == 256
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731  biases, no BN (the paper)
    assert _count(block) == (conv(1, 192, 64) + conv(1, 192, 96) + conv(3, 96, 128) + conv(1, 192, 16)
                             + conv(5, 16, 32) + conv(1, 192, 32))
    x = _x((1, 6, 6, 192))
    y = np.asarray(block(x))
    assert y.shape == (1, 6, 6, 256)
    np.testing.assert_array_equal(y[..., :64], np.asarray(block.branch1x1(x)))
    np.testing.assert_array_equal(y[..., 224:], np.asarray(block.branch_pool(x)))


# ---------------------------------------------------------------- MobileNet blocks

def test_depthwise_separable_counts_9c_plus_c_cout_and_filters_each_channel_alone():
    c, cout = 8, 16
    block = nn.DepthwiseSeparable(c, cout, stride=2, rngs=nnx.Rngs(0))
    assert block.depthwise.conv.kernel.shape == (3, 3, 1, c)
    assert _count(block) == 9 * c + c * cout + 2 * c + 2 * cout
    block.eval()
    x = np.asarray(_x((1, 6, 6, c)))
    x2 = x.copy()
    x2[..., 0] += 1.0
    d1, d2 = (np.asarray(block.depthwise(jnp.asarray(v))) for v in (x, x2))
    np.testing.assert_array_equal(d1[..., 1:], d2[..., 1:])  # no channel mixing in the depthwise conv
    assert block(jnp.asarray(x)).shape == (1, 3, 3, cout)


def test_inverted_residual_adds_its_input_when_stride_1_and_widths_match():
    block = nn.InvertedResidual(8, 8, expand_ratio=6, zero_init_residual=True, rngs=nnx.Rngs(0))
    assert block.use_residual and block.hidden_channels == 48
    assert _count(block) == (8 * 48 + 2 * 48) + (9 * 48 + 2 * 48) + (48 * 8 + 2 * 8)
    x = _x((2, 5, 5, 8))
    block.train()
    np.testing.assert_array_equal(np.asarray(block(x)), np.asarray(x))  # zero last BN scale: the branch is 0


def test_inverted_residual_without_residual_or_expansion():
    down = nn.InvertedResidual(8, 8, stride=2, rngs=nnx.Rngs(0))
    assert not down.use_residual and down(_x((1, 6, 6, 8))).shape == (1, 3, 3, 8)
    wider = nn.InvertedResidual(8, 16, rngs=nnx.Rngs(0))
    assert not wider.use_residual
    first = nn.InvertedResidual(32, 16, expand_ratio=1, rngs=nnx.Rngs(0))  # Table 2's first bottleneck
    assert first.expand is None and _count(first) == 9 * 32 + 2 * 32 + 32 * 16 + 2 * 16
    # Linear bottleneck: the projection has no activation, so outputs go negative.
    assert float(jnp.min(first(_x((2, 4, 4, 32))))) < 0.0
    with pytest.raises(ValueError, match="stride"):
        nn.InvertedResidual(8, 8, stride=3, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("value,expected", [(32, 32), (32 * 0.75, 24), (16 * 0.35, 8), (1280 * 1.4, 1792),
                                            (24 * 0.5, 16), (96 * 0.35, 32), (3, 8)])
def test_make_divisible_rounds_to_multiples_of_8_never_10_percent_down(value, expected):
    assert nn.make_divisible(value) == expected
