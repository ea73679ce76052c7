"""Timing helpers shared by the benchmarks: median of repeats, warm-up excluded, results blocked on.

    from _timing import median_ms, gflops, conv_flops, loadavg
"""

from __future__ import annotations

import math
import os
import time

import jax
import numpy as np


def median_ms(fn, *args, repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``fn(*args)`` in milliseconds.

    ``warmup`` calls run first and are not timed (they include jit compilation);
    every call's result is waited on with ``jax.block_until_ready``, so
    asynchronous dispatch does not hide the work.
    """
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def conv_flops(out_shape, kernel, c_in_per_group: int) -> int:
    """``2 * MACs`` of a convolution: every output element sums ``prod(kernel) * C_in/groups`` products."""
    return 2 * math.prod(out_shape) * math.prod(kernel) * c_in_per_group


def gflops(flops: float, ms: float) -> float:
    """Achieved GFLOP/s of ``flops`` done in ``ms`` milliseconds."""
    return flops / (ms * 1e-3) / 1e9 if ms > 0 else float("nan")


def loadavg() -> tuple[float, float, float]:
    """The 1/5/15-minute load averages: other processes on a small machine skew timings."""
    return tuple(round(v, 2) for v in os.getloadavg())
