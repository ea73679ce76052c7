"""Side-by-side CPU timing for the benchmarks: columns timed in turns, optional one-thread/CPU-time mode, output.

    from _side_by_side import add_thread_options, interleaved_ms, set_up_threads, write_results
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from jcnn.ops import onednn

try:
    import torch
except ImportError:  # the torch columns are optional
    torch = None


def interleaved_ms(fns, reps, warmup=2):
    """Median ms of each callable in ``fns``, timed in turns (one call of each per round).

    Interleaving spreads the other processes' load on a shared machine evenly
    over the columns, so their ratios stay comparable when absolute times do not.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    ts = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t = CLOCK[0]()
            fn()
            ts[k].append(CLOCK[0]() - t)
    return {k: float(np.median(v) * 1e3) for k, v in ts.items()}


# The clock of interleaved_ms: wall time, or with --cpu-time the CPU time of all the process's threads.
CLOCK = [time.perf_counter]


def add_thread_options(ap):
    ap.add_argument("--one-thread", action="store_true",
                    help="XLA, PyTorch and oneDNN on one thread each (set before JAX's backend starts)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time the process's CPU time, not wall time: with --one-thread, the work each column "
                         "does, nearly independent of other processes' load")


def set_up_threads(args):
    """Apply ``--one-thread`` and ``--cpu-time``; call before any JAX computation."""
    if args.one_thread:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
        os.environ[onednn.THREADS_ENV] = "1"
        if torch is not None:
            torch.set_num_threads(1)
    if args.cpu_time:
        CLOCK[0] = time.process_time


def write_results(result, markdown_fn, out=None, md=None):
    """Print the Markdown of ``result``; write it to ``md`` and the JSON to ``out`` when given."""
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
    text = markdown_fn(result)
    print(text)
    if md:
        with open(md, "w") as f:
            f.write(text)
