"""``jcnn.ops`` jitted vs the equivalent raw ``lax`` call jitted.

For a few realistic layer shapes, each op is timed (median ms over repeats,
warm-up excluded, ``block_until_ready``) next to the raw
``lax.conv_general_dilated`` / ``lax.reduce_window`` call it wraps. The ratio
jcnn/raw has target 1.00 for the wrapper (``impl='xla'`` pins XLA's path, the
same lowering as the raw call); the default ``impl`` may route a convolution
to a faster CPU formulation, so its ratio can be below 1. GFLOP/s is
``2 * MACs / time`` for convolutions and window element-operations per second
for pooling and LRN. The load average is printed at start and end: other
processes on a 2-core box skew timings, so compare ratios from one run.

    python experiments/benchmarks/ops.py [--quick] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import math
import os
import pathlib
import platform
import sys
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jcnn import ops

from _timing import conv_flops, gflops, loadavg, median_ms

HAS_IMPL = "impl" in inspect.signature(ops.conv).parameters
NHWC = ("NHWC", "HWIO", "NHWC")

# name: (x shape, kernel (KH, KW, C_in/g, C_out), padding, groups)
CONVS = {
    "lenet_conv1 5x5 pad2": ((128, 28, 28, 1), (5, 5, 1, 6), 2, 1),
    "resnet20 3x3 16->16": ((128, 32, 32, 16), (3, 3, 16, 16), 1, 1),
    "depthwise 3x3 x128": ((32, 28, 28, 128), (3, 3, 1, 128), 1, 128),
    "pointwise 1x1 128->128": ((32, 28, 28, 128), (1, 1, 128, 128), 0, 1),
}
# name: (x shape, jcnn op, raw lax op, NumPy reference, window element-ops per output element)
POOL_X = (32, 55, 55, 96)  # AlexNet's first pooling input
AVG_X = (128, 28, 28, 6)   # LeNet's S2 input
LRN_X = (32, 55, 55, 96)


def _raw_conv(x, w, *, padding, groups):
    return lax.conv_general_dilated(x, w, (1, 1), ((padding, padding),) * 2, dimension_numbers=NHWC,
                                    feature_group_count=groups)


def _raw_max_pool(x):
    # 3x3/2 on 55 -> 27: ceil and floor agree here, so no extra padding is needed.
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")


def _raw_avg_pool(x):
    return lax.reduce_window(x, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4.0


def _raw_lrn(x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    pads = ((0, 0),) * 3 + ((size // 2, (size - 1) // 2),)
    sq = lax.reduce_window(x * x, 0.0, lax.add, (1, 1, 1, size), (1, 1, 1, 1), pads)
    return x / (k + alpha * sq) ** beta


def cases():
    """(name, jcnn fn, raw fn, arrays, flops, xla-pinned fn or None)."""
    rng = np.random.default_rng(0)
    out = []
    for name, (xs, ws, p, g) in CONVS.items():
        x = jnp.asarray(rng.standard_normal(xs), jnp.float32)
        w = jnp.asarray(rng.standard_normal(ws) * 0.1, jnp.float32)
        jc = partial(ops.conv, padding=p, groups=g)
        xla = partial(ops.conv, padding=p, groups=g, impl="xla") if HAS_IMPL else None
        y_shape = jax.eval_shape(jc, x, w).shape
        out.append((name, jc, partial(_raw_conv, padding=p, groups=g), (x, w), conv_flops(y_shape, ws[:2], ws[2]),
                    xla))
    pool_x = jnp.asarray(rng.standard_normal(POOL_X), jnp.float32)
    out.append(("max_pool 3x3/2 ceil", partial(ops.max_pool, window=3, stride=2, ceil_mode=True), _raw_max_pool,
                (pool_x,), 27 * 27 * 9 * POOL_X[0] * POOL_X[3], None))
    avg_x = jnp.asarray(rng.standard_normal(AVG_X), jnp.float32)
    out.append(("avg_pool 2x2", partial(ops.avg_pool, window=2), _raw_avg_pool, (avg_x,), math.prod(AVG_X), None))
    lrn_x = jnp.asarray(rng.standard_normal(LRN_X), jnp.float32)
    out.append(("lrn size 5", ops.lrn, _raw_lrn, (lrn_x,), math.prod(LRN_X) * (5 + 4), None))
    return out


def run(quick: bool):
    repeats = 5 if quick else 30
    rows = []
    for name, jc, raw, arrays, flops, xla in cases():
        jc_jit, raw_jit = jax.jit(jc), jax.jit(raw)
        # The wrapper must compute what the raw call computes.
        np.testing.assert_allclose(np.asarray(jc_jit(*arrays)), np.asarray(raw_jit(*arrays)), rtol=2e-4, atol=2e-4)
        t_jc = median_ms(jc_jit, *arrays, repeats=repeats)
        t_raw = median_ms(raw_jit, *arrays, repeats=repeats)
        t_xla = median_ms(jax.jit(xla), *arrays, repeats=repeats) if xla is not None else None
        rows.append({
            "op": name, "shape": "x".join(map(str, arrays[0].shape)),
            "jcnn_ms": t_jc, "raw_ms": t_raw, "ratio": t_jc / t_raw,
            "jcnn_xla_ms": t_xla, "ratio_xla": None if t_xla is None else t_xla / t_raw,
            "jcnn_gflops": gflops(flops, t_jc), "raw_gflops": gflops(flops, t_raw),
        })
        print(f"  {name}: jcnn {t_jc:.2f} ms, raw {t_raw:.2f} ms", file=sys.stderr)
    return rows


def markdown(rows, meta):
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)
    lines = [
        f"jcnn.ops vs raw lax (jitted, median of {meta['repeats']}), {meta['device']}, jax {meta['jax']}, "
        f"load {meta['load_start']} -> {meta['load_end']}",
        "",
        "| op | x shape | jcnn ms | raw lax ms | jcnn/raw | jcnn impl='xla' ms | xla/raw | jcnn GFLOP/s | raw GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['op']} | {r['shape']} | {r['jcnn_ms']:.2f} | {r['raw_ms']:.2f} | {r['ratio']:.2f} "
            f"| {f(r['jcnn_xla_ms'], '.2f')} | {f(r['ratio_xla'], '.2f')} | {r['jcnn_gflops']:.1f} "
            f"| {r['raw_gflops']:.1f} |")
    lines.append("")
    lines.append("GFLOP/s: 2*MACs/time for convolutions; window element-operations/time for pooling and LRN.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", default=None, help="write the rows and metadata as JSON here")
    args = parser.parse_args(argv)
    load_start = loadavg()
    rows = run(args.quick)
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
        "repeats": 5 if args.quick else 30, "jax": jax.__version__, "device": str(jax.devices()[0]),
        "platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
        "load_start": load_start, "load_end": loadavg(),
    }
    print(markdown(rows, meta))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
