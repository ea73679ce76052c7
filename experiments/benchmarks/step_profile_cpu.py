"""Where a CPU training step spends its time: jcnn (zoo model + optax + ``nnx.jit``) vs PyTorch eager, per op category.

Each framework is measured by its own profiler over the same steps (batch 128,
SGD with momentum 0.9, float32):

- jcnn: ``jax.profiler.trace``; each XLA thunk event is matched to its
  instruction in the compiled HLO, whose metadata carries the Python stack
  that built it, and filed by the jcnn/optax file on that stack (the conv
  ops, ``norm.py``, ``pool.py``, ``linear.py``, optax, the rest elementwise;
  backward ops carry their forward's stack, so a conv op under
  ``transpose(...)`` is the kernel gradient when it has a kernel's shape, else
  the input gradient). A fusion's time is split over the categories of the
  ops XLA fused into it, by op count (XLA-CPU fuses e.g. a col2im input
  gradient, a max-pool gradient and a ReLU mask into one loop). Two
  columns: ``auto`` (jcnn's XLA formulations, the oneDNN extension hidden) and
  ``onednn`` (``impl='auto'`` with the extension, when built).
- PyTorch: ``torch.profiler``, self CPU time per aten op, filed by op name;
  ops below ``Optimizer.step`` are the optimizer. PyTorch runs the input and
  kernel gradients of a convolution in one ``convolution_backward`` call, so
  its row is ``conv dx+dw``.

``wall`` is the median step time without a profiler (columns interleaved);
``outside ops`` is the profiled step time minus the time inside ops (Python,
dispatch, autograd bookkeeping, waits; negative when XLA runs two thunks at
once on the two cores).

    python experiments/benchmarks/step_profile_cpu.py [--models lenet5_modern,resnet20] [--steps 5] [--md out.md]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import glob
import json
import os
import re
import tempfile
import time

import jax
import optax
from flax import nnx

import jcnn.models
from jcnn.ops import onednn

# Beside this file: timing in turns, output, and the same LeNet-5 / ResNet-20 in PyTorch eager (channels_last).
from _side_by_side import add_thread_options, interleaved_ms, set_up_threads, write_results
from conv_cpu import torch, torch_train_step

CATEGORIES = ("conv fwd", "conv dx", "conv dw", "conv dx+dw", "batch norm", "pooling", "dense", "elementwise/loss",
              "optimizer", "copies/layout", "outside ops")
BATCH = 128
TORCH_NAMES = {"lenet5_modern": "lenet5", "resnet20": "resnet20"}


def jax_step(name, hide_onednn):
    """A warmed-up ``run()`` doing one SGD-momentum step of the zoo model, and its compiled HLO text."""
    model = jcnn.models.create(name, seed=0)
    opt = nnx.Optimizer(model, optax.sgd(0.01, momentum=0.9), wrt=nnx.Param)
    shape = jcnn.models.info(name).input_shape
    x = jax.random.normal(jax.random.key(1), (BATCH, *shape))
    y = jax.random.randint(jax.random.key(2), (BATCH,), 0, 10)

    @nnx.jit
    def step(model, opt, x, y):
        def loss(m):
            return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()

        value, grads = nnx.value_and_grad(loss)(model)
        opt.update(model, grads)
        return value

    with onednn.disabled() if hide_onednn else contextlib.nullcontext():
        hlo = step.lower(model, opt, x, y).compile().as_text()
        step(model, opt, x, y).block_until_ready()
    return (lambda: step(model, opt, x, y).block_until_ready()), hlo


# ----------------------------------------------------------------------------
# Compiled HLO: instruction name -> Python stack (function names and files).

def _table(text, title):
    block = re.search(rf"^{title}\n(.*?)(?:\n\n|\Z)", text, re.S | re.M)
    return dict(re.findall(r"^(\d+) (.*)$", block.group(1), re.M)) if block else {}


def instruction_stacks(hlo):
    """``{instruction: (op_name, [(file, function), ...] innermost first, result shape)}``."""
    files = {k: v.strip('"') for k, v in _table(hlo, "FileNames").items()}
    funcs = {k: v.strip('"') for k, v in _table(hlo, "FunctionNames").items()}
    locs = {k: re.search(r"file_name_id=(\d+) function_name_id=(\d+)", v).groups()
            for k, v in _table(hlo, "FileLocations").items()}
    frames = {k: re.search(r"file_location_id=(\d+) parent_frame_id=(\d+)", v).groups()
              for k, v in _table(hlo, "StackFrames").items()}

    def stack(fid):
        out = []
        while fid in frames and len(out) < 200:
            loc, parent = frames[fid]
            f, fn = locs[loc]
            out.append((files[f], funcs[fn]))
            fid = str(int(parent) - 1)  # printed 1-based parent; 0: none
        return out

    result = {}
    for m in re.finditer(r"^\s*(?:ROOT )?%(\S+) = (\([^)]*\)|\S+?)(?:\{[^}]*\})? ([a-z-]+)\(([^\n]*)$", hlo, re.M):
        name, shape, opcode, rest = m.groups()
        meta = re.search(r"metadata=\{op_name=\"([^\"]*)\"(?: stack_frame_id=(\d+))?", rest)
        op_name, fid = meta.groups() if meta else ("", None)
        result[name] = (op_name, stack(fid) if fid else [], shape, opcode)
    return result


_TRIVIAL = {"parameter", "constant", "bitcast", "broadcast", "reshape", "tuple", "get-tuple-element"}


def fusion_members(hlo):
    """``{fusion instruction: [member instruction, ...]}``: what XLA fused into each thunk."""
    comps, current = {}, None
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%(\S+) \(", line)
        if head:
            current = comps.setdefault(head.group(1), [])
        elif current is not None:
            m = re.match(r"^\s*(?:ROOT )?%(\S+) = ", line)
            if m:
                current.append(m.group(1))
    calls = dict(re.findall(r"^\s*(?:ROOT )?%(\S+) = [^\n]*? calls=%([\w.\-]+)", hlo, re.M))
    return {name: comps.get(comp, []) for name, comp in calls.items()}


def jax_category(op_name, stack, shape, kernel_shapes, opcode=""):
    if not stack:  # made by XLA's own passes, which can drop the metadata (a kernel-gradient conv does)
        if opcode == "convolution":
            return "conv dw" if shape in kernel_shapes else "conv dx"
        return "copies/layout" if opcode in ("copy", "transpose") else "elementwise/loss"
    files = [f for f, _ in stack]
    fns = {fn for _, fn in stack}
    has = lambda *parts: any(any(p in f for p in parts) for f in files)
    if has("/optax/") or has("nnx/training/optimizer"):
        return "optimizer"
    if has("jcnn/ops/_conv_impl.py", "jcnn/ops/conv.py", "jcnn/ops/_onednn"):
        if fns & {"_dx", "_col2im_dx", "conv_dx"}:
            return "conv dx"
        if fns & {"_blocked_dw", "conv_dw"}:
            return "conv dw"
        if "transpose(" in op_name:  # autodiff of XLA's conv: the kernel gradient has the kernel's shape
            return "conv dw" if shape.split("{")[0] in kernel_shapes else "conv dx"
        return "conv fwd"
    if has("jcnn/ops/norm.py"):
        return "batch norm"
    if has("jcnn/ops/pool.py", "jcnn/ops/_pool_impl.py"):
        return "pooling"
    if has("jcnn/ops/linear.py"):
        return "dense"
    return "elementwise/loss"


def profile_jax(run, hlo, steps, kernel_shapes):
    info, members = instruction_stacks(hlo), fusion_members(hlo)

    def shares(name):
        """Category -> share of one thunk: a fusion is split by its members' categories (XLA fuses across ops)."""
        names = [m for m in members.get(name, []) if m in info and info[m][3] not in _TRIVIAL] or [name]
        cats = collections.Counter(_category(info[m]) for m in names)
        return {c: k / sum(cats.values()) for c, k in cats.items()}

    def _category(entry):
        op_name, stack, shape, opcode = entry
        cat = jax_category(op_name, stack, shape, kernel_shapes, opcode)
        if opcode in ("copy", "transpose") and not cat.startswith(("conv", "pooling")):
            return "copies/layout"
        return cat

    with tempfile.TemporaryDirectory() as d:
        with jax.profiler.trace(d):
            t = time.perf_counter()
            for _ in range(steps):
                run()
            wall = (time.perf_counter() - t) / steps * 1e3
        path = glob.glob(os.path.join(d, "**", "*.xplane.pb"), recursive=True)[0]
        data = jax.profiler.ProfileData.from_file(path)
    ms = collections.Counter()
    for plane in data.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for ev in line.events:
                if ev.name in info:
                    for cat, share in shares(ev.name).items():
                        ms[cat] += share * ev.duration_ns / 1e6 / steps
    ms["outside ops"] = wall - sum(ms.values())
    return dict(ms), wall


