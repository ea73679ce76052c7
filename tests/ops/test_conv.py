"""``jcnn.ops.conv``, ``conv_transpose`` and ``conv_grads`` against NumPy loops and ``jax.vjp``.

Oracles: ``_reference.conv`` (the definition as loops over output positions
and kernel offsets), ``_reference.conv_transpose`` (each input position
scatters ``w * y``), ``np.convolve`` / ``scipy.signal.convolve2d`` for true
convolution, ``jax.vjp`` of ``conv`` for the transpose and the hand-written
gradients, and central finite differences for ``jax.grad``.
"""

import inspect
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from jcnn import ops

from . import _reference as ref
from ._jit import jit_call

# The fast-path selector (``impl=``) may be present; XLA's path is pinned where
# a test is about XLA's lowering, and swept alongside the default elsewhere.
HAS_IMPL = "impl" in inspect.signature(ops.conv).parameters
IMPLS = [None, "xla"] if HAS_IMPL else [None]

PADDINGS = [0, 2, (1, 0), ((1, 2), (0, 1)), "same", "VALID", "Same"]


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _pad_nd(padding, nd):
    """Rewrite a 2D grid padding for ``nd`` spatial dims (same form, different length)."""
    if isinstance(padding, (str, int)):
        return padding
    return tuple(padding[i % len(padding)] for i in range(nd))


def _case(rng, nd, *, groups, c_per_group=2, mult=1, size=9, kernel=(3, 2, 2), n=2):
    """x (n, size..., C_in), w (*K, C_in/g, C_out); 'dw' groups means depthwise with multiplier ``mult``."""
    c_in = 4 if groups == "dw" else groups * c_per_group
    g = c_in if groups == "dw" else groups
    c_out = c_in * mult if groups == "dw" else 2 * g
    x = _rand(rng, n, *(size - i for i in range(nd)), c_in)  # unequal spatial sizes catch axis mix-ups
    w = _rand(rng, *kernel[:nd], c_in // g, c_out)
    return x, w, g


# ----------------------------------------------------------------------------
# conv: forward against the loop definition.

@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("padding", PADDINGS, ids=str)
@pytest.mark.parametrize("stride", [1, 2, 3, (2, 1)], ids=str)
def test_conv2d_matches_loop_reference(stride, padding, dilation):
    rng = np.random.default_rng(0)
    x, w, g = _case(rng, 2, groups=1, c_per_group=3)
    got = jit_call(ops.conv, x, w, stride=stride, padding=padding, dilation=dilation)
    ref.assert_close(got, ref.conv(x, w, stride=stride, padding=padding, dilation=dilation))


@pytest.mark.parametrize("groups", [1, 2, "dw"])
@pytest.mark.parametrize("padding", [1, ((0, 2),), "same", "valid"], ids=str)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (3, 2), (1, 3)])
def test_conv1d_matches_loop_reference(stride, dilation, padding, groups):
    rng = np.random.default_rng(1)
    x, w, g = _case(rng, 1, groups=groups, size=11, kernel=(3,))
    got = jit_call(ops.conv, x, w, stride=stride, padding=padding, dilation=dilation, groups=g)
    ref.assert_close(got, ref.conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=g))


@pytest.mark.parametrize("groups", [1, 2, "dw"])
@pytest.mark.parametrize("padding", [0, (1, 0, 2), ((1, 0), (0, 2), (1, 1)), "SAME"], ids=str)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 2), (3, 1), ((1, 2, 3), (2, 1, 1))], ids=str)
def test_conv3d_matches_loop_reference(stride, dilation, padding, groups):
    rng = np.random.default_rng(2)
    x, w, g = _case(rng, 3, groups=groups, size=7, kernel=(2, 3, 2), n=1)
    got = jit_call(ops.conv, x, w, stride=stride, padding=padding, dilation=dilation, groups=g)
    ref.assert_close(got, ref.conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=g))


@pytest.mark.parametrize("groups, mult", [(2, 1), (3, 1), ("dw", 1), ("dw", 2)])
@pytest.mark.parametrize("stride, padding, dilation", [(1, "same", 1), (2, 1, 2), (3, ((2, 0), (0, 1)), 1)], ids=str)
def test_grouped_and_depthwise_conv2d(groups, mult, stride, padding, dilation):
    rng = np.random.default_rng(3)
    x, w, g = _case(rng, 2, groups=groups, mult=mult)
    got = jit_call(ops.conv, x, w, stride=stride, padding=padding, dilation=dilation, groups=g)
    ref.assert_close(got, ref.conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=g))


