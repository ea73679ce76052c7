"""Experiment 7: kernel factorisation and bottlenecks -- parameters, FLOPs and accuracy on MNIST.

    python experiments/factorisation.py --out experiments/results/factorisation [--small]

Two comparisons, each block placed in the same small MNIST network
``CONV(C) -> RELU -> POOL -> [block] -> POOL -> FC(10)`` (block input 14x14xC),
built with ``jcnn.models.from_pattern`` and registered as ``exp_factor_*``:

* one 7x7 conv vs three stacked 3x3 convs (with ReLUs), C = 32 channels: the
  same 7x7 receptive field from 27C^2 instead of 49C^2 weights (Simonyan &
  Zisserman 2015, section 2.3).
* a plain 3x3 conv C->C vs a 1x1 bottleneck ``1x1 C->C/4 -> 3x3 C/4->C/4 ->
  1x1 C/4->C`` (He et al. 2016's 256->64->3x3->256 block scaled to C = 64;
  section 4), no residual connection in either.

``block_params``/``block_flops`` count the block alone on its 14x14 input
(``jcnn.summary``; FLOPs = 2 x MACs, conv/dense only); ``weights_formula``
is the weight count without biases (49C^2, 27C^2, 9C^2, C^2/2 + 9C^2/16).
Each network is trained by ``jcnn.train.train`` with the ``lenet5_mnist``
recipe (SGD Nesterov, cosine lr 0.05, weight decay 5e-4, batch 128) for a
short budget (full: 400 steps, about 0.85 epoch, on the 60k set; small: 20
steps at batch 32 on a 512-example subset) and tested on the MNIST test set
(small: a 256-example subset).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import jax
import jax.numpy as jnp

import jcnn
import jcnn.models
import jcnn.train
from jcnn.models import from_pattern

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402
import _subsets  # noqa: E402

C7, CB = 32, 64  # channels of the 7x7-vs-3x3 and of the plain-vs-bottleneck comparison
# (comparison, registered name, label, C, block pattern, weights formula)
BLOCKS = [
    ("7x7 vs 3x(3x3)", "exp_factor_conv7x7", "one 7x7 conv", C7, f"CONV({C7},7) -> RELU", 49 * C7 * C7),
    ("7x7 vs 3x(3x3)", "exp_factor_conv3x3x3", "three 3x3 convs", C7, f"[CONV({C7},3) -> RELU]*3", 27 * C7 * C7),
    ("plain vs bottleneck", "exp_factor_plain3x3", "plain 3x3 C->C", CB, f"CONV({CB},3) -> RELU", 9 * CB * CB),
    ("plain vs bottleneck", "exp_factor_bottleneck", "1x1 C/4 -> 3x3 -> 1x1 C", CB,
     f"CONV({CB // 4},1) -> RELU -> CONV({CB // 4},3) -> RELU -> CONV({CB},1) -> RELU",
     CB * CB // 4 + 9 * (CB // 4) ** 2 + CB * CB // 4),
]


def network_pattern(c: int, block: str) -> str:
    return f"INPUT -> CONV({c}) -> RELU -> POOL -> {block} -> POOL -> FC(10)"


def register_models() -> None:
    """Register each network as ``exp_factor_*`` (once per process) so ``jcnn.train`` can build it."""
    for _, name, _, c, block, _ in BLOCKS:
        if name in jcnn.models.names("exp_factor_*"):
            continue

        def factory(*, num_classes=10, rngs, _spec=network_pattern(c, block)):
            return from_pattern(_spec, in_channels=1, input_size=28, num_classes=num_classes, rngs=rngs)

        factory.__name__ = name
        jcnn.models.register(name, input_shape=(28, 28, 1), num_classes=10,
                             paper="jcnn experiment 7 (factorisation)")(factory)


def pointwise_vs_dense(seed: int = 0) -> float:
    """Max |pointwise_conv(x, w, b) - dense(x, w, b)| over a random (4, 9, 9, 16) -> 32 map."""
    kx, kw, kb = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(kx, (4, 9, 9, 16))
    w = jax.random.normal(kw, (16, 32)) / 4
    b = jax.random.normal(kb, (32,))
    conv = jcnn.ops.pointwise_conv(x, w, b)
    per_pixel = jcnn.ops.dense(x.reshape(-1, 16), w, b).reshape(4, 9, 9, 32)
    return float(jnp.max(jnp.abs(conv - per_pixel)))


def block_cost(c: int, block: str) -> tuple[int, int]:
    s = jcnn.summary(from_pattern(f"INPUT -> {block}", in_channels=c, input_size=14), (14, 14, c), print_=False)
    return int(s.total["params"]), int(s.total["flops"])


def run(out, *, small=False):
    register_models()
    rows = []
    with tempfile.TemporaryDirectory(prefix="jcnn_factor_") as tmp:
        tmp = pathlib.Path(tmp)
        if small:
            data = _subsets.mnist_subset(tmp / "data", 512, 256)
            overrides = ["train.steps=20", "train.batch_size=32", "train.log_every=10", "eval.batch_size=128",
                         f"data.name={data}", f"data.data_dir={tmp / 'data'}", "schedule.warmup_steps=0"]
        else:
            overrides = ["train.steps=400", "train.log_every=50", "schedule.warmup_steps=50"]
        overrides += ["eval.every=0", "checkpoint.every=0", "checkpoint.keep=1"]
        for comparison, name, label, c, block, formula in BLOCKS:
            bp, bf = block_cost(c, block)
            net = jcnn.summary(jcnn.models.create(name), (28, 28, 1), print_=False)
            cfg = jcnn.train.load_config("lenet5_mnist", overrides=overrides + [f"model.name={name}"])
            summary = jcnn.train.train(cfg, tmp / name, progress=False, log=lambda msg: None)
            rows.append({"comparison": comparison, "block": label, "model": name, "C": c,
                         "weights_formula": formula, "block_params": bp, "block_flops": bf,
                         "net_params": int(net.total["params"]), "net_flops": int(net.total["flops"]),
                         "steps": summary["step"], "test_acc_pct": round(100 * summary["test_accuracy"], 2),
                         "pattern": network_pattern(c, block)})
    diff = pointwise_vs_dense()
    notes = (__doc__.split("\n\n", 2)[2]
             + f"\n1x1 conv == dense per pixel: max |jcnn.ops.pointwise_conv(x, w, b) - jcnn.ops.dense(x, w, b)| "
               f"over a random (4, 9, 9, 16) -> 32 map = {diff:.3g} (float32).\n")
    return _report.write(out, title="Kernel factorisation and 1x1 bottlenecks on MNIST", rows=rows,
                         columns=["comparison", "block", "C", "weights_formula", "block_params", "block_flops",
                                  "net_params", "net_flops", "steps", "test_acc_pct"],
                         notes=notes, small=small, pointwise_vs_dense_max_abs_diff=diff)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/factorisation")
    ap.add_argument("--small", action="store_true", help="20 steps on a 512-example subset (the test setting)")
    args = ap.parse_args(argv)
    out = run(args.out, small=args.small)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