# ----------------------------------------------------------------------------

def torch_category(name, under_optimizer):
    if under_optimizer:
        return "optimizer"
    n = name.lower()
    if "convolution_backward" in n or "convolutionbackward" in n:
        return "conv dx+dw"
    if "conv" in n:
        return "conv fwd"
    if "batch_norm" in n or "batchnorm" in n:
        return "batch norm"
    if "pool" in n:
        return "pooling"
    if n.startswith(("aten::addmm", "aten::mm", "aten::linear", "aten::t", "aten::matmul")) or "addmmbackward" in n:
        return "dense"
    if n.startswith(("aten::copy_", "aten::contiguous", "aten::clone", "aten::empty", "aten::to", "aten::as_strided")):
        return "copies/layout"
    if n.startswith("autograd::") or "backward0" in n or n.startswith("aten::zero") or "zero_grad" in n:
        return "outside ops"
    return "elementwise/loss"


def profile_torch(run, steps):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for _ in range(steps):
            run()
        wall = (time.perf_counter() - t) / steps * 1e3
    ms = collections.Counter()
    for ev in prof.events():
        node, under_opt = ev.cpu_parent, ev.name.startswith("Optimizer.")
        while node is not None and not under_opt:
            under_opt = node.name.startswith("Optimizer.")
            node = node.cpu_parent
        if ev.name.startswith("Optimizer.") or ev.name.startswith("ProfilerStep"):
            continue
        ms[torch_category(ev.name, under_opt)] += ev.self_cpu_time_total / 1e3 / steps
    ms["outside ops"] += wall - sum(ms.values())
    return dict(ms), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet5_modern,resnet20", help="comma-separated registered model names")
    ap.add_argument("--steps", type=int, default=5, help="profiled steps per column")
    ap.add_argument("--reps", type=int, default=15, help="unprofiled timed steps per column (interleaved)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--md", default=None, help="write a Markdown table here")
    add_thread_options(ap)
    args = ap.parse_args()
    set_up_threads(args)
    info = {"one_thread": args.one_thread, "clock": "process CPU time" if args.cpu_time else "wall","date": datetime.datetime.now().isoformat(timespec="seconds"), "jax": jax.__version__,
            "torch": torch.__version__ if torch else None, "cpus": os.cpu_count(), "onednn": onednn.status(),
            "load_start": os.getloadavg(), "jcnn_malloc": jcnn._xla_cpu.malloc_status}
    print(json.dumps(info), flush=True)
    results = []
    for name in args.models.split(","):
        kernel_shapes = {f"f32[{','.join(map(str, v.shape))}]" for v in
                         jax.tree.leaves(nnx.state(jcnn.models.create(name, seed=0), nnx.Param)) if v.ndim >= 3}
        columns = {"auto": jax_step(name, True)}
        if onednn.available():
            columns["onednn"] = jax_step(name, False)
        runs = {k: v[0] for k, v in columns.items()}
        if torch is not None and name in TORCH_NAMES:
            runs["torch"] = torch_train_step(TORCH_NAMES[name], BATCH)
            runs["torch"]()
        wall = interleaved_ms(runs, args.reps, warmup=0)
        row = {"model": name, "wall_ms": wall, "profile": {}}
        for k, (run, hlo) in columns.items():
            row["profile"][k] = profile_jax(run, hlo, args.steps, kernel_shapes)[0]
        if "torch" in runs:
            row["profile"]["torch"] = profile_torch(runs["torch"], args.steps)[0]
        results.append(row)
        print(json.dumps(row), flush=True)
    info["load_end"] = os.getloadavg()
    write_results({"info": info, "models": results}, markdown, args.out, args.md)


