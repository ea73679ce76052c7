"""jcnn.train.optim: each optimiser and schedule against its formula, written here in NumPy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import common
from jcnn.train import optim

RNG = np.random.default_rng(0)
P0 = {"w": RNG.normal(size=(3, 2)).astype(np.float32), "b": RNG.normal(size=(2,)).astype(np.float32)}
GRADS = [{k: RNG.normal(size=v.shape).astype(np.float32) * 3 for k, v in P0.items()} for _ in range(5)]


def cfg_with(**fields):
    cfg = common.base()
    for dotted, v in fields.items():
        sec, key = dotted.split("__")
        cfg[sec][key] = v
    return cfg


def run_optax(cfg, steps=5):
    tx = optim.optimizer(cfg, total_steps=100)
    p = jax.tree.map(jnp.asarray, P0)
    s = tx.init(p)
    out = []
    for g in GRADS[:steps]:
        u, s = tx.update(jax.tree.map(jnp.asarray, g), s, p)
        p = jax.tree.map(lambda a, b: a + b, p, u)
        out.append(jax.tree.map(np.asarray, p))
    return out


def run_numpy(update, steps=5, clip=0.0, l2=0.0):
    """``update(t, g, p, state) -> (delta, state)`` per leaf; clip and L2 applied first, as documented."""
    p = {k: v.astype(np.float64) for k, v in P0.items()}
    state = {k: {} for k in p}
    out = []
    for t, g in enumerate(GRADS[:steps], start=1):
        g = {k: v.astype(np.float64) for k, v in g.items()}
        if clip:
            norm = math.sqrt(sum(float(np.sum(v * v)) for v in g.values()))
            g = {k: v * min(1.0, clip / norm) for k, v in g.items()}
        g = {k: v + l2 * p[k] for k, v in g.items()}
        for k in p:
            d, state[k] = update(t, g[k], p[k], state[k])
            p[k] = p[k] + d
        out.append({k: v.copy() for k, v in p.items()})
    return out


def sgd(lr, mom, nesterov):
    def update(t, g, p, s):
        tr = g + mom * s.get("tr", 0.0)
        return -lr * (g + mom * tr if nesterov else tr), {"tr": tr}
    return update


def adam(lr, b1, b2, eps, wd=0.0):
    def update(t, g, p, s):
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        return -lr * (mh / (np.sqrt(vh) + eps) + wd * p), {"m": m, "v": v}
    return update


def rmsprop(lr, decay, eps, mom):
    def update(t, g, p, s):
        nu = decay * s.get("nu", 0.0) + (1 - decay) * g * g
        u = lr * g / np.sqrt(nu + eps)
        tr = u + mom * s.get("tr", 0.0)
        return -tr, {"nu": nu, "tr": tr}
    return update


CASES = {
    "sgd": (dict(optimizer__name="sgd", optimizer__lr=0.1, optimizer__momentum=0.0), sgd(0.1, 0.0, False), 0, 0),
    "sgd_momentum_l2": (dict(optimizer__name="sgd", optimizer__lr=0.05, optimizer__momentum=0.9,
                             optimizer__weight_decay=1e-2), sgd(0.05, 0.9, False), 0, 1e-2),
    "nesterov_clip": (dict(optimizer__name="sgd", optimizer__lr=0.05, optimizer__momentum=0.9,
                           optimizer__nesterov=True, train__grad_clip=1.5), sgd(0.05, 0.9, True), 1.5, 0),
    "adam_l2": (dict(optimizer__name="adam", optimizer__lr=1e-2, optimizer__weight_decay=1e-3),
                adam(1e-2, 0.9, 0.999, 1e-8), 0, 1e-3),
    "adamw": (dict(optimizer__name="adamw", optimizer__lr=1e-2, optimizer__b1=0.8, optimizer__b2=0.99,
                   optimizer__weight_decay=0.1), adam(1e-2, 0.8, 0.99, 1e-8, wd=0.1), 0, 0),
    "rmsprop_momentum_l2": (dict(optimizer__name="rmsprop", optimizer__lr=1e-2, optimizer__momentum=0.9,
                                 optimizer__decay=0.95, optimizer__eps=1e-3, optimizer__weight_decay=4e-5),
                            rmsprop(1e-2, 0.95, 1e-3, 0.9), 0, 4e-5),
}


@pytest.mark.parametrize("case", CASES)
def test_optimizer_matches_its_formula(case):
    fields, update, clip, l2 = CASES[case]
    got, want = run_optax(cfg_with(**fields)), run_numpy(update, clip=clip, l2=l2)
    for g, w in zip(got, want):
        for k in P0:
            np.testing.assert_allclose(g[k], w[k], rtol=2e-5, atol=2e-6, err_msg=f"{case}: {k}")
    assert not np.allclose(got[-1]["w"], P0["w"])  # it moved


def lr_of(steps, total=100, **fields):
    fn = optim.schedule(cfg_with(optimizer__lr=0.4, **fields), total)
    return [float(fn(s)) for s in steps]


STEPS = [0, 1, 5, 9, 10, 11, 30, 59, 60, 61, 99]


def test_constant_with_warmup():
    want = [0.4 * min(s, 10) / 10 for s in STEPS]
    assert lr_of(STEPS, schedule__warmup_steps=10) == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_step_with_warmup():
    def ref(s):
        if s < 10:
            return 0.4 * s / 10
        return 0.4 * 0.1 ** sum(s >= b for b in (30, 60))
    got = lr_of(STEPS, schedule__name="step", schedule__warmup_steps=10, schedule__boundaries=(30, 60))
    assert got == pytest.approx([ref(s) for s in STEPS], rel=1e-6, abs=1e-9)


def test_cosine_with_warmup_and_floor():
    def ref(s):
        if s < 10:
            return 0.4 * s / 10
        t = (s - 10) / 90
        return 0.4 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))
    got = lr_of(STEPS, schedule__name="cosine", schedule__warmup_steps=10, schedule__alpha=0.05)
    assert got == pytest.approx([ref(s) for s in STEPS], rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential(staircase):
    def ref(s):
        if s < 4:
            return 0.4 * s / 4
        e = (s - 4) / 8
        return 0.4 * 0.96 ** (math.floor(e) if staircase else e)
    got = lr_of(STEPS, schedule__name="exponential", schedule__warmup_steps=4, schedule__factor=0.96,
                schedule__decay_steps=8, schedule__staircase=staircase)
    assert got == pytest.approx([ref(s) for s in STEPS], rel=1e-5, abs=1e-8)


def test_optimizer_uses_the_schedule():
    # Plain SGD with a step schedule: the parameter moves by -lr(t) * g at step t (t from 0).
    cfg = cfg_with(optimizer__name="sgd", optimizer__lr=0.5, optimizer__momentum=0.0, schedule__name="step",
                   schedule__boundaries=(2,), schedule__factor=0.1)
    got = run_optax(cfg, steps=4)
    p = P0["b"].astype(np.float64)
    for t, g in enumerate(GRADS[:4]):
        p = p - (0.5 if t < 2 else 0.05) * g["b"]
        np.testing.assert_allclose(got[t]["b"], p, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fields,match", [
    (dict(optimizer__name="lamb"), "optimizer.name"),
    (dict(schedule__name="poly"), "schedule.name"),
    (dict(optimizer__lr=0.0), "optimizer.lr"),
    (dict(optimizer__weight_decay=-1e-4), "optimizer.weight_decay"),
    (dict(train__grad_clip=-1.0), "train.grad_clip"),
    (dict(schedule__name="step", schedule__factor=0.0), "schedule.factor"),
    (dict(schedule__name="exponential", schedule__decay_steps=0), "schedule.decay_steps"),
])
def test_check_names_the_field(fields, match):
    with pytest.raises(ValueError, match=match):
        optim.check(cfg_with(**fields))
