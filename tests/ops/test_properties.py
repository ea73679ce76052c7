"""Property-based tests (hypothesis) over ``jcnn.ops``' arguments.

Each generated call either matches a reference written here on ``jax.lax``
directly (``conv_general_dilated``, its ``vjp``, ``reduce_window``,
``dot_general``, hand-written normalisation), or raises ``ValueError`` /
``TypeError`` from jcnn: the message starts with the op's name and names the
argument that was made wrong, never an error from inside JAX or XLA.

Valid cases run the op and its reference in one jitted function (one compile
per case); invalid ones only trace (``jax.eval_shape`` on NumPy arrays), so
nothing compiles, which is why they are the bulk of the ~550 cases. The runs
are deterministic (``derandomize=True``) and have no deadline.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax import lax

from jcnn import ops

SETTINGS = dict(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
F32 = jnp.float32
DTYPES = {"float32": (jnp.float32, 1e-5), "bfloat16": (jnp.bfloat16, 2e-2), "float16": (jnp.float16, 2e-3)}
DN = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}
HIGHEST = lax.Precision.HIGHEST


def _ints(rng, shape, dtype):
    """Small integer values: exact in every float dtype, so sums are exact in float32.

    NumPy arrays: an eager JAX op on a new shape would compile, and most cases never need one.
    """
    return np.asarray(rng.integers(-2, 3, shape)).astype(dtype)


def _close(got, want, dtype_name):
    dtype, tol = DTYPES[dtype_name]
    assert got.dtype == dtype, (got.dtype, dtype)
    got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def _assert_named_error(call, fn, needle):
    """``call`` (traced only) raises ValueError/TypeError from ``fn`` whose message contains ``needle``."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    msg = str(info.value)
    assert type(info.value) in (ValueError, TypeError), type(info.value)
    assert msg.startswith(f"{fn}:"), msg
    assert needle in msg, (needle, msg)


def _as_pairs(padding, sizes, window, stride, dilation):
    """Any padding form -> (lo, hi) pairs, strings by lax's own rule."""
    nd = len(sizes)
    if isinstance(padding, str):
        dilated = [d * (k - 1) + 1 for k, d in zip(window, dilation)]
        return [tuple(p) for p in lax.padtype_to_pads(sizes, dilated, stride, padding.upper())]
    if isinstance(padding, int):
        return [(padding, padding)] * nd
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


# ----------------------------------------------------------------------------- strategies

@st.composite
def padding_forms(draw, nd, hi=2):
    form = draw(st.sampled_from(["int", "per_dim", "pairs", "same", "valid"]))
    if form == "int":
        return draw(st.integers(0, hi))
    if form == "per_dim":
        return tuple(draw(st.integers(0, hi)) for _ in range(nd))
    if form == "pairs":
        return tuple((draw(st.integers(0, hi)), draw(st.integers(0, hi))) for _ in range(nd))
    return draw(st.sampled_from(["same", "valid", "SAME"])) if form == "same" else "valid"


def _per_dim(draw, nd, lo, hi, as_int_ok=True):
    if as_int_ok and draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return tuple(draw(st.integers(lo, hi)) for _ in range(nd))


