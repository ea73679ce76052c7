"""Seed 001's worked example: the 9x9 "X" against three 3x3 templates, ReLU, 2x2 max pooling.

The image and templates are rebuilt here from the seed's description (not
imported from ``jcnn.ops.demo``); the expected maps are the numbers printed
in seed 001 (``shared/seeds/001_*.txt``, "Max pooling operation"), which are
exact ninths truncated to two decimals (0.77 is 7/9, 0.55 is 5/9).
"""

import re

import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import ops
from jcnn.__main__ import main

from . import _reference as ref
from ._jit import jit_call

# The seed's 7x7 correlation map of the X with mask 1 (the '\' diagonal), divided by 9, as printed.
SEED_MAP = np.array([
    [0.77, -0.11, 0.11, 0.33, 0.55, -0.11, 0.33],
    [-0.11, 1.00, -0.11, 0.33, -0.11, 0.11, -0.11],
    [0.11, -0.11, 1.00, -0.33, 0.11, -0.11, 0.55],
    [0.33, 0.33, -0.33, 0.55, -0.33, 0.33, 0.33],
    [0.55, -0.11, 0.11, -0.33, 1.00, -0.11, 0.11],
    [-0.11, 0.11, -0.11, 0.33, -0.11, 1.00, -0.11],
    [0.33, -0.11, 0.55, 0.33, 0.11, -0.11, 0.77],
])
# The same map in exact ninths.
NINTHS = np.array([
    [7, -1, 1, 3, 5, -1, 3],
    [-1, 9, -1, 3, -1, 1, -1],
    [1, -1, 9, -3, 1, -1, 5],
    [3, 3, -3, 5, -3, 3, 3],
    [5, -1, 1, -3, 9, -1, 1],
    [-1, 1, -1, 3, -1, 9, -1],
    [3, -1, 5, 3, 1, -1, 7],
]) / 9
# The seed's "Max pooling result": its first three rows (of the 4x4 ceil-mode result).
SEED_POOLED_ROWS = np.array([[1.00, 0.33, 0.55, 0.33], [0.33, 1.00, 0.33, 0.55], [0.55, 0.33, 1.00, 0.11]])

MASKS = np.array([
    [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],  # '\'
    [[1, -1, 1], [-1, 1, -1], [1, -1, 1]],    # 'x'
    [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]],  # '/'
], np.float32)


def x_image():
    """9x9: -1 background, +1 on both diagonals strictly inside the border."""
    img = -np.ones((9, 9), np.float32)
    for i in range(1, 8):
        img[i, i] = 1.0
        img[i, 8 - i] = 1.0
    return img


def _maps():
    x = jnp.asarray(x_image())[None, :, :, None]  # (1, 9, 9, 1)
    w = jnp.asarray(MASKS.transpose(1, 2, 0))[:, :, None, :]  # (3, 3, 1, 3): one template per output channel
    return np.asarray(jit_call(ops.conv, x, w) / 9.0)[0]  # (7, 7, 3)


def _truncated(a):
    """Truncate towards zero to two decimals, as the seed prints (0.777... -> 0.77, -0.111... -> -0.11)."""
    a = np.asarray(a, np.float64)
    return np.trunc(a * 100 + np.sign(a) * 1e-4) / 100  # the nudge absorbs float32 error below an exact 1.00


def test_ninths_truncate_to_the_printed_map():
    np.testing.assert_allclose(_truncated(NINTHS), SEED_MAP, atol=1e-12)


def test_backslash_template_map_matches_the_seed():
    maps = _maps()
    np.testing.assert_allclose(maps[:, :, 0], NINTHS, atol=1e-6)
    np.testing.assert_allclose(_truncated(maps[:, :, 0]), SEED_MAP, atol=1e-12)


def test_every_template_map_matches_hand_loops():
    img, maps = x_image(), _maps()
    for t in range(3):
        want = np.zeros((7, 7))
        for i in range(7):
            for j in range(7):
                for a in range(3):
                    for b in range(3):
                        want[i, j] += img[i + a, j + b] * MASKS[t, a, b]
        np.testing.assert_allclose(maps[:, :, t], want / 9, atol=1e-6)


def test_template_maps_known_structure():
    maps = _maps()
    # The image is left-right symmetric and '/' is '\' mirrored: their maps mirror each other.
    np.testing.assert_allclose(maps[:, :, 2], maps[:, ::-1, 0], atol=1e-6)
    # The 'x' template matches perfectly only at the crossing, and the '\' map's perfect matches lie on its diagonal.
    assert np.isclose(maps[3, 3, 1], 1.0) and np.isclose(maps[:, :, 1], 1.0).sum() == 1
    np.testing.assert_allclose(np.diag(maps[:, :, 0])[1:6], [1, 1, 5 / 9, 1, 1], atol=1e-6)
    assert np.isclose(maps, 1.0).sum() == 4 + 1 + 4
    # Every value is a whole number of ninths (nine +-1 products).
    np.testing.assert_allclose(maps * 9, np.round(maps * 9), atol=1e-5)


def test_relu_then_two_by_two_ceil_max_pool_matches_the_seed():
    relu = np.maximum(_maps(), 0)
    pooled = np.asarray(jit_call(ops.max_pool, jnp.asarray(relu)[None], window=2, ceil_mode=True))[0]
    assert pooled.shape == (4, 4, 3)
    want = np.array([[9, 3, 5, 3], [3, 9, 3, 5], [5, 3, 9, 1], [3, 5, 1, 7]]) / 9
    np.testing.assert_allclose(pooled[:, :, 0], want, atol=1e-6)
    np.testing.assert_allclose(_truncated(pooled[:3, :, 0]), SEED_POOLED_ROWS, atol=1e-12)
    # And against the plain loop reference for every template.
    ref.assert_close(pooled, ref.max_pool(relu[None], 2, ceil_mode=True)[0])


def test_demo_command_prints_the_map(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"\[\[?([^\[\]]+)\]", out.split("after ReLU")[0])
    printed = np.array([[float(v) for v in r.split()] for r in rows])
    assert printed.shape == (7, 7)
    np.testing.assert_allclose(printed, np.round(NINTHS, 2), atol=1e-9)  # printed rounded to 2 decimals
    assert "112" in out


def test_demo_command_has_no_options(capsys):
    with pytest.raises(SystemExit) as err:  # the old, unused --no-color is gone
        main(["demo", "--no-color"])
    assert err.value.code == 2 and "--no-color" in capsys.readouterr().err


@pytest.mark.parametrize("w_size, f, p, s, want", [(32, 5, 0, 1, 28), (9, 3, 0, 1, 7), (7, 2, 0, 2, 3)])
def test_seed_output_size_examples(w_size, f, p, s, want):
    assert (w_size - f + 2 * p) // s + 1 == want == ops.conv_output_size(w_size, f, stride=s, padding=p)