def _random_config(rng):
    """One random conv: rank 1-3, kernel 1-4, stride 1-3, dilation 1-3, any padding form, groups 1/2/depthwise."""
    nd = int(rng.integers(1, 4))
    kernel = tuple(int(k) for k in rng.integers(1, 5 if nd < 3 else 4, nd))
    stride = tuple(int(s) for s in rng.integers(1, 4, nd))
    dilation = tuple(int(d) for d in rng.integers(1, 4, nd))
    form = rng.integers(0, 5)
    if form == 0:
        padding = int(rng.integers(0, 3))
    elif form == 1:
        padding = tuple(int(p) for p in rng.integers(0, 3, nd))
    elif form == 2:
        padding = tuple((int(lo), int(hi)) for lo, hi in rng.integers(0, 4, (nd, 2)))
    else:
        padding = str(rng.choice(["same", "valid", "SAME", "Valid"]))
    kind = rng.integers(0, 3)
    c_in = int(rng.integers(1, 4)) * (2 if kind == 1 else 1)
    groups = {0: 1, 1: 2, 2: c_in}[kind]
    c_out = groups * int(rng.integers(1, 3))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    sizes = tuple(int(s + rng.integers(0, 5)) for s in span)  # never below the dilated kernel
    n = int(rng.integers(1, 3))
    return dict(x_shape=(n, *sizes, c_in), w_shape=(*kernel, c_in // groups, c_out),
                stride=stride, padding=padding, dilation=dilation, groups=groups)


SWEEP = [_random_config(np.random.default_rng(1234 + i)) for i in range(40)]


@pytest.mark.parametrize("impl", IMPLS, ids=str)
@pytest.mark.parametrize("cfg", SWEEP, ids=[f"sweep{i}" for i in range(len(SWEEP))])
def test_conv_random_sweep_matches_loop_reference(cfg, impl):
    rng = np.random.default_rng(7)
    x, w, b = _rand(rng, *cfg["x_shape"]), _rand(rng, *cfg["w_shape"]), _rand(rng, cfg["w_shape"][-1])
    hyper = {k: cfg[k] for k in ("stride", "padding", "dilation", "groups")}
    extra = {"impl": impl} if impl else {}
    ref.assert_close(jit_call(ops.conv, x, w, b, **hyper, **extra), ref.conv(x, w, b, **hyper))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("stride, padding, dilation, groups", [(1, "same", 1, 1), (2, ((1, 0), (2, 1)), 2, 2),
                                                               (1, 1, 1, "dw")], ids=str)
def test_conv_dtypes_against_float64_reference(dtype, stride, padding, dilation, groups):
    rng = np.random.default_rng(4)
    x, w, g = _case(rng, 2, groups=groups)
    x, w = jnp.asarray(x, dtype), jnp.asarray(w, dtype)
    got = jit_call(ops.conv, x, w, stride=stride, padding=padding, dilation=dilation, groups=g)
    assert got.dtype == dtype
    # The oracle sees the same rounded inputs: only the op's arithmetic is judged.
    want = ref.conv(np.asarray(x, np.float64), np.asarray(w, np.float64),
                    stride=stride, padding=padding, dilation=dilation, groups=g)
    ref.assert_close(got, want, dtype)


def test_conv_float64_under_enable_x64():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 8, 7, 3)), rng.standard_normal((3, 2, 3, 4))
    with jax.enable_x64(True):
        got = jit_call(ops.conv, jnp.asarray(x), jnp.asarray(w), stride=2, padding="same", dilation=(1, 2))
        assert got.dtype == jnp.float64
        ref.assert_close(got, ref.conv(x, w, stride=2, padding="same", dilation=(1, 2)), "float64")


def test_conv_bias_adds_per_output_channel():
    rng = np.random.default_rng(6)
    x, w, b = _rand(rng, 2, 6, 6, 3), _rand(rng, 3, 3, 3, 5), _rand(rng, 5)
    got = jit_call(ops.conv, x, w, b, padding=1)
    ref.assert_close(got, ref.conv(x, w, padding=1) + b)
    ref.assert_close(got - jit_call(ops.conv, x, w, padding=1), np.broadcast_to(b, got.shape))


