"""Output-size arithmetic: the seeds' ``(W - F + 2P)/S + 1`` examples, its generalisation, agreement with the ops."""

import math

import numpy as np
import pytest

from jcnn import ops

from . import _reference as ref


@pytest.mark.parametrize("n, k, kw, want", [
    (32, 5, dict(padding=0, stride=1), 28),         # LeNet C1
    (227, 11, dict(stride=4), 55),                  # AlexNet conv1
    (224, 7, dict(stride=2, padding=3), 112),       # ZFNet / ResNet stem
    (55, 3, dict(stride=2), 27),                    # AlexNet overlapping pool
    (55, 3, dict(stride=2, ceil_mode=True), 27),
    (13, 3, dict(stride=2), 6),
    (13, 3, dict(stride=2, ceil_mode=True), 6),
    (56, 3, dict(stride=2), 27),                    # floor and ceil differ here
    (56, 3, dict(stride=2, ceil_mode=True), 28),
    (7, 2, dict(stride=2), 3),                      # seed 001's 7x7 map, 2x2 pool
    (7, 2, dict(stride=2, ceil_mode=True), 4),
    (5, 2, dict(stride=2, padding=1, ceil_mode=True), 3),  # a 4th window would start in the padding
    (28, 3, dict(padding=1), 28),
    (10, 3, dict(dilation=2), 6),
    (10, 3, dict(padding=(2, 0)), 10),
    (10, 3, dict(padding="valid"), 8),
])
def test_conv_output_size_examples(n, k, kw, want):
    assert ops.conv_output_size(n, k, **kw) == want


@pytest.mark.parametrize("n", [1, 5, 7, 8, 224])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["same", "SAME", "Same"])
def test_same_is_ceil_n_over_stride(n, stride, padding):
    for k, d in ((1, 1), (3, 1), (3, 2), (4, 1)):
        assert ops.conv_output_size(n, k, stride=stride, dilation=d, padding=padding) == math.ceil(n / stride)


def test_formula_over_a_grid():
    """``floor((n + lo + hi - d*(k-1) - 1) / s) + 1``, and the ceil variant, everywhere it is >= 1."""
    for n, k, s, d, lo, hi, c in np.ndindex(12, 5, 4, 3, 3, 3, 2):
        if n == 0 or k == 0 or s == 0 or d == 0:
            continue
        span = n + lo + hi - d * (k - 1) - 1
        if span < 0 or (c and lo >= d * (k - 1) + 1):  # PyTorch forbids all-padding windows
            continue
        want = span // s + 1
        if c:
            want = -(-span // s) + 1
            if (want - 1) * s >= n + lo:
                want -= 1
        got = ops.conv_output_size(n, k, stride=s, dilation=d, padding=(lo, hi), ceil_mode=bool(c))
        assert got == want, (n, k, s, d, lo, hi, c)


@pytest.mark.parametrize("n, k, kw", [(3, 5, {}), (4, 3, dict(dilation=2)), (2, 7, dict(padding=2))])
def test_output_below_one_raises(n, k, kw):
    with pytest.raises(ValueError, match="conv_output_size"):
        ops.conv_output_size(n, k, **kw)


@pytest.mark.parametrize("n, k, s, p, op, d", [(27, 3, 2, 0, 0, 1), (27, 3, 2, 0, 1, 1), (4, 4, 2, 1, 0, 1),
                                               (7, 3, 3, (1, 2), 2, 2), (14, 5, 1, 2, 0, 1)], ids=str)
def test_transpose_output_size_inverts_conv_output_size(n, k, s, p, op, d):
    m = ops.conv_transpose_output_size(n, k, stride=s, padding=p, output_padding=op, dilation=d)
    lo, hi = (p, p) if isinstance(p, int) else p
    assert m == (n - 1) * s - lo - hi + d * (k - 1) + 1 + op
    assert ops.conv_output_size(m, k, stride=s, padding=p, dilation=d) == n
    assert ops.conv_transpose_output_size(n, k, stride=s, padding="same") == n * s
    assert ops.conv_transpose_output_size(27, 3, stride=2) == 55


def test_ops_shapes_agree_with_the_size_functions():
    rng = np.random.default_rng(0)
    for _ in range(15):
        n, k, s, d, lo, hi = (int(v) for v in (rng.integers(6, 14), rng.integers(1, 4), rng.integers(1, 4),
                                               rng.integers(1, 3), rng.integers(0, 3), rng.integers(0, 3)))
        x, w = np.zeros((1, n, 1), np.float32), np.zeros((k, 1, 1), np.float32)
        want = ops.conv_output_size(n, k, stride=s, dilation=d, padding=(lo, hi))
        assert want == ref.out_len(n, k, s, d, lo, hi)
        assert ops.conv(x, w, stride=s, dilation=d, padding=((lo, hi),)).shape == (1, want, 1)
        ceil = ops.conv_output_size(n, k, stride=s, padding=(0, hi), ceil_mode=True)
        assert ops.max_pool(x, k, stride=s, padding=((0, hi),), ceil_mode=True).shape == (1, ceil, 1)
