"""CPU convolution benchmark: stock JAX vs XLA's path under jcnn vs jcnn's chosen path vs PyTorch eager.

Per layer shape: forward, input gradient and kernel gradient (median ms, jitted,
``block_until_ready``), GFLOP/s and ratios; then whole training steps (LeNet-5,
CIFAR ResNet-20 option A; batch 128, SGD) in plain JAX and in PyTorch eager
(channels_last). Three JAX columns, measured side by side in one process:

- ``stock``: what plain JAX does: ``lax.conv_general_dilated``, autodiff'd
  pooling and batch norm, XLA-CPU's default flags (YNNPACK convolutions,
  restored per jit with ``compiler_options``);
- ``xla``: the same graph under jcnn's XLA-CPU setting (``jcnn/_xla_cpu.py``:
  convolutions on XLA's own kernels);
- ``auto``: jcnn's ops without oneDNN: ``conv(impl='auto')`` choosing among
  jcnn's XLA formulations, ``max_pool`` with its CPU gradient,
  ``batch_norm_train`` with its hand-written backward;
- ``onednn``: the same ops with every convolution on oneDNN
  (``conv(impl='onednn')``, the extension in ``jcnn/ops/_onednn``; the column
  is left out when it is not built); ``onednn_1t``: the same with oneDNN on
  one OpenMP thread per call instead of one per core.
The machine's load average is printed at start and end: other processes on a
2-core box skew these numbers badly, so compare ratios from one run.

    python experiments/benchmarks/conv_cpu.py [--quick] [--out results.json] [--md results.md]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jcnn import _xla_cpu, ops
from jcnn.ops import _conv_impl, _onednn, conv

from _side_by_side import add_thread_options, interleaved_ms, set_up_threads, write_results

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch columns are optional
    torch = None

# name: (batch, spatial, C_in, C_out, kernel, padding, groups)
LAYERS = {
    "lenet_conv1": (128, 28, 1, 6, 5, 2, 1),
    "lenet_conv2": (128, 14, 6, 16, 5, 0, 1),
    "resnet_conv1_3to16": (128, 32, 3, 16, 3, 1, 1),
    "resnet_s1_32x32x16": (128, 32, 16, 16, 3, 1, 1),
    "resnet_s2_16x16x32": (128, 16, 32, 32, 3, 1, 1),
    "resnet_s3_8x8x64": (128, 8, 64, 64, 3, 1, 1),
    "vgg_56x56x64": (16, 56, 64, 64, 3, 1, 1),
    "mobilenet_dw_28x28x128": (32, 28, 128, 128, 3, 1, 128),
    "mobilenet_pw_28x28x128": (32, 28, 128, 128, 1, 0, 1),
}


# XLA-CPU's own default for the YNNPACK fusions (jax 0.10.2), restored per jit for the stock column.
STOCK_OPTIONS = {_xla_cpu.YNN_FLAG: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,"
                                    "LIBRARY_FUSION_TYPE_REDUCE"}
# variant: (impl for jcnn's ops, compiler options)
VARIANTS = {"stock": ("xla", STOCK_OPTIONS), "xla": ("xla", None), "auto": ("auto", None), "onednn": ("onednn", None),
            "onednn_1t": ("onednn", None)}
# oneDNN's OpenMP threads per variant (0: one per core, the default); set around every call.
THREADS = {"onednn_1t": 1}


def _variant(variant):
    """While tracing the ``auto`` column, hide the oneDNN extension from ``impl='auto'``'s choice."""
    return _onednn.disabled() if variant == "auto" else contextlib.nullcontext()


def _with_threads(fn, variant):
    if variant not in THREADS:
        return fn

    def run():
        _onednn.set_threads(THREADS[variant])
        try:
            return fn()
        finally:
            _onednn.set_threads(_onednn.threads())

    return run


def _chosen(x, w, padding, groups):
    with _variant("auto"):
        return _conv_impl.select(x, w, padding=padding, groups=groups)


def _jit(f, variant):
    opts = VARIANTS[variant][1]
    return jax.jit(f, compiler_options=opts) if opts else jax.jit(f)


