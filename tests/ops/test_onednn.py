"""The oneDNN route of ``jcnn.ops.conv`` (``jcnn/ops/_onednn``): values against NumPy loops, selection, fallback.

The forward, input-gradient and kernel-gradient handlers are checked against
``_reference`` (NumPy loops in float64) and a loop written here for the kernel
gradient. Tests that need the built extension skip without it, unless
``JCNN_REQUIRE_ONEDNN=1`` (CI sets it after building): then they run and fail
with the reason the extension is missing.
"""

import itertools
import logging
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn.ops import _conv_impl, _onednn, conv
from jcnn.ops._onednn import build

from . import _reference as ref

REQUIRED = os.environ.get("JCNN_REQUIRE_ONEDNN", "0") == "1"
needs_onednn = pytest.mark.skipif(not (_onednn.available() or REQUIRED),
                                  reason=f"oneDNN extension: {_onednn.status()}")


def _kernel_grad(x, dy, w_shape, *, stride, pads, dilation, groups):
    """``dw[k, i, o] = sum_{n, p} x_pad[n, p*stride + k*dilation, g(o)*C_in/G + i] * dy[n, p, o]``, float64 loops."""
    nd = x.ndim - 2
    xp = np.pad(np.asarray(x, np.float64), [(0, 0), *pads, (0, 0)])
    dy = np.asarray(dy, np.float64)
    kernel, ci_g, co = w_shape[:nd], w_shape[-2], w_shape[-1]
    co_g = co // groups
    dw = np.zeros(w_shape)
    for k in itertools.product(*map(range, kernel)):
        for p in itertools.product(*map(range, dy.shape[1:-1])):
            idx = tuple(pi * s + ki * d for pi, ki, s, d in zip(p, k, stride, dilation))
            xs, g = xp[(slice(None), *idx)], dy[(slice(None), *p)]  # (N, C_in), (N, C_out)
            for grp in range(groups):
                dw[k][:, grp * co_g:(grp + 1) * co_g] += (xs[:, grp * ci_g:(grp + 1) * ci_g].T
                                                          @ g[:, grp * co_g:(grp + 1) * co_g])
    return dw


# (x shape, kernel, groups, C_out, stride, padding as (lo, hi) pairs, dilation)
CASES = [
    ((3, 9, 8, 1), (5, 5), 1, 4, (1, 1), ((2, 2), (2, 2)), (1, 1)),  # LeNet-like first layer
    ((2, 9, 10, 3), (3, 3), 1, 5, (2, 2), ((1, 1), (1, 1)), (1, 1)),  # stride 2, a row the floor division drops
    ((2, 11, 9, 2), (3, 2), 1, 3, (1, 2), ((1, 0), (2, 1)), (2, 1)),  # asymmetric padding, dilation
    ((4, 7, 7, 6), (3, 3), 2, 4, (1, 1), ((1, 1), (1, 1)), (1, 1)),  # grouped
    ((2, 8, 8, 6), (3, 3), 6, 6, (1, 1), ((1, 1), (1, 1)), (1, 1)),  # depthwise
    ((2, 9, 9, 4), (3, 3), 4, 8, (2, 2), ((1, 1), (1, 1)), (1, 1)),  # depthwise, multiplier 2, stride 2
    ((2, 10, 10, 5), (3, 3), 5, 5, (1, 1), ((0, 0), (0, 0)), (2, 2)),  # depthwise, dilated
    ((3, 6, 6, 8), (1, 1), 1, 5, (2, 2), ((1, 1), (1, 1)), (1, 1)),  # 1x1, stride, padding
    ((3, 17, 2), (4,), 1, 3, (2,), ((1, 1),), (1,)),  # 1-D
    ((2, 5, 6, 5, 2), (3, 3, 2), 1, 3, (1, 1, 1), ((1, 1), (1, 1), (1, 1)), (1, 1, 1)),  # 3-D
]


