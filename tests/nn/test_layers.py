"""jcnn.nn layers: parameters, delegation to the ops, modes, init, errors.

Oracles are NumPy written here; the layers must add parameters, not maths.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jcnn import nn


def np_conv2d(x, w, b, stride, pad):
    """Plain loop cross-correlation, (N,H,W,C) x (KH,KW,C,O)."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    y = np.zeros((n, ho, wo, o))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y + b


def test_conv_layer_owns_kernel_and_bias_and_computes_cross_correlation():
    layer = nn.Conv(3, 5, kernel_size=3, stride=2, padding=1, bias_init="constant_0.5", rngs=nnx.Rngs(0))
    assert layer.kernel.shape == (3, 3, 3, 5) and layer.bias.shape == (5,)
    x = np.random.default_rng(0).normal(size=(2, 7, 7, 3)).astype(np.float32)
    y = layer(jnp.asarray(x))
    ref = np_conv2d(x, np.asarray(layer.kernel[...]), 0.5, 2, 1)
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size,shape", [(3, (2, 6, 6, 4)), ((3,), (2, 6, 4)), ((1, 3, 3), (2, 4, 6, 6, 4))])
def test_conv_rank_follows_kernel_size(kernel_size, shape):
    layer = nn.Conv(4, 2, kernel_size=kernel_size, padding="same", groups=2, rngs=nnx.Rngs(0))
    y = layer(jnp.ones(shape))
    assert y.shape == shape[:-1] + (2,)
    assert layer.kernel.shape == (*((kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size), 2, 2)


def test_depthwise_and_flip_and_no_bias():
    layer = nn.Conv(3, 3, kernel_size=(1, 2), groups=3, flip=True, use_bias=False, rngs=nnx.Rngs(0))
    assert layer.bias is None and layer.kernel.shape == (1, 2, 1, 3)
    x = np.arange(2 * 1 * 4 * 3, dtype=np.float32).reshape(2, 1, 4, 3)
    w = np.asarray(layer.kernel[...])
    y = np.asarray(layer(jnp.asarray(x)))
    # True convolution: y[j] = x[j] * w[1] + x[j+1] * w[0], channel by channel (float64 reference).
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = x64[:, :, :-1, :] * w64[0, 1, 0] + x64[:, :, 1:, :] * w64[0, 0, 0]
    # float32 sums of terms up to |x| * |w| can cancel: allow a few ulps of the terms, not of the result.
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=4 * np.finfo(np.float32).eps * np.abs(x64).max() * np.abs(w64).max())


def test_conv_transpose_layer_inverts_shapes_and_is_adjoint_of_conv():
    ct = nn.ConvTranspose(4, 3, kernel_size=3, stride=2, padding=1, output_padding=1, use_bias=False, rngs=nnx.Rngs(1))
    y = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 4, 4)), jnp.float32)
    x = ct(y)
    assert x.shape == (2, 8, 8, 3)
    # <conv(x'), y> == <x', conv_transpose(y)> for the same kernel (adjointness), kernel (3,3,3,4).
    xp = jnp.asarray(np.random.default_rng(2).normal(size=(2, 8, 8, 3)), jnp.float32)
    from jcnn import ops
    lhs = jnp.vdot(ops.conv(xp, ct.kernel[...], stride=2, padding=1), y)
    rhs = jnp.vdot(xp, x)
    np.testing.assert_allclose(float(lhs), float(rhs), rtol=1e-4)


def test_dense_and_flatten():
    d = nn.Dense(6, 4, rngs=nnx.Rngs(0))
    x = np.random.default_rng(0).normal(size=(3, 2, 3)).astype(np.float32)
    flat = nn.Flatten()(jnp.asarray(x))
    assert flat.shape == (3, 6)
    np.testing.assert_array_equal(np.asarray(flat), x.reshape(3, 6))
    np.testing.assert_allclose(np.asarray(d(flat)), x.reshape(3, 6) @ np.asarray(d.kernel[...]), rtol=1e-5, atol=1e-6)


def test_batchnorm_train_updates_running_stats_eval_uses_them():
    bn = nn.BatchNorm(2, momentum=0.9)
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 3, 3, 2)).astype(np.float32)
    y = np.asarray(bn(jnp.asarray(x)))
    mean, var = x.reshape(-1, 2).mean(0), x.reshape(-1, 2).var(0)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)
    m = x.size // 2
    np.testing.assert_allclose(np.asarray(bn.mean[...]), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.var[...]), 0.9 + 0.1 * var * m / (m - 1), rtol=1e-5)
    bn.eval()
    stats = (np.asarray(bn.mean[...]).copy(), np.asarray(bn.var[...]).copy())
    y_eval = np.asarray(bn(jnp.asarray(x)))
    np.testing.assert_allclose(y_eval, (x - stats[0]) / np.sqrt(stats[1] + 1e-5), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(bn.mean[...]), stats[0])  # eval does not update