def test_conv_padding_forms_agree_with_explicit_pairs():
    """Every accepted spelling of the same padding is the same computation."""
    rng = np.random.default_rng(8)
    x, w = _rand(rng, 1, 7, 6, 2), _rand(rng, 3, 3, 2, 2)
    want = ref.conv(x, w, padding=[(1, 1), (1, 1)])
    for padding in (1, (1, 1), [1, 1], ((1, 1), (1, 1)), [[1, 1], [1, 1]], "same", "SAME", "sAmE"):
        ref.assert_close(jit_call(ops.conv, x, w, padding=padding), want)


def test_conv_same_output_is_ceil_n_over_stride():
    x, w = np.zeros((1, 10, 11, 1), np.float32), np.zeros((4, 3, 1, 1), np.float32)
    for s in (1, 2, 3):
        for d in (1, 2):
            y = jit_call(ops.conv, x, w, stride=s, dilation=d, padding="same")
            assert y.shape == (1, -(-10 // s), -(-11 // s), 1)


# ----------------------------------------------------------------------------
# flip=True is true convolution.

@pytest.mark.parametrize("n, k", [(9, 3), (8, 4), (5, 5), (12, 1)])
def test_flip_matches_np_convolve_1d(n, k):
    rng = np.random.default_rng(n * 10 + k)
    x, kern = rng.standard_normal(n), rng.standard_normal(k)
    x1, k1 = jnp.asarray(x, jnp.float32)[None, :, None], jnp.asarray(kern, jnp.float32)[:, None, None]
    got = jit_call(ops.conv, x1, k1, flip=True)
    ref.assert_close(got[0, :, 0], np.convolve(x, kern, mode="valid"))
    # And without flip it is correlation: np.correlate.
    got = jit_call(ops.conv, x1, k1)
    ref.assert_close(got[0, :, 0], np.correlate(x, kern, mode="valid"))


@pytest.mark.parametrize("mode, padding", [("valid", "valid"), ("full", ((2, 2), (1, 1))), ("same", ((1, 1), (1, 0)))])
def test_flip_matches_scipy_convolve2d(mode, padding):
    rng = np.random.default_rng(11)
    img, kern = rng.standard_normal((8, 7)), rng.standard_normal((3, 2))
    x2, k2 = jnp.asarray(img, jnp.float32)[None, :, :, None], jnp.asarray(kern, jnp.float32)[:, :, None, None]
    got = jit_call(ops.conv, x2, k2, padding=padding, flip=True)
    ref.assert_close(got[0, :, :, 0], scipy.signal.convolve2d(img, kern, mode=mode))


def test_flip_with_channels_and_stride_flips_only_spatial_dims():
    rng = np.random.default_rng(12)
    x, w = _rand(rng, 2, 9, 8, 3), _rand(rng, 3, 2, 3, 4)
    got = jit_call(ops.conv, x, w, stride=2, padding=1, flip=True)
    ref.assert_close(got, ref.conv(x, w[::-1, ::-1], stride=2, padding=1))


# ----------------------------------------------------------------------------
# conv_transpose: the input-gradient of conv, the scatter definition, its size.

TRANSPOSE_CASES = [
    # nd, stride, padding, output_padding, dilation, groups, size
    (1, 1, 0, 0, 1, 1, 9), (1, 2, 1, 1, 1, 1, 9), (1, 3, ((2, 0),), 2, 2, 2, 10),
    (1, 2, "same", 0, 1, "dw", 8), (1, 3, "valid", 1, 3, 1, 12),
    (2, 1, 1, 0, 1, 1, 8), (2, 2, 1, 1, 1, 1, 9), (2, (2, 3), ((1, 0), (2, 1)), (1, 2), 1, 2, 10),
    (2, 2, "same", 0, 2, 1, 8), (2, 3, "SAME", 0, 1, "dw", 9), (2, 1, 2, 0, 3, 2, 9),
    (2, 3, 0, (2, 0), (2, 1), "dw", 11), (2, 2, "valid", 1, 2, 2, 10),
    (3, 1, 0, 0, 1, 1, 5), (3, 2, 1, 1, 1, 2, 6), (3, 2, "same", 0, (1, 2, 1), "dw", 6),
]


def _transpose_case(rng, nd, stride, padding, output_padding, dilation, groups, size):
    """x, w, groups of the forward conv whose input gradient the transpose computes.

    x's size is the transpose's output size for this config, so the forward
    conv's output is exactly the transpose's input.
    """
    x, w, g = _case(rng, nd, groups=groups, size=size, kernel=(3, 2, 3))
    s, op = ref.tup(stride, nd), ref.tup(output_padding, nd)
    k, d = w.shape[:nd], ref.tup(dilation, nd)
    xs = x.shape[1:-1]
    if isinstance(padding, str) and padding.lower() == "same":
        xs = [(n // si) * si for n, si in zip(xs, s)]  # 'same' transposes an n*s input
    else:
        pp = ref.pads(padding, xs, k, s, d)
        outs = [ref.out_len(n, ki, si, di, lo, hi) for n, ki, si, di, (lo, hi) in zip(xs, k, s, d, pp)]
        xs = [(m - 1) * si - lo - hi + di * (ki - 1) + 1 + o
              for m, si, (lo, hi), di, ki, o in zip(outs, s, pp, d, k, op)]
    return _rand(rng, x.shape[0], *xs, x.shape[-1]), w, g


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv_transpose_is_vjp_of_conv_and_the_scatter_reference(case):
    nd, stride, padding, output_padding, dilation, groups, size = case
    rng = np.random.default_rng(20)
    x, w, g = _transpose_case(rng, *case)
    hyper = dict(stride=stride, padding=padding, dilation=dilation, groups=g)
    y, vjp = jax.vjp(jax.jit(lambda x_: ops.conv(x_, w, **hyper)), jnp.asarray(x))
    dy = _rand(rng, *y.shape)
    got = jit_call(ops.conv_transpose, dy, w, output_padding=output_padding, **hyper)
    assert got.shape == x.shape
    ref.assert_close(got, vjp(jnp.asarray(dy))[0])
    ref.assert_close(got, ref.conv_transpose(dy, w, output_padding=output_padding, **hyper))


@pytest.mark.parametrize("stride, padding, output_padding, dilation, k, n",
                         [(1, 0, 0, 1, 3, 5), (2, 1, 1, 1, 3, 4), (3, (2, 1), 2, 2, 4, 3), (2, 0, 0, 3, 2, 6),
                          (4, (0, 3), 3, 1, 5, 2), (2, "valid", 1, 1, 3, 3), (2, "same", 0, 2, 3, 5)], ids=str)
def test_conv_transpose_output_size_formula(stride, padding, output_padding, dilation, k, n):
    if padding == "same":
        want = n * stride
    else:
        lo, hi = (0, 0) if padding == "valid" else ((padding, padding) if isinstance(padding, int) else padding)
        want = (n - 1) * stride - lo - hi + dilation * (k - 1) + 1 + output_padding
    assert ops.conv_transpose_output_size(n, k, stride=stride, padding=padding, output_padding=output_padding,
                                          dilation=dilation) == want
    pad_arg = padding if isinstance(padding, (str, int)) else (padding,)
    y, w = np.ones((1, n, 2), np.float32), np.ones((k, 3, 2), np.float32)
    got = jit_call(ops.conv_transpose, y, w, stride=stride, padding=pad_arg, output_padding=output_padding,
                   dilation=dilation)
    assert got.shape == (1, want, 3)


def test_conv_transpose_bias_and_upsampling_example():
    """Stride-2 transpose of a 2x2 map with a 2x2 ones kernel tiles each value into a 2x2 block."""
    y = np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2, 1)
    w = np.ones((2, 2, 1, 1), np.float32)
    got = jit_call(ops.conv_transpose, y, w, np.array([0.5], np.float32), stride=2)
    want = np.kron(np.arange(1, 5).reshape(2, 2), np.ones((2, 2))) + 0.5
    np.testing.assert_array_equal(np.asarray(got)[0, :, :, 0], want)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_conv_transpose_half_precision(dtype):
    rng = np.random.default_rng(21)
    y, w = jnp.asarray(_rand(rng, 2, 4, 5, 4), dtype), jnp.asarray(_rand(rng, 3, 3, 2, 4), dtype)
    got = jit_call(ops.conv_transpose, y, w, stride=2, padding=1, output_padding=1, groups=2)
    assert got.dtype == dtype
    want = ref.conv_transpose(np.asarray(y, np.float64), np.asarray(w, np.float64), stride=2, padding=1,
                              output_padding=1, groups=2)
    ref.assert_close(got, want, dtype)


# ----------------------------------------------------------------------------
# conv_grads: the hand-written backward pass equals jax.vjp, everywhere.

def _grads_case(nd, stride, padding, dilation, groups):
    rng = np.random.default_rng(30 + nd)
    size = {1: 10, 2: 9, 3: 7}[nd]
    x, w, g = _case(rng, nd, groups=groups, size=size, kernel=(3, 2, 2), n=2 if nd < 3 else 1)
    hyper = dict(stride=stride, padding=padding, dilation=dilation, groups=g)
    y_shape = jax.eval_shape(lambda x_, w_: ops.conv(x_, w_, **hyper), x, w).shape
    dy = _rand(rng, *y_shape)

    @jax.jit  # one compile for both sides
    def both(x_, w_, dy_):
        want = jax.vjp(lambda a, b: ops.conv(a, b, **hyper), x_, w_)[1](dy_)
        return want, ops.conv_grads(x_, w_, dy_, **hyper)

    (want_dx, want_dw), (dx, dw) = both(x, w, dy)
    assert dx.shape == x.shape and dw.shape == w.shape
    ref.assert_close(dx, want_dx)
    ref.assert_close(dw, want_dw)


GRAD_PADDINGS = [0, 1, ((2, 0), (1, 3)), "same", "valid"]


@pytest.mark.parametrize("groups", [1, 2, "dw"])
@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("padding", GRAD_PADDINGS, ids=str)
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_grads_equals_vjp_2d(stride, padding, dilation, groups):
    _grads_case(2, stride, padding, dilation, groups)


@pytest.mark.parametrize("nd", [1, 3])
@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("padding", GRAD_PADDINGS, ids=str)
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_grads_equals_vjp_1d_3d(nd, stride, padding, dilation):
    # Groups cycle with the grid position so every kind meets every rank.
    groups = [1, 2, "dw"][(stride + dilation + GRAD_PADDINGS.index(padding)) % 3]
    _grads_case(nd, stride, padding if isinstance(padding, (str, int)) else padding[:1] * nd, dilation, groups)


def test_conv_grads_matches_numpy_definition_of_dw():
    """``dL/dK = xcorr(X, dL/dY)``: dw[k, i, o] = sum_{n, p} x_pad[n, p*s + k*d, i] dy[n, p, o]."""
    rng = np.random.default_rng(33)
    x, w = _rand(rng, 2, 9, 8, 3), _rand(rng, 3, 3, 3, 2)
    s, d, pad = 2, 2, 1
    dy = _rand(rng, *ref.conv(x, w, stride=s, padding=pad, dilation=d).shape)
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros(w.shape)
    for ki, kj in itertools.product(range(3), range(3)):
        for p, q in itertools.product(range(dy.shape[1]), range(dy.shape[2])):
            want[ki, kj] += xp[:, p * s + ki * d, q * s + kj * d, :].T @ dy[:, p, q, :]
    ref.assert_close(jit_call(ops.conv_grads, x, w, dy, stride=s, padding=pad, dilation=d)[1], want)


@pytest.mark.parametrize("stride, padding, dilation, groups",
                         [(1, 0, 1, 1), (2, "same", 1, 2), (3, ((1, 2), (0, 1)), 2, 1)], ids=str)
def test_jax_grad_of_conv_matches_finite_differences(stride, padding, dilation, groups):
    rng = np.random.default_rng(40)
    x, w = rng.standard_normal((1, 7, 6, 2)), rng.standard_normal((3, 2, 2 // groups, 2))
    c = rng.standard_normal(ref.conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups).shape)
    with jax.enable_x64(True):
        def loss(x_, w_):
            y = ops.conv(x_, w_, stride=stride, padding=padding, dilation=dilation, groups=groups)
            return jnp.sum(jnp.asarray(c) * jnp.tanh(y))
        loss = jax.jit(loss)
        gx, gw = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), jnp.asarray(w))
        eps = 1e-6
        for arr, grad, argnum in ((x, gx, 0), (w, gw, 1)):
            num = np.zeros(arr.shape)
            for idx in np.ndindex(arr.shape):
                hi, lo = arr.copy(), arr.copy()
                hi[idx] += eps
                lo[idx] -= eps
                args_hi, args_lo = [x, w], [x, w]
                args_hi[argnum], args_lo[argnum] = hi, lo
                up, down = float(loss(*map(jnp.asarray, args_hi))), float(loss(*map(jnp.asarray, args_lo)))
                num[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(np.asarray(grad), num, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------
# jit, grad, vmap; and the lowering: one conv, no layout transposes.

def test_conv_ops_jit_and_vmap_over_extra_leading_axis():
    rng = np.random.default_rng(50)
    xs, w = _rand(rng, 3, 2, 7, 6, 4), _rand(rng, 3, 3, 2, 4)
    hyper = dict(stride=2, padding="same", groups=2)
    f = jax.jit(jax.vmap(lambda x: ops.conv(x, w, **hyper)))
    ys = f(xs)
    for i in range(3):
        ref.assert_close(ys[i], ref.conv(xs[i], w, **hyper))
    t = jax.jit(jax.vmap(lambda y: ops.conv_transpose(y, w, **hyper)))(ys)
    for i in range(3):
        ref.assert_close(t[i], ref.conv_transpose(ys[i], w, **hyper))
    g = jax.jit(jax.vmap(lambda x, dy: ops.conv_grads(x, w, dy, **hyper)))(xs, ys)
    for i in range(3):
        dx, dw = jit_call(ops.conv_grads, xs[i], w, ys[i], **hyper)
        ref.assert_close(g[0][i], dx)
        ref.assert_close(g[1][i], dw)


def test_conv_transpose_and_grads_differentiate():
    rng = np.random.default_rng(51)
    y, w = jnp.asarray(_rand(rng, 1, 4, 4, 2)), jnp.asarray(_rand(rng, 3, 3, 3, 2))
    # conv_transpose is linear in y: its gradient of <c, T(y)> is conv(c) (the transpose of the transpose).
    c = jnp.asarray(_rand(rng, 1, 9, 9, 3))
    g = jax.grad(lambda y_: jnp.sum(c * jit_call(ops.conv_transpose, y_, w, stride=2, padding=0)))(y)
    ref.assert_close(g, ref.conv(c, w, stride=2))
    gw = jax.grad(lambda w_: jnp.sum(jit_call(ops.conv_grads, c, w_, y, stride=2)[0]))(w)
    assert gw.shape == w.shape and np.isfinite(np.asarray(gw)).all()


def _eqns(jaxpr):
    """Every equation, recursing into sub-jaxprs (pjit, custom_vjp, cond branches)."""
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            subs = param if isinstance(param, (list, tuple)) else [param]
            for sub in subs:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _eqns(inner)


def _prims(fn, *args):
    return [e for e in _eqns(jax.make_jaxpr(fn)(*args).jaxpr)]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_lowers_to_one_conv_and_no_transpose(nd):
    x, w = jnp.zeros((2, *(6,) * nd, 8)), jnp.zeros((*(3,) * nd, 4, 8))
    extra = {"impl": "xla"} if HAS_IMPL else {}
    eqns = _prims(lambda x_, w_: ops.conv(x_, w_, stride=2, padding="same", dilation=1, groups=2, **extra), x, w)
    names = [e.primitive.name for e in eqns]
    assert names.count("conv_general_dilated") == 1, names
    assert "transpose" not in names, names


def test_conv_default_impl_never_transposes_the_activation():
    x, w = jnp.zeros((2, 8, 8, 3)), jnp.zeros((3, 3, 3, 8))
    for args in ((x, w), (jnp.zeros((2, 8, 8, 16)), jnp.zeros((3, 3, 16, 8)))):
        eqns = _prims(lambda x_, w_: ops.conv(x_, w_, padding=1), *args)
        assert not [e for e in eqns if e.primitive.name == "transpose" and e.invars[0].aval.shape == args[0].shape]


def test_conv_transpose_and_grads_never_transpose_the_activation():
    y, w = jnp.zeros((2, 5, 5, 8)), jnp.zeros((3, 3, 2, 8))
    eqns = _prims(lambda y_, w_: ops.conv_transpose(y_, w_, stride=2, padding=1, groups=2), y, w)
    names = [e.primitive.name for e in eqns]
    assert names.count("conv_general_dilated") == 1, names
    # Transposes of the small kernel are fine; none may touch the activation.
    assert not [e for e in eqns if e.primitive.name == "transpose" and e.invars[0].aval.shape == y.shape]
    x = jnp.zeros((2, 9, 9, 4))
    eqns = _prims(lambda x_, w_, dy: ops.conv_grads(x_, w_, dy, stride=2, padding=1, groups=2), x, w, y)
    names = [e.primitive.name for e in eqns]
    assert names.count("conv_general_dilated") == 2, names
    assert not [e for e in eqns if e.primitive.name == "transpose" and e.invars[0].aval.shape in (x.shape, y.shape)]
