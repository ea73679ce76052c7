"""Training-step throughput: jcnn's real ``train_step`` vs a hand-written pure-JAX step vs PyTorch.

For each model at batch 128 (images/s, median of repeats, every step blocked on;
compile time reported separately):

- **jcnn**: the step ``jcnn.train`` runs, built from the experiment config with
  ``jcnn.train.builder.build``, the builder ``jcnn.train.train`` itself calls
  (mesh over the devices, state replicated, batch sharded on ``"data"``, state
  donated). Run with the default conv
  formulation (``"auto"``: jcnn's CPU fast paths) and with
  ``jcnn.ops.conv_impl("xla")`` (XLA's convolution everywhere).
- **pure JAX**: the same model and the same work written by hand: plain functions
  on the same params dict with ``lax.conv_general_dilated`` / ``reduce_window`` /
  ``dot``, the same normalisation (and, for ResNet-20, the same random flip + 4-pixel
  crop), BatchNorm with running statistics, softmax cross-entropy, optax SGD
  (momentum, weight decay, schedule as in the config). Its convolutions are XLA's,
  so "jcnn xla / pure" is the framework's overhead and "jcnn auto / pure" adds the
  CPU conv fast path.
- **PyTorch** (optional): eager with channels_last, and ``torch.compile``.

Also: achieved FLOP/s from XLA's cost analysis of the compiled step and MFU against
a 2048x2048 f32 matmul measured in the same run; peak device memory where the backend
reports it (CPU: ``memory_stats()`` is None) plus XLA's own memory analysis of the step;
``jcnn.data.pipeline("mnist", ...)`` images/s vs the LeNet step.

    python experiments/benchmarks/train_step.py [--quick] [--out FILE.json] [--md FILE.md] [--no-torch]
    python -m jcnn bench train_step [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import loadavg, median_ms  # noqa: E402

import jcnn  # noqa: E402
from jcnn import ops as jops  # noqa: E402

# model key -> (experiment config, input (H, W, C))
MODELS = {
    "lenet5": ("lenet5_mnist", (28, 28, 1)),
    "resnet20": ("resnet20_cifar10", (32, 32, 3)),
}


# ----------------------------------------------------------------------------- jcnn's step

def load_config(model, batch, *, augment=True):
    from jcnn.train import config as config_lib
    exp, _ = MODELS[model]
    overrides = [f"train.batch_size={batch}"]
    if not augment:
        overrides.append("data.augment=")
    return config_lib.load(exp, overrides=overrides)


def make_batch(model, batch, seed=1):
    """A synthetic host batch shaped like ``jcnn.data.pipeline``'s: float32 images in [0, 1]."""
    h, w, c = MODELS[model][1]
    rng = np.random.default_rng(seed)
    return {"image": rng.random((batch, h, w, c), dtype=np.float32),
            "label": rng.integers(0, 10, (batch,)).astype(np.int32),
            "index": np.arange(batch, dtype=np.int32)}


def build_jcnn(cfg, mesh=None):
    """``(jit_step, state, shardings)`` from ``jcnn.train.builder.build``, as ``jcnn.train.train`` gets them."""
    from jcnn.train import builder
    built = builder.build(cfg, mesh)
    return built.jit_train, built.state, (built.replicated, built.data)


# ----------------------------------------------------------------------------- the pure-JAX step