def test_lrn_layer_matches_paper_formula():
    x = np.random.default_rng(0).normal(size=(1, 2, 2, 7)).astype(np.float32)
    y = np.asarray(nn.LRN(size=5, alpha=1e-2, beta=0.75, k=2.0)(jnp.asarray(x)))
    ref = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - 2), min(6, c + 2)
        ref[..., c] = x[..., c] / (2.0 + 1e-2 * (x[..., lo:hi + 1] ** 2).sum(-1)) ** 0.75
    np.testing.assert_allclose(y, ref, rtol=1e-5)


def test_pool_layers():
    x = np.arange(1 * 5 * 5 * 1, dtype=np.float32).reshape(1, 5, 5, 1)
    assert nn.MaxPool(3, stride=2, ceil_mode=True)(jnp.asarray(x)).shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(np.asarray(nn.MaxPool(2)(jnp.asarray(x)))[0, :, :, 0], [[6, 8], [16, 18]])
    np.testing.assert_allclose(np.asarray(nn.AvgPool(2)(jnp.asarray(x)))[0, :, :, 0], [[3, 5], [13, 15]])
    np.testing.assert_allclose(np.asarray(nn.GlobalAvgPool()(jnp.asarray(x))), [[12.0]])
    np.testing.assert_allclose(np.asarray(nn.GlobalMaxPool()(jnp.asarray(x))), [[24.0]])


def test_dropout_modes_and_keys():
    d = nn.Dropout(0.5, rngs=nnx.Rngs(dropout=0))
    x = jnp.ones((1000,))
    y = np.asarray(d(x))
    assert set(np.unique(y)) <= {0.0, 2.0} and 350 < (y == 0).sum() < 650
    d.eval()
    np.testing.assert_array_equal(np.asarray(d(x)), np.ones(1000))
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="key"):
        nn.Dropout(0.5)(x)


class _Net(nnx.Module):
    def __init__(self, rngs):
        self.conv = nn.Conv(1, 4, kernel_size=3, use_bias=False, rngs=rngs)
        self.bn = nn.BatchNorm(4)
        self.drop1 = nn.Dropout(0.5, rngs=rngs)
        self.drop2 = nn.Dropout(0.5, rngs=rngs)
        self.fc = nn.Dense(4 * 4 * 4, 3, rngs=rngs)

    def __call__(self, x):
        x = self.bn(self.conv(x))
        return self.fc(self.drop2(self.drop1(x)).reshape(x.shape[0], -1))


def _np(a):
    return np.asarray(jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a)


def test_apply_is_pure_and_threads_state():
    graphdef, state = nnx.split(_Net(nnx.Rngs(params=0, dropout=1)))
    before = jax.tree.map(_np, state)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 6, 6, 1)), jnp.float32)
    f = jax.jit(lambda s, x, k: nn.apply(graphdef, s, x, train=True, rngs=k))
    y1, s1 = f(state, x, jax.random.key(3))
    y2, s2 = f(state, x, jax.random.key(3))
    y3, _ = f(state, x, jax.random.key(4))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))  # same inputs -> same outputs
    assert not np.array_equal(np.asarray(y1), np.asarray(y3))  # the key drives the masks
    jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(_np, state))  # input untouched
    assert not np.array_equal(np.asarray(s1["bn"]["mean"][...]), before["bn"]["mean"][...])  # stats threaded
    # Evaluation mode: deterministic, no key needed, stats unchanged.
    ye, se = nn.apply(graphdef, state, x, train=False)
    np.testing.assert_array_equal(np.asarray(se["bn"]["mean"][...]), before["bn"]["mean"][...])
    # vmap over examples in eval mode equals the batched call.
    yv, _ = jax.vmap(lambda xi: nn.apply(graphdef, state, xi[None], train=False), out_axes=(0, None))(x)
    np.testing.assert_allclose(np.asarray(yv[:, 0]), np.asarray(ye), rtol=1e-5, atol=1e-6)


def test_apply_with_partitioned_state_and_grad():
    graphdef, params, rest = nnx.split(_Net(nnx.Rngs(params=0, dropout=1)), nnx.Param, ...)
    x = jnp.ones((2, 6, 6, 1))

    def loss(p):
        y, (p2, r2) = nn.apply(graphdef, (p, rest), x, train=True, rngs=jax.random.key(0))
        return jnp.sum(y**2), r2

    grads, new_rest = jax.grad(loss, has_aux=True)(params)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert jax.tree.structure(new_rest) == jax.tree.structure(rest)
    assert float(jnp.abs(grads["fc"]["kernel"][...]).sum()) > 0


def test_two_dropout_layers_get_different_masks():
    class Two(nnx.Module):
        def __init__(self, rngs):
            self.a, self.b = nn.Dropout(0.5, rngs=rngs), nn.Dropout(0.5, rngs=rngs)

        def __call__(self, x):
            return jnp.stack([self.a(x), self.b(x)])

    g, s = nnx.split(Two(nnx.Rngs(dropout=0)))
    y, _ = nn.apply(g, s, jnp.ones((256,)), train=True, rngs=jax.random.key(7))
    assert not np.array_equal(np.asarray(y[0]), np.asarray(y[1]))


