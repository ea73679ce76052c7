"""Training-loop overhead: images/s of ``jcnn.train``'s loop machinery vs the bare jitted step, side by side.

Both columns run the step ``jcnn.train.builder.build`` makes for the experiment
config (batch of uint8 images, as the data pipeline yields them), for the same
number of steps, blocked on once at the end, timed in turns within one
process (one run of each per repetition, in alternating order; the ratio is
taken per repetition, then the median), so other processes' load hits both alike:

- **bare**: ``built.jit_train`` dispatched back to back on one batch already
  on the devices: what the step alone can do.
- **loop**: what ``jcnn.train.loop`` does between logging steps and at them:
  host batches taken by the prefetch thread (:mod:`jcnn.train.prefetch`, two
  ahead) and put on the devices, ``loop.run_steps`` dispatching
  ``built.jit_loop_step`` (metrics summed and the finiteness flag kept on the
  device), and every ``log_every`` steps the interval read back and reset.
  Host batches come from a list (cycled), so this is the loop's cost, not the
  data pipeline's (``bench input`` measures that).

Goal: loop / bare >= 0.95.

    python experiments/benchmarks/loop_overhead.py [--quick] [--out FILE.json] [--md FILE.md]
    python -m jcnn bench loop_overhead [--quick]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import itertools
import pathlib
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _side_by_side import write_results  # noqa: E402
from _timing import loadavg  # noqa: E402

import train_step as ts  # noqa: E402

from jcnn.train import builder, loop, prefetch  # noqa: E402


class _Cycle:
    """An endless iterator over a few host batches, with the ``get_state`` the prefetcher reads."""

    def __init__(self, batches):
        self._it, self.n = itertools.cycle(batches), 0

    def __next__(self):
        self.n += 1
        return next(self._it)

    def get_state(self):
        return {"n": self.n}


def host_batches(model, batch, count=4):
    h, w, c = ts.MODELS[model][1]
    rng = np.random.default_rng(0)
    return [{"image": rng.integers(0, 256, (batch, h, w, c), dtype=np.uint8),
             "label": rng.integers(0, 10, (batch,)).astype(np.int32),
             "index": np.arange(i * batch, (i + 1) * batch)} for i in range(count)]


def prepare(model, batch, steps, log_every):
    """``{"bare": fn, "loop": fn}``: each runs ``steps`` steps and blocks on the result."""
    cfg = ts.load_config(model, batch)
    built = builder.build(cfg)
    hb = host_batches(model, batch)
    dev = built.put_batch(hb[0])
    holder = {"bare": built.state, "loop": jax.tree.map(jnp.copy, built.state)}
    step_nums = [jax.device_put(jnp.asarray(i, jnp.int32), built.replicated) for i in range(steps)]
    built.interval_zeros(built.state, dev)  # traces the metrics' structure once, before any donation
    feed = prefetch.Prefetcher(_Cycle(hb), built.put_batch, depth=2)

    def bare():
        s = holder["bare"]
        for i in range(steps):
            s, m = built.jit_train(s, dev, step_nums[i])
        holder["bare"] = jax.block_until_ready(s)

    def run_loop():
        s, step = holder["loop"], 0
        iv = built.interval_zeros(s, None)
        ring = collections.deque(maxlen=log_every + 1)
        while step < steps:
            s, iv, step = loop.run_steps(built.jit_loop_step, s, iv, feed, step, min(step + log_every, steps),
                                          ring=ring)
            got = jax.device_get(iv)  # the log step's read, then a fresh interval
            assert got["finite"]
            iv = built.interval_zeros(s, None)
        holder["loop"] = jax.block_until_ready(s)

    return {"bare": bare, "loop": run_loop}, feed


def measure(model, batch, steps, log_every, repeats):
    fns, feed = prepare(model, batch, steps, log_every)
    try:
        for fn in fns.values():  # compile and warm up
            fn()
        rows = []
        for rep in range(repeats):
            t = {}
            for k in (("bare", "loop") if rep % 2 == 0 else ("loop", "bare")):  # neither always goes first
                t0 = time.perf_counter()
                fns[k]()
                t[k] = time.perf_counter() - t0
            rows.append(t)
    finally:
        feed.close()
    ips = {k: float(np.median([steps * batch / r[k] for r in rows])) for k in fns}
    ratios = [r["bare"] / r["loop"] for r in rows]
    return {"model": model, "batch": batch, "steps": steps, "log_every": log_every, "repeats": repeats,
            "bare_images_per_s": ips["bare"], "loop_images_per_s": ips["loop"],
            "ratio_median": float(np.median(ratios)), "ratio_min": float(np.min(ratios)),
            "ratio_max": float(np.max(ratios)), "loadavg": loadavg()}


def markdown(result) -> str:
    lines = [f"Loop vs bare jitted step, {result['platform']} ({result['devices']} device(s)), "
             f"{result['date']}; images/s (median of repetitions), loop / bare per repetition (median, min-max). "
             f"Goal >= 0.95.", "",
             "| model | batch | steps x reps | log_every | bare img/s | loop img/s | loop / bare | range | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['model']} | {r['batch']} | {r['steps']} x {r['repeats']} | {r['log_every']} | "
                     f"{r['bare_images_per_s']:.0f} | {r['loop_images_per_s']:.0f} | {r['ratio_median']:.3f} | "
                     f"{r['ratio_min']:.3f}-{r['ratio_max']:.3f} | {r['loadavg'][0]} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--md")
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--batch", type=int, default=None, help="default: 128 (LeNet-5), 32 (ResNet-20)")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    rows = []
    for model in args.models.split(","):
        batch = args.batch or {"lenet5": 128, "resnet20": 32}[model]
        steps = {"lenet5": 40, "resnet20": 10}[model] // (2 if args.quick else 1)
        rows.append(measure(model, batch, steps, log_every=max(steps // 4, 1), repeats=repeats))
        print(f"{model}: loop/bare {rows[-1]['ratio_median']:.3f}", file=sys.stderr, flush=True)
    result = {"rows": rows, "platform": jax.default_backend(), "devices": jax.device_count(),
              "machine": platform.processor() or platform.machine(),
              "date": datetime.date.today().isoformat(), "quick": args.quick,
              "command": "python experiments/benchmarks/loop_overhead.py " + " ".join(argv or sys.argv[1:])}
    write_results(result, markdown, args.out, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
