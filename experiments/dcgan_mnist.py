"""Experiment 9: DCGAN on MNIST -- sample grids over training and the two losses.

    python experiments/dcgan_mnist.py --out experiments/results/dcgan_mnist [--small]

The ``dcgan_mnist`` config (Radford et al. 2016's recipe at MNIST size: Adam
2e-4, beta1 0.5, batch 128, non-saturating generator loss) trained by
``jcnn.train.train`` in stages: the run stops at each stage's step, the
generator is read back with ``jcnn.train.load`` and draws the same 64 latent
vectors (z ~ N(0, 1), key 0), then training resumes in the same workdir. The
learning rate is constant, so the staged run is the uninterrupted run.
Full setting: the config's 9,380 steps (20 epochs), grids at 0, 500, 1000,
2000, 4690 and 9380 steps (for an accelerator: hours on this 2-core CPU).
Small setting: 4 steps at batch 16 on a 512-digit subset, grids at 0, 2, 4.
``samples.png``: one 8x8 grid per stage; ``losses.png``: discriminator and
generator losses against step; the table gives the means over the last logging
interval of each stage (``d_accuracy``: the discriminator's real/fake accuracy).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile

import jax
import numpy as np

import jcnn.models
import jcnn.train

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402
import _subsets  # noqa: E402

FULL_STAGES = (500, 1000, 2000, 4690, 9380)
SMALL_STAGES = (2, 4)
N_SAMPLES = 64


def generator_from(workdir, cfg):
    """The generator of ``workdir``'s newest checkpoint, as an ``nnx`` module in eval mode."""
    return jcnn.train.load_model(workdir, net="g")


def sample(model, z) -> np.ndarray:
    """(N, 28, 28) images in [0, 1]."""
    return np.asarray((model(z)[..., 0] + 1) / 2).clip(0, 1)


def grid(images: np.ndarray, cols: int = 8) -> np.ndarray:
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.ones((rows * (h + 2) + 2, cols * (w + 2) + 2), np.float32)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = im
    return out


def plot(grids: dict, records: list[dict], out: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(grids), figsize=(2.6 * len(grids), 2.9))
    for ax, (step, g) in zip(np.atleast_1d(axes), grids.items()):
        ax.imshow(g, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"step {step}")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=100, metadata={"Software": None})
    plt.close(fig)

    tr = [r for r in records if r["split"] == "train"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("d_loss", "g_loss"):
        ax.plot([r["step"] for r in tr], [r[key] for r in tr], label=key)
    ax.set(xlabel="step", ylabel="loss", title="DCGAN on MNIST: losses")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "losses.png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def run(out, *, small=False, stages=None):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stages = tuple(stages or (SMALL_STAGES if small else FULL_STAGES))
    z = jax.random.normal(jax.random.key(0), (N_SAMPLES, 100))
    grids, rows = {}, []
    with tempfile.TemporaryDirectory(prefix="jcnn_dcgan_") as tmp:
        tmp = pathlib.Path(tmp)
        base = ["checkpoint.every=0", "checkpoint.keep=1"]
        if small:
            name = _subsets.mnist_subset(tmp / "data", 512, 256)
            base += ["train.batch_size=16", "train.log_every=1", f"data.name={name}", f"data.data_dir={tmp / 'data'}"]
        untrained = jcnn.train.load_config("dcgan_mnist", overrides=base)
        grids[0] = grid(sample(_eval(jcnn.models.create(untrained.model.name, seed=untrained.seed)), z))
        for stop in stages:
            cfg = jcnn.train.load_config("dcgan_mnist", overrides=base + [f"train.steps={stop}"])
            jcnn.train.train(cfg, tmp / "run", progress=False, log=lambda msg: None)
            grids[stop] = grid(sample(generator_from(tmp / "run", cfg), z))
        records = jcnn.train.read_metrics(tmp / "run")
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    train = [r for r in records if r["split"] == "train"]
    for stop in stages:
        last = [r for r in train if r["step"] <= stop][-1]
        rows.append({"step": stop, "logged_step": last["step"], "d_loss": last["d_loss"], "g_loss": last["g_loss"],
                     "d_accuracy": last["accuracy"],
                     "sample_mean": round(float(grids[stop][2:-2, 2:-2].mean()), 4)})
    plot(grids, records, out)
    np.savez_compressed(out / "samples.npz", **{f"step_{k}": v for k, v in grids.items()})
    return _report.write(out, title="DCGAN on MNIST: losses over training", rows=rows,
                         columns=["step", "d_loss", "g_loss", "d_accuracy"], notes=__doc__.split("\n\n", 2)[2],
                         small=small, stages=list(stages))


def _eval(model):
    model.eval()
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/dcgan_mnist")
    ap.add_argument("--small", action="store_true", help="4 steps at batch 16 (the test setting)")
    ap.add_argument("--stages", default=None, help="comma-separated stop steps, e.g. 200,400")
    args = ap.parse_args(argv)
    stages = tuple(int(s) for s in args.stages.split(",")) if args.stages else None
    out = run(args.out, small=args.small, stages=stages)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
