"""Every formulation of ``jcnn.ops.conv`` equals XLA's path: forward, input and kernel gradient.

The oracle is ``jax.vjp`` of ``conv(..., impl='xla')``; a NumPy loop checks
the forward of every formulation independently, and ``_reference.conv_transpose``
(a NumPy scatter) the col2im input gradient.
"""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn.ops import _conv_impl, conv, conv_impl

from . import _reference as ref

# (name, x shape, kernel, groups, C_out, stride, padding, dilation)
CONFIGS = [
    ("2d_cin1_pad", (3, 9, 8, 1), (5, 5), 1, 4, 1, 2, 1),
    ("2d_cin3_stride", (2, 9, 10, 3), (3, 3), 1, 5, 2, 1, 1),
    ("2d_cin2_dil_asym", (2, 11, 9, 2), (3, 2), 1, 3, (1, 2), ((1, 0), (2, 1)), (2, 1)),
    ("2d_blocked_uneven_batch", (20, 6, 6, 5), (3, 3), 1, 4, 1, 1, 1),
    ("2d_blocked_stride_dil", (19, 9, 9, 6), (3, 3), 1, 7, 2, 2, 2),
    ("2d_grouped", (18, 7, 7, 6), (3, 3), 2, 4, 1, "same", 1),
    ("2d_depthwise", (3, 8, 8, 6), (3, 3), 6, 6, 1, 1, 1),
    ("2d_depthwise_mult_stride", (2, 9, 9, 4), (3, 3), 4, 8, 2, "same", 1),
    ("2d_depthwise_dil", (2, 10, 10, 5), (3, 3), 5, 5, 1, 0, 2),
    ("2d_1x1", (3, 6, 6, 8), (1, 1), 1, 5, 1, 0, 1),
    ("2d_1x1_stride_pad", (2, 7, 7, 6), (1, 1), 1, 3, 2, 1, 1),
    ("1d_cin1", (3, 17, 1), (4,), 1, 3, 2, 1, 1),
    ("1d_depthwise", (3, 17, 4), (5,), 4, 4, 1, "same", 1),
    ("1d_blocked", (40, 12, 5), (3,), 1, 6, 1, 1, 1),
    ("3d_cin2", (2, 5, 6, 5, 2), (3, 3, 2), 1, 3, 1, 1, 1),
    ("3d_blocked", (33, 4, 5, 4, 3 + 2), (2, 3, 3), 1, 4, (1, 2, 1), 1, 1),
    ("3d_1x1", (2, 3, 4, 5, 6), (1, 1, 1), 1, 4, 1, 0, 1),
]
# "onednn" runs where the extension is built (CI builds it and sets JCNN_REQUIRE_ONEDNN=1: then it must run).
_ONEDNN = pytest.mark.skipif(not (_conv_impl._onednn.available() or os.environ.get("JCNN_REQUIRE_ONEDNN") == "1"),
                             reason="oneDNN extension not built (python -m jcnn.ops._onednn.build)")
IMPLS = ["auto", pytest.param("onednn", marks=_ONEDNN), "im2col", "shift", "matmul", "depthwise", "blocked"]