def _conv(x, w, stride=1, pad=0):
    return lax.conv_general_dilated(x, w, (stride, stride), ((pad, pad), (pad, pad)),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _max_pool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _dense(x, p):
    return jnp.dot(x, p["kernel"]) + p["bias"]


def lenet_apply(params, stats, x):
    """lenet5_modern: conv5x5 p2 6 -> relu -> max2 -> conv5x5 16 -> relu -> max2 -> 120 -> 84 -> 10."""
    x = _max_pool2(jax.nn.relu(_conv(x, params["conv1"]["kernel"], pad=2) + params["conv1"]["bias"]))
    x = _max_pool2(jax.nn.relu(_conv(x, params["conv2"]["kernel"]) + params["conv2"]["bias"]))
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(_dense(x, params["fc1"]))
    x = jax.nn.relu(_dense(x, params["fc2"]))
    return _dense(x, params["fc3"]), stats


def _bn(x, p, s, momentum=0.9, eps=1e-5):
    mean = jnp.mean(x, axis=(0, 1, 2))
    var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
    m = x.size // x.shape[-1]
    new = {"mean": momentum * s["mean"] + (1 - momentum) * mean,
           "var": momentum * s["var"] + (1 - momentum) * var * (m / (m - 1))}
    return (x - mean) * lax.rsqrt(var + eps) * p["scale"] + p["bias"], new


def _conv_bn(x, p, s, stride=1):
    y, new = _bn(_conv(x, p["conv"]["kernel"], stride, 1), p["bn"], s["bn"])
    return y, {"bn": new}


def resnet20_apply(params, stats, x):
    """CIFAR ResNet-20, option-A shortcuts: stem 3x3 16, 3 stages x 3 basic blocks (16/32/64), GAP, fc."""
    new = {"stem": None}
    x, new["stem"] = _conv_bn(x, params["stem"], stats["stem"])
    x = jax.nn.relu(x)
    for i, stride in ((1, 1), (2, 2), (3, 2)):
        name = f"layer{i}"
        new[name] = {}
        for j in range(3):
            p, s, st = params[name][j], stats[name][j], stride if j == 0 else 1
            h, n1 = _conv_bn(x, p["conv1"], s["conv1"], st)
            h, n2 = _conv_bn(jax.nn.relu(h), p["conv2"], s["conv2"])
            new[name][j] = {"conv1": n1, "conv2": n2}
            if st != 1 or x.shape[-1] != h.shape[-1]:
                x = x[:, ::st, ::st, :]
                x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, h.shape[-1] - x.shape[-1])))
            x = jax.nn.relu(h + x)
    return _dense(jnp.mean(x, axis=(1, 2)), params["fc"]), new


def _flip_crop(key, img, pad=4):
    """Random horizontal flip, then a random crop of the 4-pixel zero-padded image (one example)."""
    kf, kc = jax.random.split(key)
    h, w, c = img.shape
    img = jnp.where(jax.random.bernoulli(kf), img[:, ::-1, :], img)
    padded = jnp.pad(img, ((pad, pad), (pad, pad), (0, 0)))
    off = jax.random.randint(kc, (2,), 0, 2 * pad + 1)
    return lax.dynamic_slice(padded, (off[0], off[1], 0), (h, w, c))


