"""Experiment 1: LeNet-5 on MNIST, classic (sigmoid/avg) vs modern (ReLU/max), beside LeCun et al. 1998.

    python experiments/lenet5_mnist.py --out experiments/results/lenet5_mnist [--small]

Full setting: the ``lenet5_classic_mnist`` config (LeNet-5 as published: sigmoid,
average pooling, 32x32 input = MNIST zero-padded by 2; SGD momentum 0.9, lr 0.1
cosine, 20 epochs) and the ``lenet5_mnist`` config (ReLU + max pooling, 28x28;
SGD Nesterov, lr 0.05 cosine, weight decay 5e-4, 10 epochs), both without
distortions, each trained by ``jcnn.train.train`` on the 60k training set and
tested on the 10k test set. Small setting: 40 steps at batch 32 on a balanced
512/256-example MNIST subset (the tests' setting; the numbers mean nothing).

Paper: LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to
Document Recognition", Proc. IEEE 1998: LeNet-5 test error 0.95% without
distortions, 0.8% with distortions (Fig. 9 / Table of Section III). The
paper's LeNet-5 differs from ``lenet5`` in details (scaled tanh ``1.7159
tanh(2x/3)``, trainable subsampling coefficients, a partial C3 connection
table, RBF output units and a stochastic diagonal Levenberg-Marquardt
optimiser); ``lenet5`` keeps the layer sizes, sigmoid and average pooling.
``learning_curves.png``: training loss and held-out error against step.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile

import jcnn.train

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402
import _subsets  # noqa: E402

PAPER_ERROR = 0.95  # % test error, LeNet-5 without distortions (LeCun et al. 1998)
PAPER_ERROR_DISTORTED = 0.8
VARIANTS = [
    # (label, config, description)
    ("classic", "lenet5_classic_mnist", "sigmoid + avg pool, 32x32 (padded)"),
    ("modern", "lenet5_mnist", "ReLU + max pool, 28x28"),
]
SMALL_OVERRIDES = ["train.steps=40", "train.batch_size=32", "train.log_every=5", "eval.every=20",
                   "eval.batch_size=128", "checkpoint.every=0", "checkpoint.keep=1", "schedule.warmup_steps=0"]


def train_variant(config: str, workdir, *, small: bool, data_dir) -> tuple[dict, list[dict]]:
    """Train one config (full or small) in ``workdir``; returns (summary, metrics records)."""
    overrides = ["checkpoint.every=0", "checkpoint.keep=1"]
    if small:
        name = _subsets.mnist_subset(data_dir, 512, 256)
        overrides = SMALL_OVERRIDES + [f"data.name={name}", f"data.data_dir={data_dir}"]
    cfg = jcnn.train.load_config(config, overrides=overrides)
    summary = jcnn.train.train(cfg, workdir, progress=False, log=lambda msg: None)
    return summary, jcnn.train.read_metrics(workdir)


def plot_curves(curves: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, records in curves.items():
        tr = [r for r in records if r["split"] == "train"]
        ev = [r for r in records if r["split"] in ("eval", "test")]
        ax1.plot([r["step"] for r in tr], [r["loss"] for r in tr], label=label)
        ax2.plot([r["step"] for r in ev], [100 * (1 - r["accuracy"]) for r in ev], "o-", label=label)
    ax2.axhline(PAPER_ERROR, color="k", ls="--", lw=1, label="LeCun et al. 1998 (0.95%)")
    ax1.set(xlabel="step", ylabel="training loss", yscale="log", title="Training loss")
    ax2.set(xlabel="step", ylabel="test error (%)", yscale="log", title="Held-out error")
    for ax in (ax1, ax2):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def run(out, *, small=False, keep_runs=None):
    """Train both variants and write the table, the curves and the metrics; returns ``out``."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    with tempfile.TemporaryDirectory(prefix="jcnn_lenet5_") as tmp:
        tmp = pathlib.Path(tmp)
        for label, config, desc in VARIANTS:
            workdir = (pathlib.Path(keep_runs) / label) if keep_runs else tmp / label
            summary, records = train_variant(config, workdir, small=small, data_dir=tmp / "data")
            curves[label] = records
            (out / f"metrics_{label}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
            err = 100 * (1 - summary["test_accuracy"])
            rows.append({"model": f"LeNet-5 {label}", "config": config, "variant": desc, "steps": summary["step"],
                         "test_error_pct": round(err, 2), "test_loss": summary["test_loss"],
                         "paper_error_pct": PAPER_ERROR, "diff_pct_points": round(err - PAPER_ERROR, 2),
                         "per_class_accuracy": [round(a, 4) for a in summary["per_class_accuracy"]]})
    plot_curves(curves, out / "learning_curves.png")
    return _report.write(out, title="LeNet-5 on MNIST: classic vs modern, beside LeCun et al. 1998",
                         rows=rows, columns=["model", "variant", "steps", "test_error_pct", "test_loss",
                                             "paper_error_pct", "diff_pct_points"],
                         notes=__doc__.split("\n\n", 2)[2], small=small,
                         paper={"error_pct": PAPER_ERROR, "error_pct_distortions": PAPER_ERROR_DISTORTED})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/lenet5_mnist")
    ap.add_argument("--small", action="store_true", help="40 steps on a 512-example subset (the test setting)")
    ap.add_argument("--keep-runs", default=None, help="keep the training workdirs (checkpoints) here")
    args = ap.parse_args(argv)
    out = run(args.out, small=args.small, keep_runs=args.keep_runs)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
