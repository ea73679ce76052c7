"""Experiment 6: FGSM accuracy vs eps for a standard and an adversarially trained LeNet-5 (Goodfellow et al. 2015, section 6).

    python experiments/adversarial.py --out experiments/results/adversarial [--small]

Two ``lenet5_mnist`` runs through ``jcnn.train``: standard, and adversarially
trained (``train.adversarial``: half of each batch replaced by FGSM examples of
the current model, eps 0.1 in pixel units). Each is attacked on the MNIST test
set with ``jcnn.analysis.fgsm`` (one gradient-sign step, pixels clipped to
[0, 1]) and ``pgd`` (5 steps) at several eps. Context: Goodfellow, Shlens &
Szegedy (ICLR 2015) report 89.4% error for a shallow softmax model and 99.9%
for a maxout network at eps = 0.25 on MNIST, and adversarial training of the
maxout network bringing the error on FGSM examples to 17.9%. Full setting:
the config's 4,690 steps each, 2,000 test digits; small: 40 steps on 256.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

import jax.numpy as jnp
import numpy as np
import optax

import jcnn
import jcnn.data
import jcnn.train
from jcnn.analysis import fgsm, pgd

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402

EPS = (0.0, 0.05, 0.1, 0.2, 0.25, 0.3)


def _trained(workdir, overrides):
    """``(network, net_input)``: the trained LeNet-5 and the run's own pixels -> network input map."""
    cfg = jcnn.train.load_config("lenet5_mnist", overrides=overrides)
    jcnn.train.train(cfg, workdir, progress=False, log=lambda m: None)
    mean, std, pad = tuple(cfg.data.mean), tuple(cfg.data.std), int(cfg.data.pad)

    def net_input(x):  # (N, 28, 28, 1) pixels in [0, 1]: attacks perturb and clip pixels, the net sees them normalised
        return jcnn.ops.standardize_images(x, mean=mean, std=std, pad=pad)

    return jcnn.train.load_model(workdir), net_input


def run(out, *, small=False, steps=None, n_test=None, eps=EPS):
    """Train both models, attack them, write the table into ``out``; returns ``out``.

    ``steps``, ``n_test`` and ``eps`` override the setting's training steps, test digits
    and attack radii (the determinism test runs a shorter setting twice); they are
    recorded in ``results.json`` when given.
    """
    scratch = pathlib.Path(tempfile.mkdtemp())
    os.environ.setdefault("JCNN_DATA_DIR", str(scratch / "data"))
    base = ["checkpoint.every=0", "eval.max_batches=1"]
    if small:
        base += ["train.steps=40", "schedule.warmup_steps=10"]
    overridden = {"steps": steps} if steps is not None else {}  # n_test is always recorded
    if eps != EPS:
        overridden["eps"] = list(eps)
    if steps is not None:
        base += [f"train.steps={steps}", f"schedule.warmup_steps={min(10, steps // 4)}"]
    n_test = n_test or (256 if small else 2000)
    images, labels = jcnn.data.source("mnist", "test").get_batch(np.arange(n_test))
    x, y = jnp.asarray(images, jnp.float32) / 255.0, jnp.asarray(labels)
    rows = []
    for name, extra in [("standard", []),
                        ("adversarially trained (FGSM, eps 0.1, half of each batch)",
                         ["train.adversarial.fraction=0.5", "train.adversarial.eps=0.1"])]:
        model, net_input = _trained(scratch / name.split()[0], base + extra)

        def loss_fn(xa, ya, model=model, net_input=net_input):
            return optax.softmax_cross_entropy_with_integer_labels(model(net_input(xa)), ya).mean()

        def acc(xa, model=model, net_input=net_input):
            return float(jnp.mean(jnp.argmax(model(net_input(xa)), -1) == y))

        for e in eps:
            xf = fgsm(loss_fn, x, y, eps=e) if e else x
            xp = pgd(loss_fn, x, y, eps=e, steps=5, seed=0) if e else x
            rows.append({"model": name, "eps": e, "fgsm_accuracy_pct": round(100 * acc(xf), 2),
                         "pgd5_accuracy_pct": round(100 * acc(xp), 2)})
    return _report.write(out, title="FGSM and PGD on MNIST: standard vs adversarially trained LeNet-5",
                         rows=rows, columns=["model", "eps", "fgsm_accuracy_pct", "pgd5_accuracy_pct"],
                         notes=__doc__.split("\n\n", 2)[2], small=small, n_test=n_test, **overridden)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/adversarial")
    ap.add_argument("--small", action="store_true", help="40 steps, 256 test digits (the test setting)")
    args = ap.parse_args(argv)
    print((run(args.out, small=args.small) / "results.md").read_text())


if __name__ == "__main__":
    main()