def _tuple(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


@st.composite
def conv_cases(draw):
    """A valid conv call: rank, sizes, stride, padding, dilation, groups, dtype, bias, flip."""
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride, dilation = _per_dim(draw, nd, 1, 3), _per_dim(draw, nd, 1, 2)
    padding = draw(padding_forms(nd))
    # Large enough for a non-empty output whatever the padding.
    sizes = tuple(d * (k - 1) + 1 + draw(st.integers(0, 3)) for k, d in zip(kernel, _tuple(dilation, nd)))
    return dict(nd=nd, n=draw(st.integers(1, 2)), sizes=sizes, c_in=c_in, c_out=c_out, groups=groups, kernel=kernel,
                stride=stride, dilation=dilation, padding=padding, bias=draw(st.booleans()), flip=draw(st.booleans()),
                dtype=draw(st.sampled_from(list(DTYPES))), seed=draw(st.integers(0, 2**16)))


def _conv_arrays(c):
    rng = np.random.default_rng(c["seed"])
    dtype = DTYPES[c["dtype"]][0]
    x = _ints(rng, (c["n"], *c["sizes"], c["c_in"]), dtype)
    w = _ints(rng, (*c["kernel"], c["c_in"] // c["groups"], c["c_out"]), dtype)
    b = _ints(rng, (c["c_out"],), dtype) if c["bias"] else None
    return x, w, b


def _ref_conv(x, w, b, c):
    nd = c["nd"]
    stride, dilation = _tuple(c["stride"], nd), _tuple(c["dilation"], nd)
    pads = _as_pairs(c["padding"], c["sizes"], c["kernel"], stride, dilation)
    w = jnp.flip(w, tuple(range(nd))) if c["flip"] else w
    y = lax.conv_general_dilated(x.astype(F32), w.astype(F32), stride, pads, rhs_dilation=dilation,
                                 dimension_numbers=DN[nd], feature_group_count=c["groups"], precision=HIGHEST)
    return y if b is None else y + b.astype(F32)


def _conv_kw(c):
    return dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"])


# ----------------------------------------------------------------------------- convolution

@settings(max_examples=40, **SETTINGS)
@given(conv_cases())
def test_conv_matches_lax(c):
    x, w, b = _conv_arrays(c)
    op = functools.partial(ops.conv, **_conv_kw(c), flip=c["flip"])
    got, want = jax.jit(lambda x, w, b: (op(x, w, b), _ref_conv(x, w, b, c)))(x, w, b)
    _close(got, want, c["dtype"])


@settings(max_examples=20, **SETTINGS)
@given(conv_cases())
def test_conv_transpose_and_conv_grads_match_the_vjp_of_lax_conv(c):
    x, w, _ = _conv_arrays(c)
    nd, kw = c["nd"], _conv_kw(c)
    stride, dilation = _tuple(c["stride"], nd), _tuple(c["dilation"], nd)
    pads = _as_pairs(c["padding"], c["sizes"], c["kernel"], stride, dilation)

    def both(x, w, dy):
        f = lambda x_, w_: lax.conv_general_dilated(x_, w_, stride, pads, rhs_dilation=dilation, precision=HIGHEST,
                                                    dimension_numbers=DN[nd], feature_group_count=c["groups"])
        _, vjp = jax.vjp(f, x.astype(F32), w.astype(F32))
        want_dx, want_dw = vjp(dy.astype(F32))
        # The rows the forward conv never read come back to conv_transpose as output_padding.
        outs = dy.shape[1:-1]
        spare = tuple(n + lo + hi - ((m - 1) * s + d * (k - 1) + 1)
                      for n, m, (lo, hi), s, d, k in zip(c["sizes"], outs, pads, stride, dilation, c["kernel"]))
        dx_t = ops.conv_transpose(dy, w, stride=stride, padding=pads, output_padding=spare, dilation=dilation,
                                  groups=c["groups"])
        return ops.conv_grads(x, w, dy, **kw), dx_t, (want_dx, want_dw)

    y_shape = jax.eval_shape(lambda x, w: _ref_conv(x, w, None, c), x, w).shape
    dy = _ints(np.random.default_rng(c["seed"] + 1), y_shape, x.dtype)
    (dx, dw), dx_t, (want_dx, want_dw) = jax.jit(both)(x, w, dy)
    _close(dx, want_dx, c["dtype"])
    _close(dw, want_dw, c["dtype"])
    _close(dx_t, want_dx, c["dtype"])


# One wrong argument at a time, from a valid call: (what to change, the needle the message must contain).
def _conv_mutations(c, x, w, b):
    nd = c["nd"]
    bad_stride = [0, -1, (1,) * (nd + 1), "2", 1.5, (1,) * (nd - 1) + (0,)]
    return {
        "stride": [(dict(stride=s), f"stride={s!r}") for s in bad_stride],
        "dilation": [(dict(dilation=0), "dilation=0"), (dict(dilation=(2,) * (nd + 1)), "dilation=")],
        "padding": [(dict(padding=-1), "padding=-1"), (dict(padding="full"), "padding='full'"),
                    (dict(padding=((1, 1),) * (nd + 1)), "padding="), (dict(padding=1.5), "padding=1.5")],
        "groups": [(dict(groups=0), "groups=0"), (dict(groups=c["c_in"] + 1), f"groups={c['c_in'] + 1}"),
                   (dict(groups=1.0), "groups=1.0")],
        "batch": [(dict(x=x[0]), "lacks the batch dim")],
        "rank": [(dict(x=x[..., None]), "rank")],
        "dtype": [(dict(x=x.astype(np.int32)), "int32"), (dict(w=w.astype(np.bool_)), "bool")],
        "channels": [(dict(x=np.concatenate([x, x], -1)), "channels")],
        "bias": [(dict(b=np.zeros((c["c_out"] + 1,), x.dtype)), "b must have shape")],
        "kernel": [(dict(w=np.zeros((*(s + 2 * 2 + 3 for s in c["sizes"]), *w.shape[-2:]), x.dtype),
                         padding=2, dilation=1, stride=1), "smaller than the dilated kernel")],
    }


@settings(max_examples=200, **SETTINGS)
@given(conv_cases(), st.data())
def test_conv_family_bad_arguments_raise_named_errors(c, data):
    x, w, b = _conv_arrays(c)
    fn = data.draw(st.sampled_from(["conv", "conv_grads", "conv_transpose"]))
    if fn == "conv_transpose":  # its input is a conv output (C_out channels); its bias has C_in entries
        inp, b = np.zeros(jax.eval_shape(lambda x, w: _ref_conv(x, w, None, c), x, w).shape, x.dtype), None
    else:
        inp = x
    muts = _conv_mutations(c, inp, w, b)
    if fn != "conv":
        muts.pop("kernel")  # the transpose grows its input; conv_grads checks it, but reads dy first here
    if fn == "conv_grads":
        muts.pop("bias")
    kind = data.draw(st.sampled_from(sorted(muts)))
    change, needle = data.draw(st.sampled_from(muts[kind]))
    args = dict(x=inp, w=w, **_conv_kw(c))
    args.update(change)
    if fn == "conv":
        call = lambda: ops.conv(args.pop("x"), args.pop("w"), args.pop("b", b), **args)
    elif fn == "conv_grads":
        dy = np.zeros((1,), np.float32)  # never read: the wrong argument is found first
        call = lambda: ops.conv_grads(args.pop("x"), args.pop("w"), dy, **args)
    else:
        call = lambda: ops.conv_transpose(args.pop("x"), args.pop("w"), args.pop("b", None), **args)
    _assert_named_error(lambda: jax.eval_shape(call), fn, needle)


# ----------------------------------------------------------------------------- pooling

@st.composite
def pool_cases(draw):
    nd = draw(st.integers(1, 3))
    # An all-int call is 2-D; other ranks give the window per dim.
    window = _per_dim(draw, nd, 1, 3, as_int_ok=nd == 2)
    win = _tuple(window, nd)
    stride = draw(st.one_of(st.none(), st.just(_per_dim(draw, nd, 1, 3))))
    dilation = _per_dim(draw, nd, 1, 2)
    if draw(st.booleans()):
        padding = draw(st.sampled_from(["same", "valid"]))
    else:  # PyTorch's rule: explicit padding at most half the (dilated) window, so no window is all padding
        padding = tuple((draw(st.integers(0, k // 2)), draw(st.integers(0, k // 2))) for k in win)
    sizes = tuple(d * (k - 1) + 1 + draw(st.integers(0, 4)) for k, d in zip(win, _tuple(dilation, nd)))
    return dict(nd=nd, shape=(draw(st.integers(1, 2)), *sizes, draw(st.integers(1, 3))), window=window,
                stride=stride, dilation=dilation, padding=padding, ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()), dtype=draw(st.sampled_from(list(DTYPES))),
                seed=draw(st.integers(0, 2**16)))


def _ref_pool(x, c, kind):
    """PyTorch's pooling on lax.reduce_window: output size by its ceil rule, -inf (max) or counted (avg) padding."""
    nd, sizes = c["nd"], x.shape[1:-1]
    win = _tuple(c["window"], nd)
    stride = win if c["stride"] is None else _tuple(c["stride"], nd)
    dil = _tuple(c["dilation"], nd) if kind == "max" else (1,) * nd
    pads = _as_pairs(c["padding"], sizes, win, stride, dil)
    outs, grown = [], []
    for n, k, s, d, (lo, hi) in zip(sizes, win, stride, dil, pads):
        span = n + lo + hi - d * (k - 1) - 1
        out = (-(-span // s) if c["ceil_mode"] else span // s) + 1
        if c["ceil_mode"] and (out - 1) * s >= n + lo:
            out -= 1
        outs.append(out)
        grown.append((lo, max(hi, (out - 1) * s + d * (k - 1) + 1 - n - lo)))
    full = ((0, 0), *grown, (0, 0))
    dims, strides, wdil = (1, *win, 1), (1, *stride, 1), (1, *dil, 1)
    xf = x.astype(F32)
    if kind == "max":
        y = lax.reduce_window(jnp.pad(xf, full, constant_values=-jnp.inf), -jnp.inf, lax.max, dims, strides,
                              "VALID", window_dilation=wdil)
    else:
        total = lax.reduce_window(jnp.pad(xf, full), 0.0, lax.add, dims, strides, "VALID")
        # Counted: the input, plus the explicit padding if count_include_pad; never the ceil-mode overhang.
        ones = jnp.ones((1, *sizes, 1), F32)
        counted = jnp.pad(ones, ((0, 0), *pads, (0, 0)), constant_values=1.0 if c["count_include_pad"] else 0.0)
        counted = jnp.pad(counted, [(0, 0)] + [(0, g - p) for (_, g), (_, p) in zip(grown, pads)] + [(0, 0)])
        y = total / lax.reduce_window(counted, 0.0, lax.add, dims, strides, "VALID")
    return y[(slice(None), *(slice(0, o) for o in outs))]


@settings(max_examples=50, **SETTINGS)
@given(pool_cases())
def test_max_and_avg_pool_match_reduce_window(c):
    x = _ints(np.random.default_rng(c["seed"]), c["shape"], DTYPES[c["dtype"]][0])
    kw = dict(stride=c["stride"], padding=c["padding"], ceil_mode=c["ceil_mode"])
    both = jax.jit(lambda x: (ops.max_pool(x, c["window"], dilation=c["dilation"], **kw), _ref_pool(x, c, "max"),
                              ops.avg_pool(x, c["window"], count_include_pad=c["count_include_pad"], **kw),
                              _ref_pool(x, c, "avg")))
    mx, want_mx, av, want_av = both(x)
    _close(mx, want_mx, c["dtype"])
    _close(av, want_av, c["dtype"])


@settings(max_examples=150, **SETTINGS)
@given(pool_cases(), st.data())
def test_pool_bad_arguments_raise_named_errors(c, data):
    x = np.zeros(c["shape"], DTYPES[c["dtype"]][0])
    nd = c["nd"]
    win = _tuple(c["window"], nd)
    muts = [
        (dict(window=0), "window=0"), (dict(window=(0,) * nd), "window="), (dict(window=(2,) * 4), "window="),
        (dict(stride=0), "stride=0"), (dict(stride="1"), "stride='1'"),
        (dict(stride=(1,) * (nd % 3 + 1)), f"stride={(1,) * (nd % 3 + 1)!r}"),
        (dict(padding=-1), "padding=-1"), (dict(padding="full"), "padding='full'"),
        (dict(x=x[0]), "lacks the batch dim"), (dict(x=x.astype(np.int32)), "int32"),
        (dict(window=tuple(n + 3 for n in c["shape"][1:-1]), padding=0, stride=1), "smaller than the window"),
        (dict(x=x[..., None]), "(N,"),
    ]
    if nd != 2:  # an all-int window is 2-D: a 1-D or 3-D input must give it per dim
        muts.append((dict(window=win[0], stride=None, padding=0, dilation=1), f"window={(win[0],) * nd!r}"))
    change, needle = data.draw(st.sampled_from(muts))
    fn = data.draw(st.sampled_from(["max_pool", "avg_pool", "max_pool_with_argmax"]))
    args = dict(x=x, window=c["window"], stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    args.update(change)
    if fn != "max_pool":  # the only one that takes a dilation
        args.pop("dilation")
    op = getattr(ops, fn)
    call = lambda: op(args.pop("x"), args.pop("window"), **args)
    _assert_named_error(lambda: jax.eval_shape(call), fn, needle)


@settings(max_examples=30, **SETTINGS)
@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from(list(DTYPES)), st.integers(0, 2**16), st.booleans())
def test_global_pools_match_reductions_or_name_the_missing_batch_dim(nd, c, dtype, seed, unbatched):
    rng = np.random.default_rng(seed)
    x = _ints(rng, (2, *rng.integers(1, 5, nd), c), DTYPES[dtype][0])
    if unbatched:
        _assert_named_error(lambda: ops.global_avg_pool(x[0], spatial_dims=nd), "global_avg_pool", "batch dim")
        return
    axes = tuple(range(1, nd + 1))
    got = jax.jit(lambda x: (ops.global_avg_pool(x, spatial_dims=nd), ops.global_max_pool(x, spatial_dims=nd)))(x)
    _close(got[0], lax.reduce_sum(x.astype(F32), axes) / np.prod(x.shape[1:-1]), dtype)
    _close(got[1], lax.reduce_max(x.astype(F32), axes), dtype)


# ----------------------------------------------------------------------------- normalisation and dense

@settings(max_examples=30, **SETTINGS)
@given(st.integers(0, 3), st.integers(1, 4), st.sampled_from(list(DTYPES)), st.integers(0, 2**16),
       st.sampled_from(["batch_norm", "batch_norm_train", "lrn"]), st.integers(1, 5))
def test_norms_match_hand_written_maths(nd, c, dtype, seed, op, size):
    rng = np.random.default_rng(seed)
    dt = DTYPES[dtype][0]
    x = _ints(rng, (2, *rng.integers(1, 4, nd), c), dt)
    xf, axes = x.astype(F32), tuple(range(x.ndim - 1))
    if op == "lrn":
        got, want = jax.jit(lambda x: (ops.lrn(x, size=size, alpha=1e-2, k=2.0), x.astype(F32) / (2.0 + 1e-2 * (
            lax.reduce_window(x.astype(F32) ** 2, 0.0, lax.add, (1,) * (x.ndim - 1) + (size,), (1,) * x.ndim,
                              ((0, 0),) * (x.ndim - 1) + ((size // 2, (size - 1) // 2),)))) ** 0.75))(x)
        _close(got, want, dtype)
        return
    scale, bias = _ints(rng, (c,), np.float32), _ints(rng, (c,), np.float32)
    if op == "batch_norm":
        mean, var = _ints(rng, (c,), np.float32), rng.integers(0, 4, (c,)).astype(np.float32)
        got = jax.jit(lambda x: ops.batch_norm(x, mean, var, scale, bias, eps=1e-3))(x)
        _close(got, (xf - mean) / jnp.sqrt(var + 1e-3) * scale + bias, dtype)
        return
    mean = lax.reduce_sum(xf, axes) / (x.size // c)
    var = lax.reduce_sum((xf - mean) ** 2, axes) / (x.size // c)
    y, m, v = jax.jit(lambda x: ops.batch_norm_train(x, scale, bias, eps=1e-3))(x)
    _close(y, (xf - mean) / jnp.sqrt(var + 1e-3) * scale + bias, dtype)
    np.testing.assert_allclose(np.asarray(m), np.asarray(mean), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(v), np.asarray(var), rtol=1e-5, atol=1e-5)


@settings(max_examples=50, **SETTINGS)
@given(st.integers(0, 3), st.integers(1, 5), st.integers(1, 5), st.sampled_from(list(DTYPES)), st.integers(0, 2**16),
       st.sampled_from(["ok", "c_in", "w_rank", "b", "int"]))
def test_dense_matches_dot_general_or_names_the_argument(lead, c_in, c_out, dtype, seed, case):
    rng = np.random.default_rng(seed)
    dt = DTYPES[dtype][0]
    x = _ints(rng, (*rng.integers(1, 4, lead), c_in), dt)
    w, b = _ints(rng, (c_in, c_out), dt), _ints(rng, (c_out,), dt)
    if case == "ok":
        got, want = jax.jit(lambda x, w, b: (ops.dense(x, w, b), lax.dot_general(
            x.astype(F32), w.astype(F32), (((x.ndim - 1,), (0,)), ((), ())), precision=HIGHEST) + b.astype(F32)))(x, w, b)
        _close(got, want, dtype)
        return
    bad = {"c_in": (dict(w=_ints(rng, (c_in + 1, c_out), dt)), "C_in="), "w_rank": (dict(w=w[None]), "w must have"),
           "b": (dict(b=b[:-1] if c_out > 1 else np.zeros((2,), dt)), "b must have"),
           "int": (dict(x=x.astype(np.int32)), "int32")}[case]
    args = {"x": x, "w": w, "b": b, **bad[0]}
    _assert_named_error(lambda: jax.eval_shape(ops.dense, args["x"], args["w"], args["b"]), "dense", bad[1])
