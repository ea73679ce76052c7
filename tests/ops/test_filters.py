"""Classical filters (seed 000): the kernels' known values and their responses on known images.

Oracles: literal kernels, hand-derived responses (a step edge, a ramp), the
Gaussian formula evaluated here, and ``_reference.correlate2d_valid`` (the
seed's two-loop cross-correlation).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import ops

from . import _reference as ref
from ._jit import jit_call


def test_kernel_values():
    np.testing.assert_array_equal(ops.sobel_x, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(ops.sobel_y, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(ops.sobel_y, np.rot90(ops.sobel_x))  # G_x rotated 90 degrees (anticlockwise)
    np.testing.assert_array_equal(ops.sharpen, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(ops.laplacian, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    assert ops.sharpen.sum() == 1 and ops.laplacian.sum() == 0 and ops.sobel_x.sum() == 0
    with pytest.raises(ValueError):
        ops.sobel_x[0, 0] = 5  # shared constants are read-only


@pytest.mark.parametrize("step", [1.0, 2.5, -3.0])
def test_sobel_on_a_vertical_step_edge(step):
    """Columns 0-3 are 0, columns 4-7 are ``step``: G_x responds 4*step on the two columns straddling the edge."""
    img = np.zeros((8, 8), np.float32)
    img[:, 4:] = step
    gx = np.asarray(jit_call(ops.filter2d, img, ops.sobel_x))
    want = np.zeros((6, 6))
    want[:, 2:4] = 4 * step  # windows over columns (2, 3, 4) and (3, 4, 5)
    np.testing.assert_allclose(gx, want)
    np.testing.assert_array_equal(np.asarray(jit_call(ops.filter2d, img, ops.sobel_y)), np.zeros((6, 6)))
    np.testing.assert_allclose(np.asarray(jit_call(ops.gradient_magnitude, img)), np.abs(want))
    # True convolution flips the antisymmetric kernel: the sign changes.
    np.testing.assert_allclose(np.asarray(jit_call(ops.filter2d, img, ops.sobel_x, flip=True)), -want)


def test_sobel_y_on_a_horizontal_step_edge():
    img = np.zeros((7, 6), np.float32)
    img[3:, :] = 1.0  # rows 3.. are bright: intensity grows downwards, G_y (top row +) responds negatively
    gy = np.asarray(jit_call(ops.filter2d, img, ops.sobel_y))
    want = np.zeros((5, 4))
    want[1:3, :] = -4.0
    np.testing.assert_allclose(gy, want)


def test_gradient_magnitude_of_a_ramp():
    """I = a*j + b*i: I_x = 8a, I_y = -8b everywhere, so |grad I| = 8 sqrt(a^2 + b^2)."""
    a, b = 0.5, -1.25
    i, j = np.mgrid[0:9, 0:10]
    img = (a * j + b * i).astype(np.float32)
    ix = np.asarray(jit_call(ops.filter2d, img, ops.sobel_x))
    iy = np.asarray(jit_call(ops.filter2d, img, ops.sobel_y))
    np.testing.assert_allclose(ix, np.full((7, 8), 8 * a), rtol=1e-5)
    np.testing.assert_allclose(iy, np.full((7, 8), -8 * b), rtol=1e-5)
    mag = np.asarray(jit_call(ops.gradient_magnitude, img))
    np.testing.assert_allclose(mag, np.full((7, 8), 8 * math.hypot(a, b)), rtol=1e-5)


def test_gaussian_k3_sigma1_known_values():
    g = ops.gaussian(3, 1.0)
    e1, e2 = math.exp(-0.5), math.exp(-1.0)  # exp(-r^2 / 2) at r^2 = 1 (edges) and 2 (corners)
    z = 1 + 4 * e1 + 4 * e2
    np.testing.assert_allclose(g[1, 1], 1 / z, rtol=1e-6)
    np.testing.assert_allclose(g[0, 1], e1 / z, rtol=1e-6)
    np.testing.assert_allclose(g[0, 0], e2 / z, rtol=1e-6)
    assert abs(float(g[1, 1]) - 0.2042) < 1e-4


@pytest.mark.parametrize("k, sigma", [(3, 1.0), (4, 0.7), (5, 2.0), (7, 1.5)])
def test_gaussian_sums_to_one_and_is_symmetric(k, sigma):
    g = np.asarray(ops.gaussian(k, sigma), np.float64)
    assert g.shape == (k, k)
    np.testing.assert_allclose(g.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(g, g.T, rtol=1e-6)
    np.testing.assert_allclose(g, g[::-1, ::-1], rtol=1e-6)
    c = (k - 1) / 2
    want = np.array([[math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma**2)) for j in range(k)] for i in range(k)])
    np.testing.assert_allclose(g, want / want.sum(), rtol=1e-6)
    assert g.max() == g[k // 2, k // 2] or k % 2 == 0


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_box(k):
    np.testing.assert_allclose(ops.box(k), np.full((k, k), 1 / k**2))
    img = np.random.default_rng(k).standard_normal((6, 7)).astype(np.float32)
    ref.assert_close(jit_call(ops.filter2d, img, ops.box(k)), ref.correlate2d_valid(img, np.full((k, k), 1 / k**2)))


@pytest.mark.parametrize("name", ["sobel_x", "sobel_y", "sharpen", "laplacian"])
def test_filter2d_matches_the_seeds_two_loop_version(name):
    kern = getattr(ops, name)
    img = np.random.default_rng(1).standard_normal((9, 8)).astype(np.float32)
    ref.assert_close(jit_call(ops.filter2d, img, kern), ref.correlate2d_valid(img, kern))


def test_filter2d_same_keeps_shape_and_zero_pads():
    img = np.random.default_rng(2).standard_normal((7, 9)).astype(np.float32)
    for kern in (ops.sobel_x, ops.gaussian(5, 1.0), ops.box(2)):
        out = np.asarray(jit_call(ops.filter2d, img, kern, padding="same"))
        assert out.shape == img.shape
        k = kern.shape[0]
        lo, hi = (k - 1) // 2, k - 1 - (k - 1) // 2  # 'same': the odd extra on the high side
        ref.assert_close(out, ref.correlate2d_valid(np.pad(img, ((lo, hi), (lo, hi))), kern))


def test_filter2d_batched_applies_the_kernel_to_every_channel():
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 3)).astype(np.float32)
    y = np.asarray(jit_call(ops.filter2d, x, ops.laplacian))
    assert y.shape == (2, 4, 4, 3)
    for n in range(2):
        for c in range(3):
            ref.assert_close(y[n, :, :, c], ref.correlate2d_valid(x[n, :, :, c], ops.laplacian))


def test_filters_grad_and_vmap():
    imgs = np.random.default_rng(4).standard_normal((3, 6, 6)).astype(np.float32)
    out = jax.jit(jax.vmap(lambda im: ops.gradient_magnitude(im)))(imgs)
    for i in range(3):
        gx, gy = ref.correlate2d_valid(imgs[i], ops.sobel_x), ref.correlate2d_valid(imgs[i], ops.sobel_y)
        ref.assert_close(out[i], np.hypot(gx, gy))
    # d/dI sum(filter2d(I, K)) is the sum of K over the windows covering each pixel: interior pixels get sum(K).
    g = jax.grad(lambda im: jnp.sum(ops.filter2d(im, ops.sharpen)))(jnp.asarray(imgs[0]))
    np.testing.assert_allclose(np.asarray(g)[2:4, 2:4], 1.0, rtol=1e-6)