def jax_layer(shape, variant):
    """Compiled, warmed-up ``fwd``, ``dx`` and ``dw`` callables of one layer for one JAX column."""
    impl = VARIANTS[variant][0]
    n, s, ci, co, k, p, g = shape
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((n, s, s, ci)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((k, k, ci // g, co)) * 0.1, jnp.float32)
    f = lambda x, w: conv(x, w, padding=p, groups=g, impl=impl)
    dy = jnp.ones(jax.eval_shape(f, x, w).shape, jnp.float32)
    fwd = _jit(f, variant)
    dx = _jit(lambda x, w, dy: jax.vjp(lambda x: f(x, w), x)[1](dy)[0], variant)
    dw = _jit(lambda x, w, dy: jax.vjp(lambda w: f(x, w), w)[1](dy)[0], variant)
    fns = {"fwd": lambda: fwd(x, w).block_until_ready(), "dx": lambda: dx(x, w, dy).block_until_ready(),
           "dw": lambda: dw(x, w, dy).block_until_ready()}
    fns = {k: _with_threads(fn, variant) for k, fn in fns.items()}
    with _variant(variant):  # jit traces on the first call
        for fn in fns.values():
            fn()
    return fns


def torch_layer(shape):
    """``fwd``, ``fwd+dx`` and ``fwd+dw`` callables (eager autograd needs the forward; subtracted later)."""
    n, s, ci, co, k, p, g = shape
    torch.manual_seed(0)
    x = torch.randn(n, ci, s, s).to(memory_format=torch.channels_last).requires_grad_()
    w = (torch.randn(co, ci // g, k, k) * 0.1).to(memory_format=torch.channels_last).requires_grad_()
    f = lambda: F.conv2d(x, w, padding=p, groups=g)
    with torch.no_grad():
        dy = torch.ones_like(f()).contiguous(memory_format=torch.channels_last)

    def fwd():
        with torch.no_grad():
            f()

    return {"fwd": fwd, "dx": lambda: torch.autograd.grad(f(), x, dy), "dw": lambda: torch.autograd.grad(f(), w, dy)}


def time_layer(shape, variants, reps):
    """Per column ``{fwd, dx, dw}`` median ms, all columns interleaved."""
    fns = {(v, part): fn for v in variants for part, fn in jax_layer(shape, v).items()}
    if torch is not None:
        fns.update({("torch", part): fn for part, fn in torch_layer(shape).items()})
    ms = interleaved_ms(fns, reps)
    out = {}
    for (v, part), t in ms.items():
        out.setdefault(v, {})[part] = t
    if "torch" in out:
        t = out["torch"]
        t["dx"], t["dw"] = max(t["dx"] - t["fwd"], 1e-3), max(t["dw"] - t["fwd"], 1e-3)
    return out


def layer_flops(shape):
    n, s, ci, co, k, p, g = shape
    out = s + 2 * p - k + 1
    return 2 * n * out * out * co * (ci // g) * k * k


# ----------------------------------------------------------------------------
# Training steps, plain JAX on jcnn.ops.conv.

def _max_pool(x, impl):
    # impl='xla': one reduce_window, autodiff'd (select_and_scatter); 'auto': jcnn's CPU gradient.
    return ops.max_pool(x, 2, impl="xla" if impl == "xla" else "auto")


def lenet_init(key):
    ks = jax.random.split(key, 5)
    he = lambda k, shape, fan: jax.random.normal(k, shape) * math.sqrt(2 / fan)
    return {
        "c1": he(ks[0], (5, 5, 1, 6), 25), "b1": jnp.zeros(6),
        "c2": he(ks[1], (5, 5, 6, 16), 150), "b2": jnp.zeros(16),
        "f1": he(ks[2], (400, 120), 400), "g1": jnp.zeros(120),
        "f2": he(ks[3], (120, 84), 120), "g2": jnp.zeros(84),
        "f3": he(ks[4], (84, 10), 84), "g3": jnp.zeros(10),
    }


def lenet_apply(params, x, impl):
    x = _max_pool(jax.nn.relu(conv(x, params["c1"], params["b1"], padding=2, impl=impl)), impl)
    x = _max_pool(jax.nn.relu(conv(x, params["c2"], params["b2"], impl=impl)), impl)
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ params["f1"] + params["g1"])
    x = jax.nn.relu(x @ params["f2"] + params["g2"])
    return x @ params["f3"] + params["g3"]


def resnet20_init(key):
    keys = iter(jax.random.split(key, 64))
    he = lambda shape: jax.random.normal(next(keys), shape) * math.sqrt(2 / math.prod(shape[:-1]))
    bn = lambda c: {"scale": jnp.ones(c), "bias": jnp.zeros(c)}
    params = {"stem": he((3, 3, 3, 16)), "stem_bn": bn(16), "blocks": []}
    c_in = 16
    for c in (16, 32, 64):
        for _ in range(3):
            params["blocks"].append({"w1": he((3, 3, c_in, c)), "bn1": bn(c), "w2": he((3, 3, c, c)), "bn2": bn(c)})
            c_in = c
    params["fc"] = jax.random.normal(next(keys), (64, 10)) * math.sqrt(1 / 64)
    params["fc_b"] = jnp.zeros(10)
    return params


def _bn(x, p, impl):
    if impl != "xla":  # jcnn's op, hand-written backward
        return ops.batch_norm_train(x, p["scale"], p["bias"])[0]
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    return (x - mean) * lax.rsqrt(var + 1e-5) * p["scale"] + p["bias"]


def resnet20_apply(params, x, impl):
    x = jax.nn.relu(_bn(conv(x, params["stem"], padding=1, impl=impl), params["stem_bn"], impl))
    for i, blk in enumerate(params["blocks"]):
        stride = 2 if i in (3, 6) else 1
        h = jax.nn.relu(_bn(conv(x, blk["w1"], stride=stride, padding=1, impl=impl), blk["bn1"], impl))
        h = _bn(conv(h, blk["w2"], padding=1, impl=impl), blk["bn2"], impl)
        if stride == 2:  # option A: subsample and zero-pad the channels
            x = x[:, ::2, ::2, :]
            extra = h.shape[-1] - x.shape[-1]
            x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
        x = jax.nn.relu(h + x)
    return x.mean(axis=(1, 2)) @ params["fc"] + params["fc_b"]


def jax_train_step(model, variant, batch):
    """A compiled, warmed-up callable running one training step of ``model`` for one JAX column."""
    impl = VARIANTS[variant][0]
    init, apply, shape = {
        "lenet5": (lenet_init, lenet_apply, (batch, 28, 28, 1)),
        "resnet20": (resnet20_init, resnet20_apply, (batch, 32, 32, 3)),
    }[model]
    params = init(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), shape)
    y = jax.random.randint(jax.random.PRNGKey(2), (batch,), 0, 10)

    def loss(params, x, y):
        logits = apply(params, x, impl)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    def step(params, x, y):
        l, g = jax.value_and_grad(loss)(params, x, y)
        return jax.tree.map(lambda p, g: p - 0.01 * g, params, g), l

    step = _jit(step, variant)

    state = {"p": params}

    def run():
        state["p"], l = step(state["p"], x, y)
        l.block_until_ready()

    run = _with_threads(run, variant)
    with _variant(variant):
        run()
    return run


def torch_train_step(model, batch):
    """A callable running one PyTorch eager (channels_last) training step of ``model``."""
    nn = torch.nn

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c1(x)), 2)
            x = F.max_pool2d(F.relu(self.c2(x)), 2)
            x = torch.flatten(x, 1)
            return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))

    class Block(nn.Module):
        def __init__(self, c_in, c, stride):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
            self.c2, self.b2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
            self.pad = c - c_in

        def forward(self, x):
            h = F.relu(self.b1(self.c1(x)))
            h = self.b2(self.c2(h))
            if self.pad:
                x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
            return F.relu(h + x)

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.bn = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
            blocks, c_in = [], 16
            for c in (16, 32, 64):
                for i in range(3):
                    blocks.append(Block(c_in, c, 2 if (i == 0 and c != 16) else 1))
                    c_in = c
            self.blocks, self.fc = nn.Sequential(*blocks), nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn(self.stem(x))))
            return self.fc(x.mean((2, 3)))

    torch.manual_seed(0)
    net = {"lenet5": LeNet, "resnet20": ResNet20}[model]().to(memory_format=torch.channels_last)
    size, c = (28, 1) if model == "lenet5" else (32, 3)
    x = torch.randn(batch, c, size, size).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)

    def run():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    return run


# ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, a short run")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--md", default=None, help="write a Markdown table here")
    ap.add_argument("--layers", default=None, help="comma-separated subset of the layer names")
    ap.add_argument("--no-steps", action="store_true", help="skip the whole training steps")
    ap.add_argument("--steps-only", action="store_true", help="only the whole training steps, no layer")
    add_thread_options(ap)
    args = ap.parse_args()
    set_up_threads(args)
    if args.one_thread:
        VARIANTS.pop("onednn_1t")
    reps = 5 if args.quick else 15
    step_reps = 5 if args.quick else 20
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "jax": jax.__version__,
        "torch": torch.__version__ if torch else None, "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "backend": jax.default_backend(), "load_start": os.getloadavg(),
        "jcnn_xla_cpu": _xla_cpu.status, "jcnn_malloc": _xla_cpu.malloc_status, "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "one_thread": args.one_thread, "clock": "process CPU time" if args.cpu_time else "wall",
    }
    print(json.dumps(info))
    variants = [v for v in VARIANTS if not v.startswith("onednn") or _onednn.available()]
    info["onednn"] = _onednn.status()
    names = [] if args.steps_only else args.layers.split(",") if args.layers else list(LAYERS)
    layers = []
    for name in names:
        shape = LAYERS[name]
        n, s, ci, co, k, p, g = shape
        x = jax.ShapeDtypeStruct((n, s, s, ci), jnp.float32)
        w = jax.ShapeDtypeStruct((k, k, ci // g, co), jnp.float32)
        row = {"layer": name, "shape": shape, "gflop": layer_flops(shape) / 1e9,
               "chosen": _chosen(x, w, p, g),
               **time_layer(shape, variants, reps)}
        layers.append(row)
        tot = {k: sum(v.values()) for k, v in row.items() if isinstance(v, dict)}
        print(f"{name:24s} {row['chosen']:9s} " + "  ".join(
            f"{k}: fwd {row[k]['fwd']:7.2f} dx {row[k]['dx']:7.2f} dw {row[k]['dw']:7.2f} tot {tot[k]:7.2f}"
            for k in (*variants, "torch") if k in row), flush=True)
    steps = []
    if not args.no_steps:
        for model in ("lenet5", "resnet20"):
            fns = {v: jax_train_step(model, v, 128) for v in variants}
            if torch is not None:
                fns["torch"] = torch_train_step(model, 128)
            row = {"model": model, "batch": 128, **{k: 128 / ms * 1e3 for k, ms in interleaved_ms(fns, step_reps).items()}}
            steps.append(row)
            print(f"{model}: " + "  ".join(f"{k} {row[k]:.0f} img/s" for k in (*variants, "torch") if k in row),
                  flush=True)
    info["load_end"] = os.getloadavg()
    write_results({"info": info, "layers": layers, "steps": steps}, markdown, args.out, args.md)


def markdown(result):
    info, layers, steps = result["info"], result["layers"], result["steps"]
    cols = [k for k in ("stock", "xla", "auto", "onednn", "onednn_1t", "torch") if any(k in r for r in layers + steps)]
    mine = [k for k in ("auto", "onednn", "onednn_1t") if k in cols]
    # Ratios: the stock column's time over ours, and torch's over ours (> 1: jcnn is faster).
    ratio_cols = [("auto", "stock")] + [(m, "torch") for m in mine if "torch" in cols]
    lines = [f"jax {info['jax']}, torch {info['torch']}, {info['cpus']} CPUs, backend {info['backend']}, "
             f"jcnn XLA-CPU setting: {info.get('jcnn_xla_cpu')}, malloc setting: {info.get('jcnn_malloc', 'n/a')}, oneDNN: {info.get('onednn')}; "
             f"load average start {tuple(round(v, 2) for v in info['load_start'])}, "
             f"end {tuple(round(v, 2) for v in info.get('load_end', ()))}", "",
             f"Clock: {info.get('clock', 'wall')}; one thread per framework: {info.get('one_thread', False)}.", "",
             "Per layer, median ms (columns interleaved): fwd / dx / dw = total (GFLOP/s for 3x the forward FLOPs).",
             "`chosen`: the formulation of the `auto` column (jcnn without oneDNN).", ""]
    head = ("| layer [batch] | chosen | " + " | ".join(cols) + " | "
            + " | ".join(f"{m} vs {r}" for m, r in ratio_cols) + " |")
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in layers:
        tot = {k: sum(r[k].values()) for k in cols if k in r}
        cell = lambda k: (" / ".join(f"{r[k][p]:.2f}" for p in ("fwd", "dx", "dw"))
                          + f" = {tot[k]:.2f} ({3 * r['gflop'] / tot[k] * 1e3:.0f})")
        lines.append(f"| {r['layer']} [{r['shape'][0]}] | {r['chosen']} | " + " | ".join(cell(k) for k in cols)
                     + " | " + " | ".join(f"{tot[b] / tot[m]:.2f}x" for m, b in ratio_cols) + " |")
    if steps:
        lines += ["", "Whole training step (batch 128, SGD), images/s, columns interleaved.", "",
                  "| model | " + " | ".join(cols) + " | " + " | ".join(f"{m} vs {b}" for m, b in ratio_cols) + " |",
                  "|---|" + "---|" * (len(cols) + len(ratio_cols))]
        for r in steps:
            lines.append(f"| {r['model']} | " + " | ".join(f"{r[k]:.0f}" for k in cols) + " | "
                         + " | ".join(f"{r[m] / r[b]:.2f}x" for m, b in ratio_cols) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