@needs_onednn
@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_forward_input_and_kernel_gradient_match_numpy(case):
    xshape, kernel, groups, c_out, stride, pads, dilation = case
    rng = np.random.default_rng(11)
    x = rng.standard_normal(xshape).astype(np.float32)
    w = (rng.standard_normal((*kernel, xshape[-1] // groups, c_out)) / np.sqrt(np.prod(kernel))).astype(np.float32)
    hyper = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    y_want = ref.conv(x, w, **hyper)
    dy = rng.standard_normal(y_want.shape).astype(np.float32)
    # output_padding gives back the rows the forward's floor division never read.
    spare = tuple(n + lo + hi - (s * (m - 1) + d * (k - 1) + 1) for n, m, k, s, d, (lo, hi)
                  in zip(xshape[1:-1], y_want.shape[1:-1], kernel, stride, dilation, pads))
    dx_want = ref.conv_transpose(dy, w, output_padding=spare, **hyper)
    dw_want = _kernel_grad(x, dy, w.shape, stride=stride, pads=pads, dilation=dilation, groups=groups)

    def f(x, w, dy):
        y, vjp = jax.vjp(lambda a, b: conv(a, b, impl="onednn", **hyper), x, w)
        return (y, *vjp(dy))

    jaxpr = str(jax.make_jaxpr(f)(x, w, dy))
    # oneDNN runs the forward and the kernel gradient; the input gradient too, except for tiny C_in
    # (col2im) and depthwise (the elementwise transpose), where jcnn's own measured faster.
    jcnn_dx = (groups == 1 and xshape[-1] <= 4) or groups == xshape[-1]
    assert jaxpr.count("ffi_call") == (2 if jcnn_dx else 3) and "conv_general_dilated" not in jaxpr
    for got, want in zip(jax.jit(f)(x, w, dy), (y_want, dx_want, dw_want)):
        ref.assert_close(got, want)


@needs_onednn
def test_bfloat16_against_float64():
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((4, 8, 8, 8)), rng.standard_normal((3, 3, 8, 8)) / 3
    dy = rng.standard_normal((4, 4, 4, 8))
    hyper = dict(stride=2, padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    bf = lambda a: jnp.asarray(a, jnp.bfloat16)
    y, vjp = jax.vjp(lambda a, b: conv(a, b, impl="onednn", **hyper), bf(x), bf(w))
    dx, dw = vjp(bf(dy))
    assert y.dtype == dx.dtype == dw.dtype == jnp.bfloat16
    wants = (ref.conv(x, w, **hyper), ref.conv_transpose(dy, w, output_padding=1, **hyper),
             _kernel_grad(x, dy, w.shape, stride=(2, 2), pads=((1, 1), (1, 1)), dilation=(1, 1), groups=1))
    for got, want in zip((y, dx, dw), wants):
        np.testing.assert_allclose(np.asarray(got, np.float64), want, atol=0.03 * np.abs(want).max(), rtol=0.02)


@needs_onednn
def test_auto_picks_onednn_where_supported_and_falls_back_elsewhere():
    x = jax.ShapeDtypeStruct((128, 32, 32, 16), jnp.float32)
    w = jax.ShapeDtypeStruct((3, 3, 16, 16), jnp.float32)
    assert _conv_impl.select(x, w, padding=1) == "onednn"
    # float16: oneDNN's CPU convolutions do not take it; jcnn's own rule applies.
    x16, w16 = (jax.ShapeDtypeStruct(a.shape, jnp.float16) for a in (x, w))
    assert _conv_impl.select(x16, w16, padding=1) != "onednn"
    y = conv(jnp.ones((2, 5, 5, 3), jnp.float16), jnp.ones((3, 3, 3, 2), jnp.float16), padding=1)
    np.testing.assert_array_equal(np.asarray(y[0, 2, 2], np.float32), [27.0, 27.0])


@needs_onednn
def test_other_platforms_keep_xla_convolution():
    f = jax.jit(lambda x, w: conv(x, w, padding=1))
    x, w = jnp.ones((2, 8, 8, 16)), jnp.ones((3, 3, 16, 8))
    assert "jcnn_onednn_conv_fwd" in f.lower(x, w).as_text()
    try:
        hlo = f.trace(x, w).lower(lowering_platforms=("cuda",)).as_text()
    except Exception as e:  # noqa: BLE001 - a jaxlib without the cuda lowering rules
        pytest.skip(f"cannot lower for cuda here: {e}")
    assert "convolution" in hlo and "jcnn_onednn" not in hlo


def test_without_the_extension_impl_onednn_names_the_reason_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(_onednn, "_state", {"lib": None, "status": "not built (python -m jcnn.ops._onednn.build)"})
    x, w = jnp.ones((2, 6, 6, 1)), jnp.ones((3, 3, 1, 2))
    with pytest.raises(ValueError, match=r"conv: impl='onednn' needs .*not built.*impl='auto'"):
        conv(x, w, impl="onednn")
    assert _conv_impl.select(x, w, padding=1) == "im2col"
    np.testing.assert_allclose(np.asarray(conv(x, w, padding=1))[0, 2, 2], [9.0, 9.0])


def test_the_path_in_use_is_logged_once(monkeypatch, caplog):
    monkeypatch.setattr(_onednn, "_state", {})
    monkeypatch.setattr(_onednn, "_load", lambda: (None, "not built (python -m jcnn.ops._onednn.build)"))
    with caplog.at_level(logging.INFO, logger="jcnn"):
        assert not _onednn.available() and not _onednn.available()
    msgs = [r.getMessage() for r in caplog.records if r.name == "jcnn"]
    assert len(msgs) == 1 and "XLA formulations" in msgs[0] and "not built" in msgs[0]


def test_opt_out_by_environment_variable():
    code = ("import jax.numpy as jnp; from jcnn.ops import _onednn, conv; "
            "y = conv(jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 1)), padding=1); "
            "print(_onednn.available(), _onednn.status(), float(y[0, 1, 1, 0]))")
    env = {**os.environ, "JCNN_ONEDNN": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "off", "(JCNN_ONEDNN=0)", "9.0"]


def test_threads_setting_is_checked(monkeypatch):
    monkeypatch.setenv(_onednn.THREADS_ENV, "two")
    with pytest.raises(ValueError, match="JCNN_ONEDNN_THREADS='two' must be a non-negative int"):
        _onednn.threads()
    monkeypatch.setenv(_onednn.THREADS_ENV, "1")
    assert _onednn.threads() == 1


def test_build_without_cmake_is_one_line_and_status_2(monkeypatch, capsys):
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    assert build.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jcnn.ops._onednn.build: cmake not found (pip install cmake)"]


@needs_onednn
def test_repeated_calls_are_bit_identical():
    """jcnn's determinism contract: same inputs, same process or not, same bits (oneDNN's reductions are ordered)."""
    rng = np.random.default_rng(13)
    x, w = jnp.asarray(rng.standard_normal((64, 16, 16, 16)), jnp.float32), jnp.asarray(
        rng.standard_normal((3, 3, 16, 16)), jnp.float32)
    f = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(conv(x, w, padding=1, impl="onednn"))), argnums=(0, 1)))
    first = [np.asarray(g) for g in f(x, w)]
    for _ in range(3):
        for g, r in zip(f(x, w), first):
            np.testing.assert_array_equal(np.asarray(g), r)


@needs_onednn
def test_auto_avoids_onednn_with_several_cpu_devices():
    # XLA cannot partition the custom call: a sharded batch would be gathered around every call.
    code = ("import jcnn, jax, jax.numpy as jnp; from jcnn.ops import _conv_impl;"
            "x = jax.ShapeDtypeStruct((128, 32, 32, 16), jnp.float32);"
            "w = jax.ShapeDtypeStruct((3, 3, 16, 16), jnp.float32);"
            "print(len(jax.devices()), _conv_impl.select(x, w, padding=1))")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    n, impl = out.stdout.split()
    assert n == "2" and impl != "onednn", out.stdout