def build_pure(cfg, model):
    """A hand-written ``step(params, stats, opt_state, batch, step) -> (params, stats, opt_state, metrics)``."""
    from jcnn.train import optim  # only for the same optax lr schedule function (warm-up + cosine / steps)
    apply = {"lenet5": lenet_apply, "resnet20": resnet20_apply}[model]
    o = cfg.optimizer
    tx = optax.chain(optax.add_decayed_weights(float(o.weight_decay)),
                     optax.sgd(optim.schedule(cfg, int(cfg.train.steps)), momentum=float(o.momentum),
                               nesterov=bool(o.nesterov)))
    mean, std = jnp.asarray(cfg.data.mean, jnp.float32), jnp.asarray(cfg.data.std, jnp.float32)
    augment, seed = bool(cfg.data.augment), int(cfg.seed)

    def step(params, stats, opt_state, batch, step):
        x = batch["image"]
        if augment:
            keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), step), i))(
                batch["index"])
            x = jax.vmap(_flip_crop)(keys, x)
        x = (x - mean) / std
        onehot = jax.nn.one_hot(batch["label"], 10)

        def loss_fn(p):
            logits, new_stats = apply(p, stats, x)
            return optax.softmax_cross_entropy(logits, onehot).mean(), (logits, new_stats)

        (loss, (logits, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
        return params, new_stats, opt_state, {"loss": loss, "accuracy": acc}

    return step, tx


# ----------------------------------------------------------------------------- measurement helpers

def _cost(compiled):
    ca = compiled.cost_analysis()
    if isinstance(ca, (list, tuple)):
        ca = ca[0] if ca else {}
    return float((ca or {}).get("flops", float("nan")))


def _mem_analysis(compiled):
    try:
        m = compiled.memory_analysis()
        return {"temp_bytes": int(m.temp_size_in_bytes), "argument_bytes": int(m.argument_size_in_bytes),
                "output_bytes": int(m.output_size_in_bytes)}
    except Exception as e:  # noqa: BLE001 -- backend-dependent
        return {"error": repr(e)}


def _peak_memory():
    stats = jax.devices()[0].memory_stats()
    if not stats:
        return None
    return stats.get("peak_bytes_in_use")


def matmul_peak(n=2048, repeats=10):
    """GFLOP/s of an n x n f32 matmul: this machine's practical peak for MFU."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.dot)
    ms = median_ms(f, a, b, repeats=repeats, warmup=2)
    return 2 * n ** 3 / (ms * 1e-3) / 1e9


def _time_loop(run, repeats, warmup):
    """Median ms of ``run()`` (which blocks on its own results)."""
    for _ in range(warmup):
        run()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def bench_jcnn(model, batch, *, impl="auto", repeats=10, warmup=2, augment=True):
    """jcnn's real step: compile seconds, median ms, images/s, XLA FLOPs, memory, first-step loss."""
    info, run = prepare_jcnn(model, batch, impl=impl, augment=augment)
    return _finish(info, run, batch, repeats, warmup)


def _finish(info, run, batch, repeats, warmup):
    ms = _time_loop(run, repeats, warmup)
    return {**info, "ms": ms, "images_per_s": batch / ms * 1e3}


def prepare_jcnn(model, batch, *, impl="auto", augment=True):
    """``(info, run)``: the compiled jcnn step and a closure running one step (blocked on)."""
    cfg = load_config(model, batch, augment=augment)
    with jops.conv_impl(impl):
        jit_step, state, (repl, data_sh) = build_jcnn(cfg)
        from jcnn.train import builder
        b = builder.global_batch(make_batch(model, batch), data_sh)
        s0 = jnp.asarray(0, jnp.int32)
        t = time.perf_counter()
        compiled = jit_step.lower(state, b, s0).compile()
        compile_s = time.perf_counter() - t
    holder = {"state": state, "step": 0}

    def run():
        holder["state"], m = compiled(holder["state"], b, jnp.asarray(holder["step"], jnp.int32))
        holder["step"] += 1
        jax.block_until_ready((holder["state"], m))
        return m

    first_loss = float(run()["loss"])
    return {"compile_s": compile_s, "flops": _cost(compiled), "xla_memory": _mem_analysis(compiled),
            "first_loss": first_loss}, run


def bench_pure(model, batch, *, repeats=10, warmup=2, augment=True):
    info, run = prepare_pure(model, batch, augment=augment)
    return _finish(info, run, batch, repeats, warmup)


def prepare_pure(model, batch, *, augment=True):
    cfg = load_config(model, batch, augment=augment)
    from jcnn.train import optim, state as state_lib
    _, st = state_lib.create(cfg, optim.optimizer(cfg, int(cfg.train.steps)))  # same initial params
    step, tx = build_pure(cfg, model)
    params, stats = st["params"], st["batch_stats"]
    opt_state = tx.init(params)
    hb = make_batch(model, batch)
    b = {k: jnp.asarray(v) for k, v in hb.items()}
    jstep = jax.jit(step, donate_argnums=(0, 1, 2))
    t = time.perf_counter()
    compiled = jstep.lower(params, stats, opt_state, b, jnp.asarray(0, jnp.int32)).compile()
    compile_s = time.perf_counter() - t
    holder = {"s": (params, stats, opt_state), "step": 0}

    def run():
        *s, m = compiled(*holder["s"], b, jnp.asarray(holder["step"], jnp.int32))
        holder["s"], holder["step"] = tuple(s), holder["step"] + 1
        jax.block_until_ready((s, m))
        return m

    first_loss = float(run()["loss"])
    return {"compile_s": compile_s, "flops": _cost(compiled), "xla_memory": _mem_analysis(compiled),
            "first_loss": first_loss}, run


def interleaved(runs, repeats, warmup):
    """Median ms of each closure in ``runs`` (name -> fn), timed round-robin so load drift hits all alike."""
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    ts = {k: [] for k in runs}
    for _ in range(repeats):
        for k, fn in runs.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)
    return {k: float(np.median(v) * 1e3) for k, v in ts.items()}


def same_step_check(model, batch=8):
    """jcnn's step and the pure-JAX step from the same params/batch (no augmentation): losses and new params.

    Returns ``(jcnn_loss, pure_loss, max |params difference| after one step)``.
    """
    cfg = load_config(model, batch, augment=False)
    jit_step, state, (_, data_sh) = build_jcnn(cfg)
    from jcnn.train import builder
    hb = make_batch(model, batch)
    params0 = jax.tree.map(np.asarray, state["params"])
    stats0 = jax.tree.map(np.asarray, state["batch_stats"])
    step, tx = build_pure(cfg, model)
    p_params, _, _, p_m = jax.jit(step)(params0, stats0, tx.init(params0), {k: jnp.asarray(v) for k, v in hb.items()},
                                        jnp.asarray(0, jnp.int32))
    new_state, j_m = jit_step(state, builder.global_batch(hb, data_sh), jnp.asarray(0, jnp.int32))
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
               zip(jax.tree.leaves(new_state["params"]), jax.tree.leaves(p_params)))
    return float(j_m["loss"]), float(p_m["loss"]), diff