def _data(xshape, kernel, groups, c_out, dtype=jnp.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(xshape), dtype)
    w = jnp.asarray(rng.standard_normal((*kernel, xshape[-1] // groups, c_out)) / np.sqrt(np.prod(kernel)), dtype)
    return x, w


def _supported(impl, x, w, groups, stride, padding, dilation):
    try:
        conv(x, w, groups=groups, stride=stride, padding=padding, dilation=dilation, impl=impl)
        return True
    except ValueError:
        return False


def _vjp(x, w, dy, impl, **kw):
    y, vjp = jax.vjp(lambda x, w: conv(x, w, impl=impl, **kw), x, w)
    return (y, *vjp(dy))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_matches_xla_forward_and_gradients(cfg, impl):
    _, xshape, kernel, groups, c_out, stride, padding, dilation = cfg
    x, w = _data(xshape, kernel, groups, c_out)
    kw = dict(groups=groups, stride=stride, padding=padding, dilation=dilation)
    if not _supported(impl, x, w, **kw):
        pytest.skip(f"{impl} does not take this config")
    ref = conv(x, w, impl="xla", **kw)
    dy = jnp.asarray(np.random.default_rng(1).standard_normal(ref.shape), jnp.float32)
    want = _vjp(x, w, dy, "xla", **kw)
    got = jax.jit(lambda x, w, dy: _vjp(x, w, dy, impl, **kw))(x, w, dy)
    for name, g, r in zip(("y", "dx", "dw"), got, want):
        assert g.shape == r.shape and g.dtype == r.dtype, name
        scale = float(jnp.abs(r).max()) + 1.0
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-5, atol=2e-5 * scale, err_msg=name)


def _numpy_conv(x, w, stride, pad, groups):
    """A plain loop over output pixels, 2D, symmetric int padding."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    w = np.asarray(w, np.float64)
    kh, kw_, ci_g, co = w.shape
    n, hp, wp, _ = x.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw_) // stride + 1
    co_g = co // groups
    y = np.zeros((n, ho, wo, co))
    for i, j in itertools.product(range(ho), range(wo)):
        patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw_, :]
        for g in range(groups):
            p = patch[..., g * ci_g:(g + 1) * ci_g].reshape(n, -1)
            y[:, i, j, g * co_g:(g + 1) * co_g] = p @ w[..., g * co_g:(g + 1) * co_g].reshape(-1, co_g)
    return y


@pytest.mark.parametrize("impl,xshape,kernel,groups,c_out,stride,pad", [
    ("shift", (2, 7, 6, 1), (3, 3), 1, 4, 1, 1),
    ("shift", (2, 7, 7, 3), (2, 3), 1, 2, 2, 0),
    ("im2col", (2, 7, 6, 1), (3, 3), 1, 4, 1, 1),
    ("im2col", (2, 9, 7, 3), (2, 3), 1, 5, 2, 0),
    ("depthwise", (2, 6, 6, 3), (3, 3), 3, 6, 1, 1),
    ("matmul", (2, 5, 5, 4), (1, 1), 1, 3, 2, 0),
    ("blocked", (20, 5, 5, 4), (3, 3), 2, 6, 1, 1),
    ("auto", (20, 5, 5, 4), (3, 3), 1, 6, 2, 1),
])
def test_forward_matches_numpy_loop(impl, xshape, kernel, groups, c_out, stride, pad):
    x, w = _data(xshape, kernel, groups, c_out, seed=3)
    got = conv(x, w, stride=stride, padding=pad, groups=groups, impl=impl)
    np.testing.assert_allclose(np.asarray(got), _numpy_conv(x, w, stride, pad, groups), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_grad_jit_vmap(impl):
    groups = 4 if impl == "depthwise" else 1
    c_in = 1 if impl in ("shift", "im2col") else 4
    kernel = (1, 1) if impl == "matmul" else (3, 3)
    x, w = _data((5, 18, 6, 6, c_in), kernel, groups if c_in > 1 else 1, 4)
    kw = dict(padding=1, groups=groups if c_in > 1 else 1)

    def loss(x, w, impl):
        return jnp.sum(jnp.sin(jax.vmap(lambda xi: conv(xi, w, impl=impl, **kw))(x)))

    got = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)(x, w, impl)
    want = jax.grad(loss, argnums=(0, 1))(x, w, "xla")
    for g, r in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("impl", IMPLS)
def test_bfloat16(impl):
    groups = 4 if impl == "depthwise" else 1
    c_in = 2 if impl in ("shift", "im2col") else 4
    kernel = (1, 1) if impl == "matmul" else (3, 3)
    x, w = _data((20, 6, 6, c_in), kernel, groups, 4, dtype=jnp.bfloat16)
    kw = dict(padding=1, groups=groups)
    y, dx, dw = _vjp(x, w, jnp.ones(conv(x, w, impl="xla", **kw).shape, jnp.bfloat16), impl, **kw)
    assert y.dtype == dx.dtype == dw.dtype == jnp.bfloat16
    f32 = _vjp(x.astype(jnp.float32), w.astype(jnp.float32), jnp.ones(y.shape), "xla", **kw)
    for g, r in zip((y, dx, dw), f32):
        scale = float(jnp.abs(r).max()) + 1.0
        np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(r), atol=3e-2 * scale, rtol=3e-2)


def _prims(f, *args):
    return str(jax.make_jaxpr(f)(*args))


def test_override_keyword_and_context():
    x, w = _data((4, 8, 8, 1), (5, 5), 1, 6)

    def f(x, w):  # a fresh function per trace: tracing caches on the function object
        return conv(x, w, padding=2)

    assert "custom_vjp" in _prims(f, x, w)
    assert "custom_vjp" not in _prims(lambda x, w: conv(x, w, padding=2, impl="xla"), x, w)
    with conv_impl("xla"):
        jaxpr = _prims(lambda x, w: f(x, w), x, w)
    assert "conv_general_dilated" in jaxpr and "custom_vjp" not in jaxpr and "platform_index" not in jaxpr
    assert "platform_index" in _prims(lambda x, w: f(x, w), x, w)  # the context is restored


def test_bad_impl_names_the_choices():
    x, w = _data((2, 5, 5, 3), (3, 3), 1, 4)
    with pytest.raises(ValueError, match="impl='fast'.*'xla'"):
        conv(x, w, impl="fast")
    with pytest.raises(ValueError, match="impl='matmul' does not support"):
        conv(x, w, impl="matmul")
    with pytest.raises(ValueError, match="impl"):
        with conv_impl("nope"):
            pass


@pytest.mark.parametrize("shape,kernel,groups,c_out,want", [
    ((128, 28, 28, 1), (5, 5), 1, 6, "im2col"),
    ((128, 32, 32, 3), (3, 3), 1, 16, "im2col"),
    ((128, 14, 14, 6), (5, 5), 1, 16, "blocked"),
    ((128, 32, 32, 16), (3, 3), 1, 16, "blocked"),
    ((16, 56, 56, 64), (3, 3), 1, 64, "xla"),  # blocks of 1 sample: XLA's kernel gradient wins
    ((32, 28, 28, 128), (3, 3), 128, 128, "depthwise"),
    ((32, 28, 28, 128), (1, 1), 1, 128, "xla"),  # XLA's own 1x1 conv beats a dot (jcnn's XLA-CPU setting)
    ((1, 56, 56, 64), (3, 3), 1, 64, "xla"),  # one block: nothing to split
])
def test_selection_rule_is_a_pure_function_of_shapes(shape, kernel, groups, c_out, want, monkeypatch):
    monkeypatch.setattr(_conv_impl._xla_cpu, "active", lambda: True)  # as after `import jcnn` in a fresh process
    monkeypatch.setattr(_conv_impl._onednn, "available", lambda: False)  # the rule without the extension
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    w = jax.ShapeDtypeStruct((*kernel, shape[-1] // groups, c_out), jnp.float32)
    assert _conv_impl.select(x, w, padding="same", groups=groups) == want
    assert _conv_impl.select(x, w, padding="same", groups=groups) == want


def test_one_by_one_is_a_dot_when_xla_cpu_convolutions_stay_on_ynnpack(monkeypatch):
    monkeypatch.setattr(_conv_impl._xla_cpu, "active", lambda: False)
    monkeypatch.setattr(_conv_impl._onednn, "available", lambda: False)
    x = jax.ShapeDtypeStruct((32, 28, 28, 128), jnp.float32)
    w = jax.ShapeDtypeStruct((1, 1, 128, 128), jnp.float32)
    assert _conv_impl.select(x, w) == "matmul"


def test_other_platforms_lower_xla_convolution_only():
    x, w = _data((4, 8, 8, 1), (5, 5), 1, 6)
    f = jax.jit(lambda x, w: conv(x, w, padding=2))
    try:
        hlo = f.trace(x, w).lower(lowering_platforms=("cuda",)).as_text()
    except Exception as e:  # noqa: BLE001 - a jaxlib without the cuda lowering rules
        pytest.skip(f"cannot lower for cuda here: {e}")
    assert "convolution" in hlo
    cpu = f.lower(x, w).as_text()
    assert "convolution" not in cpu  # im2col + one dot on CPU


# (x shape, kernel, C_out, stride, padding, dilation, output_padding = the rows floor division dropped)
COL2IM = [
    ((3, 9, 8, 1), (5, 5), 4, 1, 2, 1, 0),
    ((2, 9, 10, 3), (3, 3), 5, 2, 1, 1, (0, 1)),
    ((2, 11, 9, 6), (3, 2), 3, (1, 2), ((1, 0), (2, 1)), (2, 1), 0),
    ((20, 9, 9, 8), (3, 3), 7, 2, 2, 2, 0),
    ((3, 17, 5), (4,), 3, 2, 1, 1, 1),
    ((2, 5, 6, 5, 2), (3, 3, 2), 3, 1, 1, 1, 0),
]


@pytest.mark.parametrize("cfg", COL2IM, ids=str)
def test_col2im_input_gradient_matches_numpy_scatter(cfg):
    """The input gradient of the custom formulations (col2im for C_in <= 4, else XLA's) against a NumPy scatter loop."""
    xshape, kernel, c_out, stride, padding, dilation, opad = cfg
    x, w = _data(xshape, kernel, 1, c_out, seed=5)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    impl = "im2col" if xshape[-1] <= 4 else "blocked"
    y, vjp = jax.vjp(lambda a: conv(a, w, impl=impl, **kw), x)
    dy = np.random.default_rng(6).standard_normal(y.shape).astype(np.float32)
    got = jax.jit(lambda d: vjp(d)[0])(jnp.asarray(dy))
    want = ref.conv_transpose(dy, w, output_padding=opad, **kw)
    assert want.shape == x.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-4)