def test_initialisers_have_their_variance():
    key = jax.random.key(0)
    w = nn.init.get("he_normal")(key, (3, 3, 64, 256))
    np.testing.assert_allclose(float(jnp.std(w)), np.sqrt(2.0 / (9 * 64)), rtol=0.05)
    w = nn.init.get("glorot_uniform")(key, (3, 3, 64, 256))
    np.testing.assert_allclose(float(jnp.var(w)), 2.0 / (9 * 64 + 9 * 256), rtol=0.05)
    w = nn.init.get("lecun_1998")(key, (5, 5, 6, 16))
    assert float(jnp.abs(w).max()) <= 2.4 / 150
    with pytest.raises(ValueError, match="he_normal"):
        nn.init.get("he_norml")


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "groups"),
    (dict(in_channels=0, out_channels=4, kernel_size=3), "in_channels"),
    (dict(in_channels=3, out_channels=4, kernel_size=(3, 3, 3, 3)), "kernel_size"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, stride=0), "stride"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding="full"), "padding"),
])
def test_conv_layer_rejects_bad_hyperparameters_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.Conv(rngs=nnx.Rngs(0), **kwargs)


def test_layer_errors_name_the_shapes():
    layer = nn.Conv(3, 4, kernel_size=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"x has 2 channels.*C_in=3"):
        layer(jnp.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match="BatchNorm"):
        nn.BatchNorm(4)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="unknown activation"):
        nn.Activation("rleu")


def test_mixed_precision_keeps_float32_params():
    layer = nn.Conv(2, 3, kernel_size=3, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    y = layer(jnp.ones((1, 5, 5, 2)))
    assert y.dtype == jnp.bfloat16 and layer.kernel.dtype == jnp.float32


def test_layers_compute_in_their_input_dtype():
    # dtype=None: a bfloat16 input runs the product in bfloat16 on the float32 parameters cast at the call.
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 2)).astype(np.float32)
    xb = jnp.asarray(x, jnp.bfloat16)
    for layer, inp in ((nn.Conv(2, 3, kernel_size=3, rngs=nnx.Rngs(0)), xb),
                       (nn.ConvTranspose(2, 3, kernel_size=3, stride=2, rngs=nnx.Rngs(0)), xb),
                       (nn.Dense(2, 3, rngs=nnx.Rngs(0)), xb[:, 0, 0])):
        g, params = nnx.split(layer)
        assert layer.kernel.dtype == jnp.float32
        y = layer(inp)
        assert y.dtype == jnp.bfloat16
        # Same numbers as float32 maths on the bf16-rounded inputs, up to bf16 output rounding.
        xf = np.asarray(inp.astype(jnp.float32))
        yf = layer(jnp.asarray(xf, jnp.float32))
        assert yf.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(y, np.float32), np.asarray(yf), rtol=2e-2, atol=2e-2)
        grads = jax.grad(lambda p: jnp.sum(nn.apply(g, p, inp)[0].astype(jnp.float32)))(params)
        assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(grads))


def test_batchnorm_keeps_float32_statistics_for_bfloat16_input():
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(4, 3, 3, 2)).astype(np.float32)
    xb = jnp.asarray(x, jnp.bfloat16)
    xr = np.asarray(xb.astype(jnp.float32), np.float64)  # the values the layer sees
    bn = nn.BatchNorm(2, momentum=0.5)
    y = bn(xb)
    assert y.dtype == jnp.bfloat16 and bn.mean.dtype == jnp.float32 and bn.var.dtype == jnp.float32
    mean, var = xr.mean((0, 1, 2)), xr.var((0, 1, 2))
    np.testing.assert_allclose(np.asarray(bn.mean[...]), 0.5 * mean, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(bn.var[...]), 0.5 + 0.5 * var * 36 / 35, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(y, np.float32), (xr - mean) / np.sqrt(var + 1e-5), rtol=1e-2, atol=1e-2)


def test_apply_on_pure_dicts_returns_pure_dicts():
    # The training state holds pure dicts (checkpoint-friendly): apply takes and returns them.
    graphdef, params, stats, rest = nnx.split(_Net(nnx.Rngs(params=0, dropout=1)), nnx.Param, nnx.BatchStat, ...)
    pure = tuple(nnx.to_pure_dict(s) for s in (params, stats, rest))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 6, 6, 1)), jnp.float32)
    y, new = jax.jit(lambda s, x: nn.apply(graphdef, s, x, train=True, rngs=jax.random.key(0)))(pure, x)
    ys, new_states = nn.apply(graphdef, (params, stats, rest), x, train=True, rngs=jax.random.key(0))
    np.testing.assert_allclose(np.asarray(y), np.asarray(ys), rtol=1e-6, atol=1e-6)  # jit vs eager: last bits
    assert all(isinstance(s, dict) for s in new)
    assert jax.tree.structure(new) == jax.tree.structure(pure)
    want = nnx.to_pure_dict(new_states[1])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6), new[1], want)
    assert not np.array_equal(np.asarray(new[1]["bn"]["mean"]), np.asarray(pure[1]["bn"]["mean"]))