# ----------------------------------------------------------------------------- PyTorch

def torch_models():
    import torch
    from torch import nn
    import torch.nn.functional as F

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c1(x)), 2)
            x = F.max_pool2d(F.relu(self.c2(x)), 2)
            x = torch.flatten(x.permute(0, 2, 3, 1), 1)  # channels-last flatten order, as jcnn
            return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout, momentum=0.1)
            self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout, momentum=0.1)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            h = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
            if self.stride != 1 or self.extra:
                x = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.extra))
            return F.relu(h + x)

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.bn = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
            blocks, cin = [], 16
            for c, s in ((16, 1), (32, 2), (64, 2)):
                for j in range(3):
                    blocks.append(Block(cin, c, s if j == 0 else 1))
                    cin = c
            self.blocks, self.fc = nn.Sequential(*blocks), nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn(self.stem(x))))
            return self.fc(x.mean((2, 3)))

    return {"lenet5": LeNet, "resnet20": ResNet20}


def bench_torch(model, batch, *, compile=False, repeats=10, warmup=2):
    import torch
    torch.manual_seed(0)
    cfg = load_config(model, batch)
    net = torch_models()[model]().to(memory_format=torch.channels_last)
    o = cfg.optimizer
    opt = torch.optim.SGD(net.parameters(), lr=float(o.lr), momentum=float(o.momentum), nesterov=bool(o.nesterov),
                          weight_decay=float(o.weight_decay))
    h, w, c = MODELS[model][1]
    x = torch.rand(batch, c, h, w).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    mean = torch.tensor(cfg.data.mean).view(1, -1, 1, 1)
    std = torch.tensor(cfg.data.std).view(1, -1, 1, 1)
    fwd = torch.compile(net) if compile else net

    import torch.nn.functional as F

    def run():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(fwd((x - mean) / std), y)
        loss.backward()
        opt.step()
        return loss

    t = time.perf_counter()
    run()
    first_s = time.perf_counter() - t
    ms = _time_loop(run, repeats, warmup)
    return {"compile_s": first_s, "ms": ms, "images_per_s": batch / ms * 1e3}


# ----------------------------------------------------------------------------- pipeline

def bench_pipeline(batch=128, n_batches=200):
    try:
        import jcnn.data as jdata
        pipe = getattr(jdata, "pipeline")
    except (ImportError, AttributeError) as e:
        return {"skipped": f"jcnn.data.pipeline unavailable: {e!r}"}
    try:
        it = iter(pipe("mnist", "train", batch_size=batch, seed=0))
        next(it)  # open files, first shuffle
        t = time.perf_counter()
        for _ in range(n_batches):
            b = next(it)
        np.asarray(b["image"])
        dt = time.perf_counter() - t
        return {"images_per_s": n_batches * batch / dt, "batches": n_batches}
    except Exception as e:  # noqa: BLE001 -- data may be missing on this machine
        return {"skipped": f"jcnn.data.pipeline('mnist') failed: {e!r}"}


# ----------------------------------------------------------------------------- driver

