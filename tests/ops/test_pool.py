"""Pooling against NumPy loops with PyTorch's rules (ceil mode, ``count_include_pad``), and the switches.

Oracles: ``_reference.max_pool`` / ``avg_pool`` (loops over output positions
and window offsets), ``_reference.constant_kernel_conv`` (pooling as a
special convolution), ``np.mean``/``np.max`` for global pooling, gathering
by the switches, and ``jax.vjp`` of ``max_pool`` for ``max_unpool``.
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


PADDINGS = [0, 1, ((1, 0), (0, 1)), "same", "VALID"]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("padding", PADDINGS, ids=str)
@pytest.mark.parametrize("window, stride", [(2, None), (3, 1), (3, 2), ((3, 2), (2, 3)), (3, 3)], ids=str)
def test_max_and_avg_pool_2d_match_loop_reference(window, stride, padding, ceil_mode):
    x = _rand(np.random.default_rng(0), 2, 10, 9, 3)
    hyper = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    ref.assert_close(jit_call(ops.max_pool, x, window=window, **hyper), ref.max_pool(x, window, **hyper))
    for cip in (True, False):
        ref.assert_close(jit_call(ops.avg_pool, x, window=window, count_include_pad=cip, **hyper),
                         ref.avg_pool(x, window, count_include_pad=cip, **hyper))


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("window, stride, padding, dilation", [
    (3, 1, 0, 2), (3, 2, 1, 2), (2, 2, "same", 3), (3, 3, ((2, 0), (1, 2)), (2, 1)), (2, 1, "valid", 3)], ids=str)
def test_max_pool_dilation(window, stride, padding, dilation, ceil_mode):
    x = _rand(np.random.default_rng(1), 2, 11, 10, 2)
    hyper = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    ref.assert_close(jit_call(ops.max_pool, x, window=window, **hyper), ref.max_pool(x, window, **hyper))


@pytest.mark.parametrize("nd, window, stride, padding, ceil_mode", [
    (1, 3, 2, 1, False), (1, 3, 2, 1, True), (1, 2, None, "same", True), (1, 4, 3, ((2, 1),), True),
    (3, 2, None, 0, False), (3, 3, 2, 1, True), (3, (2, 3, 2), (1, 2, 2), "same", False),
    (3, 2, 2, ((1, 0), (0, 1), (1, 1)), True)], ids=str)
def test_pool_1d_3d_match_loop_reference(nd, window, stride, padding, ceil_mode):
    x = _rand(np.random.default_rng(2), 2, *((7, 6, 5) if nd == 3 else (11,)), 3)
    hyper = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    # An all-int call means 2-D: 1-D and 3-D pooling name their rank with a per-dim window.
    win = (window,) * nd if isinstance(window, int) else window
    ref.assert_close(jit_call(ops.max_pool, x, window=win, **hyper), ref.max_pool(x, window, **hyper))
    for cip in (True, False):
        ref.assert_close(jit_call(ops.avg_pool, x, window=win, count_include_pad=cip, **hyper),
                         ref.avg_pool(x, window, count_include_pad=cip, **hyper))


def _random_pool(rng):
    nd = int(rng.integers(1, 4))
    window = tuple(int(k) for k in rng.integers(1, 4, nd))
    stride = tuple(int(s) for s in rng.integers(1, 4, nd))
    # Explicit padding at most half the window, as PyTorch requires (no all-padding windows).
    form = rng.integers(0, 3)
    if form == 0:
        padding = tuple((int(rng.integers(0, k // 2 + 1)), int(rng.integers(0, k // 2 + 1))) for k in window)
    else:
        padding = ["same", "valid"][form - 1]
    sizes = tuple(int(k + rng.integers(0, 6)) for k in window)
    return dict(shape=(int(rng.integers(1, 3)), *sizes, int(rng.integers(1, 4))), window=window, stride=stride,
                padding=padding, ceil_mode=bool(rng.integers(0, 2)))


POOL_SWEEP = [_random_pool(np.random.default_rng(500 + i)) for i in range(40)]


@pytest.mark.parametrize("cfg", POOL_SWEEP, ids=[f"sweep{i}" for i in range(len(POOL_SWEEP))])
def test_pool_random_sweep(cfg):
    x = _rand(np.random.default_rng(3), *cfg["shape"])
    hyper = {k: cfg[k] for k in ("stride", "padding", "ceil_mode")}
    ref.assert_close(jit_call(ops.max_pool, x, window=cfg["window"], **hyper), ref.max_pool(x, cfg["window"], **hyper))
    cip = bool(x.size % 2)
    ref.assert_close(jit_call(ops.avg_pool, x, window=cfg["window"], count_include_pad=cip, **hyper),
                     ref.avg_pool(x, cfg["window"], count_include_pad=cip, **hyper))


# ----------------------------------------------------------------------------
# Worked sizes: AlexNet's overlapping pooling, PyTorch's ceil-mode rule.

@pytest.mark.parametrize("n, ceil_mode, want", [(55, False, 27), (55, True, 27), (13, False, 6), (13, True, 6),
                                                (27, True, 13), (56, False, 27), (56, True, 28)])
def test_alexnet_overlapping_pool_sizes(n, ceil_mode, want):
    x = _rand(np.random.default_rng(4), 1, n, n, 2)
    y = jit_call(ops.max_pool, x, window=3, stride=2, ceil_mode=ceil_mode)
    assert y.shape == (1, want, want, 2)
    ref.assert_close(y, ref.max_pool(x, 3, stride=2, ceil_mode=ceil_mode))


def test_ceil_mode_drops_a_last_window_that_would_start_in_the_padding():
    """n=5, window 2, stride 2, padding 1: ceil((5+2-2)/2)+1 = 4, but window 4 would start at 6 = n + lo -> 3."""
    x = np.arange(5, dtype=np.float32).reshape(1, 5, 1) + 1
    y = jit_call(ops.max_pool, x, window=(2,), stride=2, padding=1, ceil_mode=True)
    np.testing.assert_array_equal(np.asarray(y)[0, :, 0], [1, 3, 5])
    a = jit_call(ops.avg_pool, x, window=(2,), stride=2, padding=1, ceil_mode=True)
    np.testing.assert_allclose(np.asarray(a)[0, :, 0], [0.5, 2.5, 4.5])  # padding counted, overhang never
    a = jit_call(ops.avg_pool, x, window=(2,), stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(np.asarray(a)[0, :, 0], [1, 2.5, 4.5])
    # Without padding the ceil-mode overhang is partial and averaged over the input part only.
    a = jit_call(ops.avg_pool, x, window=(2,), stride=2, ceil_mode=True)
    np.testing.assert_allclose(np.asarray(a)[0, :, 0], [1.5, 3.5, 5])


def test_seed_001_two_by_two_ceil_pool_of_a_7x7_map_is_4x4():
    x = _rand(np.random.default_rng(5), 1, 7, 7, 3)
    y = jit_call(ops.max_pool, x, window=2, ceil_mode=True)
    assert y.shape == (1, 4, 4, 3)
    np.testing.assert_array_equal(np.asarray(y)[0, 3, 3], x[0, 6, 6])


def test_count_include_pad_both_ways_by_hand():
    x = np.ones((1, 3, 3, 1), np.float32)
    inc = np.asarray(jit_call(ops.avg_pool, x, window=3, stride=1, padding=1))[0, :, :, 0]
    exc = np.asarray(jit_call(ops.avg_pool, x, window=3, stride=1, padding=1, count_include_pad=False))[0, :, :, 0]
    np.testing.assert_allclose(inc, [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9], [4 / 9, 6 / 9, 4 / 9]], rtol=1e-6)
    np.testing.assert_allclose(exc, np.ones((3, 3)), rtol=1e-6)


def test_max_pool_pads_with_minus_infinity():
    x = -np.ones((1, 2, 2, 1), np.float32) * 5
    y = jit_call(ops.max_pool, x, window=2, stride=1, padding=1)
    np.testing.assert_array_equal(np.asarray(y), -5 * np.ones((1, 3, 3, 1)))


def test_avg_pool_is_a_depthwise_conv_with_a_constant_kernel():
    """Pooling as a special convolution: non-overlapping, unpadded windows equal a constant 1/k^2 kernel."""
    x = _rand(np.random.default_rng(6), 2, 8, 6, 4)
    for window in (2, (2, 3), (4, 2)):
        ref.assert_close(jit_call(ops.avg_pool, x, window=window), ref.constant_kernel_conv(x, window))


def test_pool_defaults_stride_to_window():
    x = _rand(np.random.default_rng(7), 1, 8, 8, 1)
    assert jit_call(ops.max_pool, x, window=2).shape == (1, 4, 4, 1)
    ref.assert_close(jit_call(ops.max_pool, x, window=2), ref.max_pool(x, 2, stride=2))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_pool_half_precision(dtype):
    x = jnp.asarray(_rand(np.random.default_rng(8), 2, 9, 9, 3), dtype)
    xf = np.asarray(x, np.float64)
    y = jit_call(ops.max_pool, x, window=3, stride=2, ceil_mode=True, padding=1)
    assert y.dtype == dtype
    ref.assert_close(y, ref.max_pool(xf, 3, stride=2, ceil_mode=True, padding=1), dtype)
    a = jit_call(ops.avg_pool, x, window=3, stride=2, ceil_mode=True, padding=1, count_include_pad=False)
    assert a.dtype == dtype
    ref.assert_close(a, ref.avg_pool(xf, 3, stride=2, ceil_mode=True, padding=1, count_include_pad=False), dtype)


def test_pool_float64_under_enable_x64():
    x = np.random.default_rng(9).standard_normal((1, 7, 7, 2))
    with jax.enable_x64(True):
        y = jit_call(ops.avg_pool, jnp.asarray(x), window=3, stride=2, ceil_mode=True)
        assert y.dtype == jnp.float64
        ref.assert_close(y, ref.avg_pool(x, 3, stride=2, ceil_mode=True), "float64")
        m = jit_call(ops.max_pool, jnp.asarray(x), window=3, stride=2, padding="same")
        ref.assert_close(m, ref.max_pool(x, 3, stride=2, padding="same"), "float64")


# ----------------------------------------------------------------------------
# Global pools.

@pytest.mark.parametrize("shape", [(2, 7, 3), (2, 5, 4, 3), (1, 3, 4, 5, 2)])
def test_global_pools(shape):
    x = _rand(np.random.default_rng(10), *shape)
    axes = tuple(range(1, len(shape) - 1))
    nd = len(shape) - 2
    ref.assert_close(jit_call(ops.global_avg_pool, x, spatial_dims=nd), x.astype(np.float64).mean(axes))
    np.testing.assert_array_equal(np.asarray(jit_call(ops.global_max_pool, x, spatial_dims=nd)), x.max(axes))


# ----------------------------------------------------------------------------
# Switches: max_pool_with_argmax and max_unpool.

@pytest.mark.parametrize("window, stride, padding", [(2, None, 0), (3, 2, 0), (3, 2, 1), ((2, 3), (1, 2), "same")],
                         ids=str)
def test_switches_point_to_the_max(window, stride, padding):
    x = _rand(np.random.default_rng(11), 2, 9, 8, 3)
    y, sw = jit_call(ops.max_pool_with_argmax, x, window=window, stride=stride, padding=padding)
    assert sw.dtype == jnp.int32 and sw.shape == y.shape
    ref.assert_close(y, ref.max_pool(x, window, stride=stride, padding=padding))
    flat = x.reshape(2, -1, 3)  # row-major flat index over the spatial dims
    sw = np.asarray(sw).reshape(2, -1, 3)
    gathered = np.take_along_axis(flat, sw, axis=1)
    np.testing.assert_array_equal(gathered, np.asarray(y).reshape(2, -1, 3))


def test_switches_ties_go_to_the_first_index():
    x = np.zeros((1, 4, 4, 1), np.float32)
    _, sw = jit_call(ops.max_pool_with_argmax, x, window=2)
    np.testing.assert_array_equal(np.asarray(sw)[0, :, :, 0], [[0, 2], [8, 10]])
    x[0, 1, 1, 0] = x[0, 0, 1, 0] = 1.0  # two maxima in the first window: (0, 1) comes first
    _, sw = jit_call(ops.max_pool_with_argmax, x, window=2)
    assert int(sw[0, 0, 0, 0]) == 1


def test_switches_1d_and_3d():
    for shape, window in (((2, 9, 2), (3,)), ((1, 4, 6, 4, 2), (2, 2, 2))):
        x = _rand(np.random.default_rng(12), *shape)
        y, sw = jit_call(ops.max_pool_with_argmax, x, window=window)
        flat = x.reshape(shape[0], -1, shape[-1])
        got = np.take_along_axis(flat, np.asarray(sw).reshape(shape[0], -1, shape[-1]), axis=1)
        np.testing.assert_array_equal(got, np.asarray(y).reshape(got.shape))


@pytest.mark.parametrize("window, stride, padding", [(2, 2, 0), (3, 2, 0), (3, 1, 1), (3, 2, 1)], ids=str)
def test_max_unpool_is_the_vjp_of_max_pool(window, stride, padding):
    x = _rand(np.random.default_rng(13), 2, 9, 7, 3)  # continuous values: no ties
    y, sw = jit_call(ops.max_pool_with_argmax, x, window=window, stride=stride, padding=padding)
    g = _rand(np.random.default_rng(14), *y.shape)
    _, vjp = jax.vjp(jax.jit(lambda x_: ops.max_pool(x_, window, stride=stride, padding=padding)), jnp.asarray(x))
    got = jit_call(ops.max_unpool, g, sw, output_shape=x.shape)
    ref.assert_close(got, vjp(jnp.asarray(g))[0])


def test_max_unpool_places_values_exactly():
    x = _rand(np.random.default_rng(15), 1, 6, 6, 2)
    y, sw = jit_call(ops.max_pool_with_argmax, x, window=2)
    up = np.asarray(jit_call(ops.max_unpool, y, sw, output_shape=(6, 6)))
    want = np.zeros_like(x)
    for i in range(3):
        for j in range(3):
            for c in range(2):
                win = x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, c]
                a, b = np.unravel_index(np.argmax(win), (2, 2))
                want[0, 2 * i + a, 2 * j + b, c] = win[a, b]
    np.testing.assert_array_equal(up, want)
    # Reading the unpooled map back at the switches returns y bit for bit.
    back = np.take_along_axis(up.reshape(1, -1, 2), np.asarray(sw).reshape(1, -1, 2), axis=1)
    np.testing.assert_array_equal(back, np.asarray(y).reshape(1, -1, 2))


def test_max_unpool_with_a_too_small_output_shape_is_nan_under_jit():
    """Traced switches cannot be checked in Python: a result that would be garbage is NaN instead."""
    x = _rand(np.random.default_rng(23), 1, 8, 8, 2)
    y, sw = ops.max_pool_with_argmax(x, 2)
    small = jax.jit(lambda a, s: ops.max_unpool(a, s, output_shape=(4, 4)))(y, sw)
    assert small.shape == (1, 4, 4, 2) and np.isnan(np.asarray(small)).all()
    fits = np.asarray(jax.jit(lambda a, s: ops.max_unpool(a, s, output_shape=(8, 8)))(y, sw))
    assert not np.isnan(fits).any()
    np.testing.assert_array_equal(np.take_along_axis(fits.reshape(1, -1, 2), np.asarray(sw).reshape(1, -1, 2), 1),
                                  np.asarray(y).reshape(1, -1, 2))


def test_unbatched_image_is_refused_not_pooled_along_its_rows():
    """Before: max_pool on (H, W, C) read H as the batch and pooled W alone, a silently wrong (8, 4, 3)."""
    img = _rand(np.random.default_rng(24), 8, 8, 3)
    with pytest.raises(ValueError, match="lacks the batch dim"):
        ops.max_pool(img, 2)
    ref.assert_close(ops.max_pool(img[None], 2)[0], ref.max_pool(img[None], 2)[0])


# ----------------------------------------------------------------------------
# jit, grad, vmap; lowering to one reduce_window and no transposes.

def test_pools_vmap_over_extra_leading_axis_and_grad():
    xs = _rand(np.random.default_rng(16), 3, 2, 7, 7, 2)
    mp = jax.jit(jax.vmap(lambda x: ops.max_pool(x, 3, stride=2, ceil_mode=True)))(xs)
    ap = jax.jit(jax.vmap(lambda x: ops.avg_pool(x, 3, stride=2, padding=1, count_include_pad=False)))(xs)
    for i in range(3):
        ref.assert_close(mp[i], ref.max_pool(xs[i], 3, stride=2, ceil_mode=True))
        ref.assert_close(ap[i], ref.avg_pool(xs[i], 3, stride=2, padding=1, count_include_pad=False))
    # d/dx sum(avg_pool(x)) = sum over the windows covering x of 1/divisor; floor mode never reads row/col 6.
    g = jax.grad(lambda x: jnp.sum(ops.avg_pool(x, 2)))(jnp.asarray(xs[0]))
    want = np.zeros(g.shape)
    want[:, :6, :6] = 0.25
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6)
    g = jax.grad(lambda x: jnp.sum(ops.global_max_pool(x)))(jnp.asarray(xs[0]))
    assert float(jnp.sum(g)) == 2 * 2  # one winner per (n, c)
    for f in (ops.global_avg_pool, ops.global_max_pool):
        v = jax.jit(jax.vmap(f))(xs)
        assert v.shape == (3, 2, 2)


def _eqns(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else [param]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _eqns(inner)


@pytest.mark.parametrize("op, prim", [(ops.max_pool, "reduce_window_max"), (ops.avg_pool, "reduce_window_sum")])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pool_lowers_to_one_reduce_window_and_no_transpose(op, prim, nd):
    x = jnp.zeros((2, *(7,) * nd, 4))
    pin = {"impl": "xla"} if op is ops.max_pool else {}  # auto adds a CPU branch (test below)
    names = [e.primitive.name for e in _eqns(jax.make_jaxpr(lambda x_: op(x_, (3,) * nd, stride=2, ceil_mode=True, **pin))(x).jaxpr)]
    assert names.count(prim) == 1, names
    assert "transpose" not in names, names


@pytest.mark.parametrize("op", [ops.max_pool, ops.avg_pool], ids=["max_pool", "avg_pool"])
def test_pool_gradient_under_jit(op):
    """Regression: a traced init value made reduce_window generic, which jax.grad cannot linearise under jit."""
    x = jnp.asarray(_rand(np.random.default_rng(17), 1, 4, 4, 1))
    g = jax.jit(jax.grad(lambda x_: jnp.sum(op(x_, 2))))(x)
    if op is ops.avg_pool:
        np.testing.assert_allclose(np.asarray(g), 0.25)
    else:  # one winner per 2x2 window
        want = (x.reshape(2, 2, 2, 2).max(axis=(1, 3), keepdims=True) == x.reshape(2, 2, 2, 2)).reshape(x.shape)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(want, np.float32))


@pytest.mark.parametrize("n, window, stride, hi", [(9, 2, 3, 2), (4, 1, 2, 1), (3, 2, 2, 2)], ids=str)
def test_ceil_mode_output_matches_its_size_rule_with_wide_high_padding(n, window, stride, hi):
    """Regression: the ceil rule dropped a window starting in the high padding, but the op still computed it."""
    x = _rand(np.random.default_rng(18), 1, n, 2)
    hyper = dict(stride=stride, padding=((0, hi),), ceil_mode=True)
    want = ops.conv_output_size(n, window, stride=stride, padding=(0, hi), ceil_mode=True)
    y = jit_call(ops.max_pool, x, window=window, **hyper)
    assert y.shape == (1, want, 2)
    ref.assert_close(y, ref.max_pool(x, window, **hyper))
    for cip in (True, False):
        ref.assert_close(jit_call(ops.avg_pool, x, window=window, count_include_pad=cip, **hyper),
                         ref.avg_pool(x, window, count_include_pad=cip, **hyper))


def test_switches_and_unpool_under_vmap_and_grad():
    xs = _rand(np.random.default_rng(19), 3, 2, 6, 6, 2)
    ys, sws = jax.jit(jax.vmap(lambda x: ops.max_pool_with_argmax(x, 2)))(xs)
    ups = jax.jit(jax.vmap(lambda y, s: ops.max_unpool(y, s, output_shape=(6, 6))))(ys, sws)
    for i in range(3):
        ref.assert_close(ys[i], ref.max_pool(xs[i], 2))
        gathered = np.take_along_axis(xs[i].reshape(2, -1, 2), np.asarray(sws[i]).reshape(2, -1, 2), axis=1)
        np.testing.assert_array_equal(gathered, np.asarray(ys[i]).reshape(2, -1, 2))
        # Unpooling keeps exactly the maxima of each window, zeros elsewhere.
        np.testing.assert_array_equal(np.asarray(ups[i]) != 0, xs[i] == np.repeat(np.repeat(
            np.asarray(ys[i]), 2, axis=1), 2, axis=2))
    # The values flow through the switches: d/dy sum(unpool(y)) = 1; y's gradient is max_pool's.
    g = jax.grad(lambda y: jnp.sum(ops.max_unpool(y, sws[0], output_shape=(6, 6))))(ys[0])
    np.testing.assert_array_equal(np.asarray(g), 1.0)
    gx = jax.grad(lambda x: jnp.sum(ops.max_pool_with_argmax(x, 2)[0]))(jnp.asarray(xs[0]))
    np.testing.assert_array_equal(np.asarray(gx) != 0, np.asarray(ups[0]) != 0)


# ----------------------------------------------------------------------------
# The gradient of max pooling: every impl against a NumPy loop, ties included.

GRAD_CONFIGS = [
    # (x shape, window, stride, padding, dilation, ceil_mode)
    ((2, 8, 8, 3), 2, None, 0, 1, False),  # windows tile the input
    ((2, 9, 9, 2), 2, None, 0, 1, False),  # a last row/col no window reads
    ((2, 9, 9, 2), 3, 2, 1, 1, True),  # AlexNet-style overlapping, ceil mode
    ((1, 10, 7, 2), (3, 2), (2, 1), ((1, 0), (0, 1)), 1, False),
    ((1, 11, 11, 2), 3, 1, 2, 2, False),  # dilated
    ((2, 7, 7, 2), 2, 2, 0, 1, True),  # ceil mode, tiled
    ((2, 8, 8, 1), 3, 3, 1, 1, True),
    ((2, 6, 6, 1), 2, 2, "same", 1, False),
    ((3, 13, 2), (3,), 2, 1, 1, True),  # 1D: a per-dim window names the rank
    ((1, 5, 6, 5, 2), (2, 2, 2), 2, 0, 1, False),  # 3D
    ((1, 6, 5, 6, 1), (3, 2, 2), (2, 1, 2), 1, 1, False),
]


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("impl", ["auto", "xla"])
@pytest.mark.parametrize("cfg", GRAD_CONFIGS, ids=str)
def test_max_pool_gradient_matches_loop_reference(cfg, impl, ties):
    shape, window, stride, padding, dilation, ceil_mode = cfg
    if impl == "xla" and dilation != 1:
        pytest.skip("XLA has no gradient for dilated max pooling (jcnn's own backward covers it)")
    rng = np.random.default_rng(21)
    x = _rand(rng, *shape)
    if ties:  # ReLU-like maps: many equal maxima (zeros), first one wins
        x = np.maximum(np.round(x), 0.0)
    kw = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    y = ops.max_pool(jnp.asarray(x), window, **kw)
    dy = _rand(rng, *y.shape)
    _, vjp = jax.vjp(lambda a: ops.max_pool(a, window, impl=impl, **kw), jnp.asarray(x))
    got = jax.jit(lambda d: vjp(d)[0])(jnp.asarray(dy))
    ref.assert_close(got, ref.max_pool_grad(x, dy, window, **kw))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_max_pool_gradient_low_precision(dtype):
    rng = np.random.default_rng(22)
    x = jnp.asarray(_rand(rng, 2, 8, 8, 3), dtype)
    g = jax.jit(jax.grad(lambda a: jnp.sum(ops.max_pool(a, 3, stride=2, padding=1).astype(jnp.float32))))(x)
    assert g.dtype == x.dtype
    ref.assert_close(g, ref.max_pool_grad(np.asarray(x, np.float32), np.ones((2, 4, 4, 3)), 3, stride=2, padding=1),
                     dtype)


@pytest.mark.parametrize("platform, scatter", [("cpu", False), ("cuda", True), ("tpu", True)])
def test_max_pool_gradient_lowers_without_select_and_scatter_only_on_cpu(platform, scatter):
    """XLA-CPU's select_and_scatter is 5-10x slower than the forward; other platforms keep XLA's gradient."""
    x = jnp.zeros((2, 8, 8, 3))
    grad = lambda impl: jax.jit(jax.grad(lambda a: jnp.sum(ops.max_pool(a, 2, impl=impl))))
    text = lambda impl: jax.export.export(grad(impl), platforms=[platform])(x).mlir_module()
    assert ("stablehlo.select_and_scatter" in text("auto")) == scatter
    assert "stablehlo.select_and_scatter" in text("xla")


def test_max_pool_rejects_unknown_impl():
    with pytest.raises(ValueError, match="impl='shift'"):
        ops.max_pool(jnp.zeros((1, 4, 4, 1)), 2, impl="shift")
