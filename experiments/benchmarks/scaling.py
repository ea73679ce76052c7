"""Data-parallel scaling: global-batch throughput of jcnn's training step over 1..N devices.

Each device count runs in its own subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` set before jax is
imported; the step is built and sharded exactly as ``jcnn.train`` does it
(``jcnn.train.builder.build``: a ``Mesh`` over ``jax.devices()``, state
replicated, the batch sharded on ``"data"``), global batch 128 (per device
128 / N). On CPU the forced host devices share the same cores (2 here), so no
speed-up is expected: this measures the cost of the sharding machinery. On an
accelerator machine with several devices the same script measures real scaling.

    python experiments/benchmarks/scaling.py [--quick] [--out FILE.json] [--md FILE.md] [--devices 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def child(model: str, batch: int, repeats: int, warmup: int) -> dict:
    """Runs inside the subprocess: one device count (already fixed by XLA_FLAGS)."""
    sys.path.insert(0, str(HERE))
    import jax
    import jax.numpy as jnp

    import train_step as ts
    from _timing import loadavg, median_ms
    from jcnn.train import builder

    cfg = ts.load_config(model, batch)
    jit_step, state, (_, data_sh) = ts.build_jcnn(cfg)
    b = builder.global_batch(ts.make_batch(model, batch), data_sh)
    import time
    t = time.perf_counter()
    compiled = jit_step.lower(state, b, jnp.asarray(0, jnp.int32)).compile()
    compile_s = time.perf_counter() - t
    holder = {"state": state, "step": 0}

    def run():
        holder["state"], m = compiled(holder["state"], b, jnp.asarray(holder["step"], jnp.int32))
        holder["step"] += 1
        jax.block_until_ready((holder["state"], m))

    ms = median_ms(run, repeats=repeats, warmup=warmup)  # run() blocks on its own results
    return {"devices": jax.device_count(), "platform": jax.default_backend(), "model": model,
            "global_batch": batch, "per_device_batch": batch // jax.device_count(), "compile_s": compile_s,
            "ms": ms, "images_per_s": batch / ms * 1e3, "loadavg": loadavg(),
            "batch_sharding": str(b["image"].sharding.spec)}


def run(models=("lenet5", "resnet20"), devices=(1, 2, 4, 8), batch=128, repeats=10, warmup=2, log=print):
    rows = []
    for model in models:
        for n in devices:
            env = dict(os.environ)
            flags = [f for f in env.get("XLA_FLAGS", "").split() if "force_host_platform_device_count" not in f]
            env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={n}"])
            env.setdefault("JAX_PLATFORMS", "cpu")
            cmd = [sys.executable, str(HERE / "scaling.py"), "--child", model, "--batch", str(batch),
                   "--repeats", str(repeats), "--warmup", str(warmup)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode:
                rows.append({"model": model, "devices": n, "error": out.stderr[-500:]})
                log(f"{model} x{n}: failed\n{out.stderr[-500:]}")
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            log(f"{model} x{n}: {row['images_per_s']:.0f} img/s (per device {row['per_device_batch']}, "
                f"compile {row['compile_s']:.1f} s) load {row['loadavg']}")
    return rows


def markdown(rows, cpus) -> str:
    lines = [f"Global batch {rows[0].get('global_batch', '?')}, forced host devices over {cpus} CPU cores "
             "(all devices share the same cores: no speed-up expected); images/s, median; speed-up vs 1 device.",
             "", "| model | devices | per-device batch | images/s | vs 1 device | compile s | load (1 min) |",
             "|---|---|---|---|---|---|---|"]
    base = {}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['devices']} | - | failed | - | - | - |")
            continue
        base.setdefault(r["model"], r["images_per_s"])
        lines.append(f"| {r['model']} | {r['devices']} | {r['per_device_batch']} | {r['images_per_s']:.0f} | "
                     f"{r['images_per_s'] / base[r['model']]:.2f}x | {r['compile_s']:.1f} | {r['loadavg'][0]} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--md")
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--devices", default=None, help="comma-separated device counts (default 1,2,4,8; quick 1,2,4)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    args = ap.parse_args(argv)
    repeats = args.repeats or (4 if args.quick else 10)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.child:
        print(json.dumps(child(args.child, args.batch, repeats, warmup)))
        return 0
    devices = tuple(int(d) for d in (args.devices or ("1,2,4" if args.quick else "1,2,4,8")).split(","))
    rows = run(models=tuple(args.models.split(",")), devices=devices, batch=args.batch, repeats=repeats,
               warmup=warmup)
    md = markdown(rows, os.cpu_count())
    print(md)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({"rows": rows, "cpus": os.cpu_count(), "quick": args.quick},
                                                     indent=1) + "\n")
    if args.md:
        pathlib.Path(args.md).write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