def run(models=("lenet5", "resnet20"), batch=128, repeats=10, warmup=2, use_torch=True, use_compile=True,
        pipeline=True, no_augment_variants=True, log=print):
    """Every measurement for ``models``; returns the results dict (also what ``--out`` writes)."""
    res = {"date": datetime.date.today().isoformat(), "jax": jax.__version__, "jcnn": getattr(jcnn, "__version__", "?"),
           "backend": jax.default_backend(), "device": str(jax.devices()[0].device_kind),
           "cpus": os.cpu_count(), "platform": platform.platform(), "batch": batch, "repeats": repeats,
           "loadavg_start": loadavg(), "models": {}}
    torch_ok = False
    if use_torch:
        try:
            import torch
            res["torch"] = torch.__version__
            torch_ok = True
        except ImportError:
            res["torch"] = None
    res["matmul_peak_gflops"] = matmul_peak()
    log(f"matmul 2048^2 f32 peak: {res['matmul_peak_gflops']:.0f} GFLOP/s; load {loadavg()}")
    res["device_memory_stats"] = "None (backend reports no memory_stats)" if not jax.devices()[0].memory_stats() \
        else "available"
    for model in models:
        r, runs = {}, {}
        variants = [("jcnn_auto", lambda: prepare_jcnn(model, batch, impl="auto")),
                    ("jcnn_xla", lambda: prepare_jcnn(model, batch, impl="xla")),
                    ("pure_jax", lambda: prepare_pure(model, batch))]
        if model == "resnet20" and no_augment_variants:  # the same three without the in-step augmentation
            variants += [("jcnn_xla_noaug", lambda: prepare_jcnn(model, batch, impl="xla", augment=False)),
                         ("pure_jax_noaug", lambda: prepare_pure(model, batch, augment=False))]
        for name, prep in variants:
            r[name], runs[name] = prep()
        load_before = loadavg()
        times = interleaved(runs, repeats, warmup)  # round-robin: the ratios see the same load
        for name in runs:
            r[name]["ms"] = times[name]
            r[name]["images_per_s"] = batch / times[name] * 1e3
            r[name]["loadavg"] = load_before
            r[name]["peak_bytes"] = _peak_memory()
            r[name]["gflops"] = r[name]["flops"] / (r[name]["ms"] * 1e-3) / 1e9
            r[name]["mfu"] = r[name]["gflops"] / res["matmul_peak_gflops"]
            log(f"{model} {name}: {r[name]['images_per_s']:.0f} img/s (compile {r[name]['compile_s']:.1f} s, "
                f"{r[name]['gflops']:.1f} GFLOP/s) load {loadavg()}")
        if torch_ok:
            for name, comp in (("torch_eager", False), ("torch_compile", True)):
                if comp and not use_compile:
                    continue
                try:
                    r[name] = bench_torch(model, batch, compile=comp, repeats=repeats, warmup=warmup)
                    r[name]["loadavg"] = loadavg()
                    log(f"{model} {name}: {r[name]['images_per_s']:.0f} img/s load {loadavg()}")
                except Exception as e:  # noqa: BLE001 -- torch.compile needs a working C++ toolchain
                    r[name] = {"error": repr(e)[:300]}
                    log(f"{model} {name}: failed {e!r}"[:300])
        model_flops = r["pure_jax"]["flops"]  # the hand-written model's XLA FLOPs: one yardstick for all columns
        for d in r.values():
            if "ms" in d:
                d["model_gflops"] = model_flops / (d["ms"] * 1e-3) / 1e9
                d["model_mfu"] = d["model_gflops"] / res["matmul_peak_gflops"]
        res["models"][model] = r
    if pipeline and "lenet5" in models:
        p = bench_pipeline(batch)
        if "images_per_s" in p:
            p["ratio_to_lenet_step"] = p["images_per_s"] / res["models"]["lenet5"]["jcnn_auto"]["images_per_s"]
        p["loadavg"] = loadavg()
        res["pipeline"] = p
    # The matmul peak is itself load-dependent: take the best of the start and end measurements, and
    # recompute the MFU columns against it.
    res["matmul_peak_gflops_start"] = res["matmul_peak_gflops"]
    res["matmul_peak_gflops_end"] = matmul_peak()
    res["matmul_peak_gflops"] = max(res["matmul_peak_gflops_start"], res["matmul_peak_gflops_end"])
    for r in res["models"].values():
        for d in r.values():
            if "model_gflops" in d:
                d["model_mfu"] = d["model_gflops"] / res["matmul_peak_gflops"]
            if "gflops" in d:
                d["mfu"] = d["gflops"] / res["matmul_peak_gflops"]
    res["loadavg_end"] = loadavg()
    return res


