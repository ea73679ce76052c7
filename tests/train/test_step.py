"""jcnn.train.step: the classify step against a hand-written JAX step; gradient accumulation; checks.

The reference step is plain JAX written here: the same model split with
``nnx.split``, NumPy preprocessing, a hand-written label-smoothed
cross-entropy and an optax SGD update.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from experiments.configs import common
from jcnn import models
from jcnn.train import optim, state as state_lib, step as step_lib

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


# A small BatchNorm ResNet (one basic block per stage, projection shortcuts, a dilated stage): the same
# step code as ResNet-20 at about half its compile time (the tests below compile two or three steps each).
SMALL_BN = ("dilated_resnet", {"n": 1})


def make_cfg(model=SMALL_BN, batch=8, **fields):
    cfg = common.base()
    name, kwargs = model if isinstance(model, tuple) else (model, {})
    cfg.model.name, cfg.model.kwargs, cfg.model.num_classes, cfg.train.batch_size = name, kwargs, 10, batch
    cfg.data.mean, cfg.data.std = MEAN, STD
    cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.momentum, cfg.optimizer.weight_decay = "sgd", 0.05, 0.9, 1e-3
    for dotted, v in fields.items():
        sec, key = dotted.split("__")
        cfg[sec][key] = v
    return cfg


def batch_of(n, hw=8, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": rng.integers(0, 256, (n, hw, hw, c), dtype=np.uint8),
            "label": rng.integers(0, 10, n).astype(np.int32), "index": np.arange(n, dtype=np.int32)}


def jcnn_steps(cfg, batch, steps):
    tx = optim.optimizer(cfg, 100)
    nets, state = state_lib.create(cfg, tx)
    train_step, _ = step_lib.make_classify_steps(cfg, nets["model"], tx, optim.schedule(cfg, 100))
    train_step = jax.jit(train_step)
    metrics = []
    for s in range(steps):
        state, m = train_step(state, batch, jnp.int32(s))
        metrics.append(m)
    return state, metrics


def reference_steps(cfg, batch, steps, *, micro=1):
    """Hand-written: ``micro`` micro-batches (rows i::micro), each BN-normalised on its own, mean gradient."""
    model = models.create(cfg.model.name, num_classes=10, seed=cfg.seed, **cfg.model.kwargs)
    graphdef, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    x_all = (batch["image"].astype(np.float32) / 255 - np.float32(MEAN)) / np.float32(STD)
    eps = cfg.train.label_smoothing
    tx = optax.chain(optax.add_decayed_weights(cfg.optimizer.weight_decay),
                     optax.sgd(cfg.optimizer.lr, momentum=cfg.optimizer.momentum))
    opt = tx.init(params)

    def loss_fn(p, stats, x, y):
        m = nnx.merge(graphdef, p, stats, rest, copy=True)
        m.train()
        logits = m(x)
        logp = logits - jax.scipy.special.logsumexp(logits, axis=-1, keepdims=True)
        target = jax.nn.one_hot(y, 10) * (1 - eps) + eps / 10
        return -jnp.mean(jnp.sum(target * logp, -1)), nnx.state(m, nnx.BatchStat)

    grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    losses = []
    for _ in range(steps):
        gsum, lsum = None, 0.0
        for i in range(micro):
            (loss, stats), g = grad_fn(params, stats, jnp.asarray(x_all[i::micro]), jnp.asarray(batch["label"][i::micro]))
            gsum = g if gsum is None else jax.tree.map(jnp.add, gsum, g)
            lsum += float(loss)
        grads = jax.tree.map(lambda a: a / micro, gsum)
        updates, opt = tx.update(grads, opt, params)
        params = optax.apply_updates(params, updates)
        losses.append(lsum / micro)
    return nnx.to_pure_dict(params), nnx.to_pure_dict(stats), losses


def assert_trees_close(a, b, rtol, atol):
    fa, fb = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in fa] == [p for p, _ in fb]
    for (path, x), (_, y) in zip(fa, fb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol,
                                   err_msg=jax.tree_util.keystr(path))


def test_classify_step_equals_a_hand_written_step():
    cfg = make_cfg(train__label_smoothing=0.1)
    batch = batch_of(8)
    state, metrics = jcnn_steps(cfg, batch, 3)
    params, stats, losses = reference_steps(cfg, batch, 3)
    assert_trees_close(state["params"], params, rtol=2e-4, atol=2e-5)
    assert_trees_close(state["batch_stats"], stats, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose([float(m["loss"]) for m in metrics], losses, rtol=1e-5)
    assert int(state["step"]) == 3
    # Every metric is a float32 scalar on the device.
    for m in metrics:
        assert {"loss", "accuracy", "grad_norm", "lr"} <= m.keys()
        assert all(v.shape == () and v.dtype == jnp.float32 for v in m.values())


def test_accumulation_without_batchnorm_is_the_big_batch():
    # LeNet-5 has no BatchNorm and no dropout: k micro-batches are the big batch's maths.
    kw = dict(model="lenet5_modern", batch=8)
    batch = batch_of(8, hw=28, c=1)
    cfg1 = make_cfg(**kw)
    cfg1.data.mean, cfg1.data.std = (0.5,), (0.25,)
    cfg4 = make_cfg(train__accum_steps=4, **kw)
    cfg4.data.mean, cfg4.data.std = (0.5,), (0.25,)
    s1, m1 = jcnn_steps(cfg1, batch, 3)
    s4, m4 = jcnn_steps(cfg4, batch, 3)
    assert_trees_close(s4["params"], s1["params"], rtol=1e-5, atol=1e-6)
    for a, b in zip(m1, m4):
        for k in ("loss", "accuracy", "grad_norm"):
            np.testing.assert_allclose(float(b[k]), float(a[k]), rtol=1e-5, err_msg=k)


def test_accumulation_with_batchnorm_is_ghost_batches():
    # With BN each micro-batch is normalised on its own moments and the running statistics are updated
    # once per micro-batch: the hand-written reference does exactly that (rows i::k, mean gradient).
    batch = batch_of(8)
    state, metrics = jcnn_steps(make_cfg(train__accum_steps=2), batch, 2)
    params, stats, losses = reference_steps(make_cfg(), batch, 2, micro=2)
    assert_trees_close(state["params"], params, rtol=2e-4, atol=2e-5)
    assert_trees_close(state["batch_stats"], stats, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose([float(m["loss"]) for m in metrics], losses, rtol=1e-5)
    # ... which is not the big batch: its BN moments are over all 8 examples.
    big, _, _ = reference_steps(make_cfg(), batch, 2, micro=1)
    assert not np.allclose(np.asarray(state["params"]["fc"]["kernel"]), np.asarray(big["fc"]["kernel"]), rtol=1e-3)


@pytest.mark.parametrize("fields,match", [
    (dict(train__accum_steps=3), r"train\.accum_steps=3 must divide train\.batch_size=8"),
    (dict(train__accum_steps=0), r"train\.accum_steps=0"),
    (dict(train__precision="float16"), r"train\.precision='float16'"),
])
def test_step_checks_its_fields(fields, match):
    cfg = make_cfg(**fields)
    with pytest.raises(ValueError, match=match):
        step_lib.make_classify_steps(cfg, None, None, None)


def test_gan_rejects_accumulation():
    cfg = make_cfg(train__accum_steps=2)
    cfg.task = "gan"
    with pytest.raises(ValueError, match=r"train\.accum_steps=2.*classify"):
        step_lib.make_gan_step(cfg, None, None, None)
