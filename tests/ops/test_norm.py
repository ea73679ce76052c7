"""``lrn``, ``batch_norm`` and ``batch_moments`` against NumPy loops.

Oracles: ``_reference.lrn`` (the paper's sum over adjacent channels, a loop
over channels), ``_reference.lrn_torch`` (``torch.nn.functional.local_response_norm``
written in NumPy) and plain NumPy moments and normalisation.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import ops

from . import _reference as ref
from ._jit import jit_call


def _rand(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("shape", [(2, 5, 7), (2, 4, 3, 7), (1, 3, 2, 2, 9)])
@pytest.mark.parametrize("size, alpha, beta, k", [(5, 1e-4, 0.75, 2.0), (1, 0.5, 1.0, 1.0), (2, 0.1, 0.5, 1.0),
                                                  (3, 0.3, 0.75, 0.5), (4, 0.2, 0.6, 2.0), (7, 0.05, 0.75, 1.0),
                                                  (11, 0.05, 0.75, 1.0)])
def test_lrn_matches_paper_loop(shape, size, alpha, beta, k):
    x = _rand(np.random.default_rng(0), *shape, scale=3.0)
    hyper = dict(size=size, alpha=alpha, beta=beta, k=k)
    ref.assert_close(jit_call(ops.lrn, x, **hyper), ref.lrn(x, **hyper))


def test_lrn_defaults_are_alexnets():
    x = _rand(np.random.default_rng(1), 2, 3, 3, 8, scale=10.0)
    ref.assert_close(jit_call(ops.lrn, x), ref.lrn(x, size=5, alpha=1e-4, beta=0.75, k=2.0))


@pytest.mark.parametrize("size, alpha, beta, k", [(5, 1e-4, 0.75, 1.0), (3, 0.5, 0.75, 2.0), (4, 1.0, 0.5, 1.0)])
def test_lrn_reproduces_pytorch_with_alpha_divided_by_size(size, alpha, beta, k):
    """PyTorch averages the squares over ``size``: jcnn gets it with ``alpha=alpha_torch / size``."""
    x = _rand(np.random.default_rng(2), 2, 3, 4, 6, scale=2.0)
    want = ref.lrn_torch(x, size=size, alpha=alpha, beta=beta, k=k)
    ref.assert_close(jit_call(ops.lrn, x, size=size, alpha=alpha / size, beta=beta, k=k), want)
    if size > 1:  # and the paper convention is genuinely different
        assert not np.allclose(np.asarray(jit_call(ops.lrn, x, size=size, alpha=alpha, beta=beta, k=k)), want)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_lrn_half_precision(dtype):
    x = jnp.asarray(_rand(np.random.default_rng(3), 2, 4, 4, 8), dtype)
    y = jit_call(ops.lrn, x, size=5, alpha=0.1, beta=0.75, k=2.0)
    assert y.dtype == dtype
    ref.assert_close(y, ref.lrn(np.asarray(x, np.float64), size=5, alpha=0.1, beta=0.75, k=2.0), dtype)


def test_lrn_float64_under_enable_x64():
    x = np.random.default_rng(4).standard_normal((2, 3, 3, 6))
    with jax.enable_x64(True):
        y = jit_call(ops.lrn, jnp.asarray(x), size=3, alpha=0.2, beta=0.75, k=1.0)
        assert y.dtype == jnp.float64
        ref.assert_close(y, ref.lrn(x, size=3, alpha=0.2, beta=0.75, k=1.0), "float64")


def test_lrn_jit_grad_vmap():
    xs = _rand(np.random.default_rng(5), 3, 2, 4, 4, 6)
    ys = jax.jit(jax.vmap(lambda x: ops.lrn(x, size=3, alpha=0.1)))(xs)
    for i in range(3):
        ref.assert_close(ys[i], ref.lrn(xs[i], size=3, alpha=0.1, beta=0.75, k=2.0))
    # Regression: differentiable under jit (reduce_window_sum, not the generic reduce_window).
    g = jax.jit(jax.grad(lambda x: jnp.sum(ops.lrn(x, size=3, alpha=0.1))))(jnp.asarray(xs[0]))
    eps, idx = 1e-2, (0, 1, 2, 3)
    hi, lo = xs[0].astype(np.float64), xs[0].astype(np.float64)
    hi[idx] += eps
    lo[idx] -= eps
    f = lambda a: ref.lrn(a, size=3, alpha=0.1, beta=0.75, k=2.0).sum()  # noqa: E731
    np.testing.assert_allclose(float(g[idx]), (f(hi) - f(lo)) / (2 * eps), rtol=1e-3)


# ----------------------------------------------------------------------------
# Batch normalisation.

@pytest.mark.parametrize("shape", [(16, 5), (4, 6, 5, 3), (2, 3, 4, 5, 2)])
def test_batch_moments_match_numpy(shape):
    x = _rand(np.random.default_rng(6), *shape, scale=2.0) + 1.5
    mean, var = jit_call(ops.batch_moments, x)
    want_mean, want_var = ref.batch_moments(x)
    ref.assert_close(mean, want_mean)
    ref.assert_close(var, want_var)


def test_batch_moments_are_stable_far_from_zero_and_float32_for_half_inputs():
    x = (1e4 + np.random.default_rng(7).standard_normal((64, 3))).astype(np.float32)
    _, var = jit_call(ops.batch_moments, x)
    np.testing.assert_allclose(np.asarray(var), ref.batch_moments(x)[1], rtol=1e-3)
    mean, var = jit_call(ops.batch_moments, jnp.asarray(x - 1e4, jnp.bfloat16))
    assert mean.dtype == jnp.float32 and var.dtype == jnp.float32


@pytest.mark.parametrize("with_affine", [True, False])
@pytest.mark.parametrize("shape", [(8, 5), (2, 4, 4, 5), (2, 3, 3, 3, 5)])
def test_batch_norm_matches_numpy(shape, with_affine):
    rng = np.random.default_rng(8)
    x = _rand(rng, *shape)
    mean, var = _rand(rng, 5), np.abs(_rand(rng, 5)) + 0.1
    scale, bias = (_rand(rng, 5), _rand(rng, 5)) if with_affine else (None, None)
    got = jit_call(ops.batch_norm, x, mean, var, scale, bias, eps=1e-3)
    want = ref.batch_norm(x, mean, var, 1.0 if scale is None else scale, 0.0 if bias is None else bias, 1e-3)
    ref.assert_close(got, want)


def test_batch_norm_of_the_batch_moments_standardises():
    x = _rand(np.random.default_rng(9), 8, 5, 5, 4, scale=3.0) + 2.0
    mean, var = ops.batch_moments(x)
    y = np.asarray(jit_call(ops.batch_norm, x, mean, var, eps=1e-6), np.float64)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1.0, rtol=1e-4)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_batch_norm_keeps_half_dtype(dtype):
    rng = np.random.default_rng(10)
    x = jnp.asarray(_rand(rng, 4, 3, 3, 2), dtype)
    mean, var, scale, bias = _rand(rng, 2), np.abs(_rand(rng, 2)) + 0.5, _rand(rng, 2), _rand(rng, 2)
    y = jit_call(ops.batch_norm, x, mean, var, scale, bias)
    assert y.dtype == dtype
    ref.assert_close(y, ref.batch_norm(np.asarray(x, np.float64), mean, var, scale, bias, 1e-5), dtype)


def test_batch_norm_grad_and_vmap():
    rng = np.random.default_rng(11)
    xs, mean, var = _rand(rng, 3, 4, 2, 2, 3), _rand(rng, 3), np.abs(_rand(rng, 3)) + 0.5
    ys = jax.jit(jax.vmap(lambda x: ops.batch_norm(x, mean, var)))(xs)
    ref.assert_close(ys, ref.batch_norm(xs, mean, var, 1.0, 0.0, 1e-5))
    g = jax.jit(jax.grad(lambda x: jnp.sum(ops.batch_norm(x, mean, var))))(jnp.asarray(xs[0]))
    ref.assert_close(g, np.broadcast_to(1 / np.sqrt(var.astype(np.float64) + 1e-5), g.shape))


def test_batch_moments_vmap_and_grad():
    xs = _rand(np.random.default_rng(12), 3, 4, 2, 2, 3)
    means, vars_ = jax.jit(jax.vmap(ops.batch_moments))(xs)
    for i in range(3):
        want_mean, want_var = ref.batch_moments(xs[i])
        ref.assert_close(means[i], want_mean)
        ref.assert_close(vars_[i], want_var)
    # d/dx sum(mean) = 1/M per element (M = elements per channel); d/dx sum(var) = 2 (x - mean) / M.
    x = jnp.asarray(xs[0])
    m = x.size // x.shape[-1]
    g = jax.jit(jax.grad(lambda a: jnp.sum(ops.batch_moments(a)[0])))(x)
    np.testing.assert_allclose(np.asarray(g), 1 / m, rtol=1e-6)
    g = jax.jit(jax.grad(lambda a: jnp.sum(ops.batch_moments(a)[1])))(x)
    want_mean = ref.batch_moments(xs[0])[0]
    ref.assert_close(g, 2 * (xs[0].astype(np.float64) - want_mean) / m)


# ----------------------------------------------------------------------------
# batch_norm_train: the forward against NumPy, the hand-written backward against finite differences.

def _np_bn_train(x, scale, bias, eps):
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)
    var = ((x - mean) ** 2).mean(axis=axes)
    return (x - mean) / np.sqrt(var + eps) * scale + bias, mean, var


@pytest.mark.parametrize("shape", [(6, 3), (2, 5, 4, 3), (1, 3, 2, 4, 2)])
def test_batch_norm_train_forward_matches_numpy(shape):
    rng = np.random.default_rng(30)
    x, scale, bias = _rand(rng, *shape, scale=3.0) + 1.5, _rand(rng, shape[-1]), _rand(rng, shape[-1])
    y, mean, var = jax.jit(lambda *a: ops.batch_norm_train(*a, eps=1e-3))(x, scale, bias)
    want = _np_bn_train(x.astype(np.float64), scale, bias, 1e-3)
    for got, w in zip((y, mean, var), want):
        ref.assert_close(got, w)
    y0, _, _ = ops.batch_norm_train(x)  # no affine: standardised
    ref.assert_close(y0, _np_bn_train(x.astype(np.float64), 1.0, 0.0, 1e-5)[0])


@pytest.mark.parametrize("shape", [(5, 3), (3, 4, 3, 2)])
def test_batch_norm_train_gradients_match_finite_differences(shape):
    """All of dx, dscale, dbias, including cotangents on the returned mean and var, in float64."""
    rng = np.random.default_rng(31)
    x = rng.standard_normal(shape) * 2 + 0.5
    scale, bias = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    wy, wm, wv = rng.standard_normal(shape), rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    eps = 1e-2

    def np_loss(x, scale, bias):
        y, mean, var = _np_bn_train(x, scale, bias, eps)
        return np.sum(wy * y) + np.sum(wm * mean) + np.sum(wv * var)

    def fd(args, i, h=1e-6):
        g = np.zeros_like(args[i])
        for idx in np.ndindex(g.shape):
            plus, minus = [a.copy() for a in args], [a.copy() for a in args]
            plus[i][idx] += h
            minus[i][idx] -= h
            g[idx] = (np_loss(*plus) - np_loss(*minus)) / (2 * h)
        return g

    with jax.enable_x64(True):
        def loss(x, scale, bias):
            y, mean, var = ops.batch_norm_train(x, scale, bias, eps=eps)
            return jnp.sum(wy * y) + jnp.sum(wm * mean) + jnp.sum(wv * var)

        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(jnp.asarray(x), jnp.asarray(scale), jnp.asarray(bias))
        for i, g in enumerate(grads):
            assert g.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(g), fd([x, scale, bias], i), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_batch_norm_train_half_precision_keeps_dtypes(dtype):
    rng = np.random.default_rng(32)
    x = jnp.asarray(_rand(rng, 4, 3, 3, 5), dtype)
    scale, bias = jnp.ones(5, dtype), jnp.zeros(5, dtype)
    y, mean, var = ops.batch_norm_train(x, scale, bias)
    assert y.dtype == x.dtype and mean.dtype == var.dtype == jnp.float32
    gx, gs, gb = jax.grad(lambda *a: jnp.sum(ops.batch_norm_train(*a)[0].astype(jnp.float32)), argnums=(0, 1, 2))(
        x, scale, bias)
    assert (gx.dtype, gs.dtype, gb.dtype) == (x.dtype,) * 3
    # d sum(y) / dx = 0 and d sum(y) / dbias = m: y sums to m * bias per channel.
    np.testing.assert_allclose(np.asarray(gx, np.float32), 0.0, atol=0.05)
    np.testing.assert_allclose(np.asarray(gb, np.float32), 36.0)


def test_batch_norm_train_rejects_bad_input():
    with pytest.raises(ValueError, match="scale must have shape"):
        ops.batch_norm_train(jnp.ones((2, 3, 3, 4)), jnp.ones(3))
    with pytest.raises(ValueError, match="eps"):
        ops.batch_norm_train(jnp.ones((2, 4)), eps=0.0)
    with pytest.raises(ValueError, match="rank"):
        ops.batch_norm_train(jnp.ones((4,)))
    with pytest.raises(TypeError):
        ops.batch_norm_train(jnp.ones((2, 4), jnp.int32))


@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_standardize_images_matches_loop(pad, dtype):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (2, 3, 4, 3)).astype(np.uint8)
    images = raw if dtype == np.uint8 else raw.astype(np.float32) / 255
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    expect = np.zeros((2, 3 + 2 * pad, 4 + 2 * pad, 3), np.float64)
    for n in range(2):
        for i in range(3 + 2 * pad):
            for j in range(4 + 2 * pad):
                for c in range(3):
                    inside = pad <= i < 3 + pad and pad <= j < 4 + pad
                    v = raw[n, i - pad, j - pad, c] / 255 if inside else 0.0
                    expect[n, i, j, c] = (v - mean[c]) / std[c]
    got = ops.standardize_images(images, mean=mean, std=std, pad=pad)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), expect, rtol=1e-5, atol=1e-5)


def test_standardize_images_one_value_for_all_channels_and_dtype():
    x = np.full((1, 2, 2, 3), 255, np.uint8)
    got = ops.standardize_images(x, mean=0.5, std=0.25, dtype=jnp.bfloat16)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(got, np.float32), np.full((1, 2, 2, 3), 2.0, np.float32))


@pytest.mark.parametrize("kwargs, match", [
    (dict(mean=(0.1, 0.2), std=(1.0,)), "mean has 2 values"),
    (dict(mean=(0.1,), std=(0.0,)), "std="),
    (dict(mean=(0.1,), std=(1.0,), pad=-1), "pad=-1"),
])
def test_standardize_images_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ops.standardize_images(np.zeros((1, 2, 2, 3), np.uint8), **kwargs)
    with pytest.raises(ValueError, match="must be \\(N, H, W, C\\)"):
        ops.standardize_images(np.zeros((2, 2, 3), np.uint8), mean=0.0, std=1.0)