def markdown(result):
    info = result["info"]
    lines = [f"jax {info['jax']}, torch {info['torch']}, {info['cpus']} CPUs, oneDNN: {info['onednn']}; load average "
             f"start {tuple(round(v, 1) for v in info['load_start'])}, end {tuple(round(v, 1) for v in info['load_end'])}; "
             f"one thread per framework: {info['one_thread']}; `wall` row clock: {info['clock']}; "
             f"jcnn's malloc setting: {info.get('jcnn_malloc', 'n/a')}", ""]
    for r in result["models"]:
        cols = list(r["profile"])
        lines += [f"### {r['model']} (batch {BATCH}, SGD momentum), ms per step", "",
                  "| category | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for cat in CATEGORIES:
            if any(abs(r["profile"][c].get(cat, 0)) > 0.005 for c in cols):
                lines.append(f"| {cat} | " + " | ".join(f"{r['profile'][c].get(cat, 0):.2f}" for c in cols) + " |")
        lines.append("| **wall (unprofiled, median)** | " + " | ".join(f"**{r['wall_ms'][c]:.2f}**" for c in cols) + " |")
        if "torch" in cols:
            lines.append("| speed vs torch | " + " | ".join(f"{r['wall_ms']['torch'] / r['wall_ms'][c]:.2f}x"
                                                         for c in cols) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
