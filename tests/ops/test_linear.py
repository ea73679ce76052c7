"""``dense`` and ``pointwise_conv`` (the 1x1 convolution) against NumPy.

Oracles: ``_reference.dense`` (a loop over output units) and ``np.einsum``.
The issue also asks for the identity itself: ``pointwise_conv`` equals
``dense`` applied at every pixel (seed 001, section 5).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import ops

from . import _reference as ref
from ._jit import jit_call


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("x_shape", [(5, 7), (2, 3, 7), (2, 3, 4, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_dense_matches_loop(x_shape, bias):
    rng = np.random.default_rng(0)
    x, w = _rand(rng, *x_shape), _rand(rng, 7, 4)
    b = _rand(rng, 4) if bias else None
    ref.assert_close(jit_call(ops.dense, x, w, b), ref.dense(x, w, b))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pointwise_conv_matches_einsum_and_keeps_spatial_size(nd):
    rng = np.random.default_rng(nd)
    x, w, b = _rand(rng, 2, *(5, 4, 3)[:nd], 6), _rand(rng, 6, 3), _rand(rng, 3)
    y = jit_call(ops.pointwise_conv, x, w, b)
    assert y.shape == x.shape[:-1] + (3,)
    ref.assert_close(y, np.einsum("...i,io->...o", x.astype(np.float64), w.astype(np.float64)) + b)


def test_pointwise_conv_equals_dense_at_every_pixel():
    """A 1x1 conv is a dense layer applied at every pixel: per pixel, the numbers agree."""
    rng = np.random.default_rng(4)
    x, w, b = _rand(rng, 2, 5, 4, 8), _rand(rng, 8, 6), _rand(rng, 6)
    y = np.asarray(jit_call(ops.pointwise_conv, x, w, b))
    dense = jax.jit(ops.dense)
    for n in range(2):
        for i in range(5):
            for j in range(4):
                np.testing.assert_allclose(y[n, i, j], np.asarray(dense(x[n, i, j], w, b)), rtol=1e-6, atol=1e-6)
                ref.assert_close(y[n, i, j], ref.dense(x[n, i, j], w, b))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_dense_and_pointwise_half_precision(dtype):
    rng = np.random.default_rng(5)
    x, w = jnp.asarray(_rand(rng, 2, 3, 3, 16), dtype), jnp.asarray(_rand(rng, 16, 4), dtype)
    want = ref.dense(np.asarray(x, np.float64), np.asarray(w, np.float64))
    for op in (ops.dense, ops.pointwise_conv):
        y = jit_call(op, x, w)
        assert y.dtype == dtype
        ref.assert_close(y, want, dtype)


def test_dense_float64_under_enable_x64():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    with jax.enable_x64(True):
        y = jit_call(ops.dense, jnp.asarray(x), jnp.asarray(w))
        assert y.dtype == jnp.float64
        ref.assert_close(y, ref.dense(x, w), "float64")


def test_dense_and_pointwise_grad_vmap():
    rng = np.random.default_rng(7)
    xs, w = _rand(rng, 3, 2, 4, 4, 5), _rand(rng, 5, 2)
    ys = jax.jit(jax.vmap(lambda x: ops.pointwise_conv(x, w)))(xs)
    for i in range(3):
        ref.assert_close(ys[i], ref.dense(xs[i], w))
    # d/dw sum(x @ w) = sum of x over every axis but the channel, for each output column.
    gw = jax.jit(jax.grad(lambda w_: jnp.sum(ops.pointwise_conv(xs[0], w_))))(jnp.asarray(w))
    want = np.broadcast_to(xs[0].astype(np.float64).sum(axis=(0, 1, 2))[:, None], w.shape)
    ref.assert_close(gw, want)
    gx = jax.jit(jax.grad(lambda x: jnp.sum(ops.dense(x, w))))(jnp.asarray(xs[0]))
    ref.assert_close(gx, np.broadcast_to(w.astype(np.float64).sum(1), xs[0].shape))