def _fmt(v, f="{:.0f}"):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f.format(v)


def markdown(res) -> str:
    lines = [f"jax {res['jax']}, torch {res.get('torch')}, backend {res['backend']} ({res['device']}), "
             f"{res['cpus']} CPUs, batch {res['batch']}, {res['repeats']} timed repeats (median); "
             f"load average start {res['loadavg_start']}, end {res['loadavg_end']}; "
             f"matmul 2048^2 f32 peak {res['matmul_peak_gflops']:.0f} GFLOP/s (best of start "
             f"{res.get('matmul_peak_gflops_start', float('nan')):.0f} / end "
             f"{res.get('matmul_peak_gflops_end', float('nan')):.0f}); device memory_stats: "
             f"{res['device_memory_stats']}.", "",
             "Images/s (compile s: XLA lower + compile; torch: first step); ratios side by side from this run. "
             "GFLOP/s: the step's FLOPs from XLA's cost analysis of the compiled pure-JAX step (the model's FLOPs; "
             "jcnn auto's own count differs because its CPU formulations do different work) / step time; "
             "MFU = that / matmul peak.", "",
             "| model | jcnn auto | jcnn xla | pure JAX | auto/pure | xla/pure | torch eager CL | torch.compile "
             "| auto/torch eager | GFLOP/s auto (MFU) | GFLOP/s pure (MFU) | XLA temp MB auto | load (1 min) before timing |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, r in res["models"].items():
        a, x, p = r["jcnn_auto"], r["jcnn_xla"], r["pure_jax"]
        te, tc = r.get("torch_eager", {}), r.get("torch_compile", {})
        cell = lambda d: (f"{d['images_per_s']:.0f} ({d['compile_s']:.1f} s)" if "images_per_s" in d
                          else ("failed" if "error" in d else "-"))
        lines.append(
            f"| {model} | {cell(a)} | {cell(x)} | {cell(p)} | {a['images_per_s'] / p['images_per_s']:.2f} | "
            f"{x['images_per_s'] / p['images_per_s']:.2f} | {cell(te)} | {cell(tc)} | "
            f"{_fmt(a['images_per_s'] / te['images_per_s'] if 'images_per_s' in te else None, '{:.2f}')} | "
            f"{a['model_gflops']:.1f} ({100 * a['model_mfu']:.1f}%) | {p['model_gflops']:.1f} ({100 * p['model_mfu']:.1f}%) | "
            f"{a['xla_memory'].get('temp_bytes', float('nan')) / 1e6:.1f} | {a['loadavg'][0]} |")
    for model, r in res["models"].items():
        if "jcnn_xla_noaug" in r:
            x, p = r["jcnn_xla_noaug"], r["pure_jax_noaug"]
            lines += ["", f"{model} without the in-step random flip + crop (data.augment off), XLA convs both: "
                      f"jcnn {x['images_per_s']:.0f} img/s, pure JAX {p['images_per_s']:.0f} img/s, ratio "
                      f"{x['images_per_s'] / p['images_per_s']:.2f} (with augmentation: "
                      f"{r['jcnn_xla']['images_per_s'] / r['pure_jax']['images_per_s']:.2f})."]
    if "pipeline" in res:
        p = res["pipeline"]
        lines += ["", "Input pipeline: " + (
            f"`jcnn.data.pipeline('mnist', 'train', batch_size={res['batch']}, seed=0)` "
            f"{p['images_per_s']:.0f} img/s = {p['ratio_to_lenet_step']:.2f}x the LeNet-5 jcnn step "
            f"({'not' if p['ratio_to_lenet_step'] >= 1 else 'IS'} the bottleneck)" if "images_per_s" in p
            else p["skipped"])]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no torch.compile")
    ap.add_argument("--out", help="JSON results file")
    ap.add_argument("--md", help="Markdown table file")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args(argv)
    res = run(models=tuple(args.models.split(",")), batch=args.batch, repeats=5 if args.quick else 20,
              warmup=1 if args.quick else 3, use_torch=not args.no_torch, use_compile=not args.quick)
    res["quick"] = bool(args.quick)
    if jax.default_backend() != "cpu":
        res["note"] = "ResNet-50 at 224 (GPU only) is not implemented in this script yet"
    md = markdown(res)
    print(md)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    if args.md:
        pathlib.Path(args.md).write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
