"""Experiment 5: translation invariance of MNIST CNNs with and without max pooling.

    python experiments/invariance.py --out experiments/results/invariance [--small]

Three models, each trained here by the same plain Adam loop (lr 1e-3, batch 128;
full: 1,000 steps on the 60k training digits; small: 60 steps on 2,048) from the
same seed: ``lenet5_modern`` (ReLU + 2x2 max pooling after each conv), a
``from_pattern`` twin with the same layers (``CONV(6,5) -> RELU -> POOL -> CONV(16,5)
-> RELU -> POOL -> FC(120) -> RELU -> FC(84) -> RELU -> FC(10)``) and a variant
without pooling whose convolutions subsample by stride 2 instead (``CONV(6,5,2) ->
RELU -> CONV(16,5,2) -> RELU -> FC ...``). Each test digit (full: 1,000; small:
256) is shifted by s = 0..4 pixels on both axes, zeros shifted in
(``jcnn.analysis.translation_invariance``, ``mode="zero"``): ``accuracy_pct`` is the
test accuracy on the shifted digits, ``agreement_pct`` the share of predictions
unchanged by the shift, ``logit_change`` the mean relative L2 change of the
logits. Max pooling gives invariance to shifts smaller than its window only
locally; both architectures lose accuracy as the shift grows (Azulay & Weiss,
"Why do deep convolutional networks generalize so poorly to small image
transformations?", JMLR 2019, for the general observation).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jcnn
import jcnn.data
from jcnn.analysis import translation_invariance

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402

MEAN, STD = 0.1307, 0.3081
SHIFTS = [0, 1, 2, 3, 4]
HEAD = "FC(120) -> RELU -> FC(84) -> RELU -> FC(10)"
MODELS = [
    ("lenet5_modern (max pool)", None),
    ("pattern, max pool", f"INPUT -> CONV(6,5) -> RELU -> POOL -> CONV(16,5) -> RELU -> POOL -> {HEAD}"),
    ("pattern, stride-2 convs (no pool)", f"INPUT -> CONV(6,5,2) -> RELU -> CONV(16,5,2) -> RELU -> {HEAD}"),
]


class Normalized(nnx.Module):
    """``net((x - mean) / std)``: the model takes digits in [0, 1], so zeros shifted in are background.

    Trained and evaluated as one module, so the network sees standardised digits in both.
    """

    def __init__(self, net):
        self.net = net

    def __call__(self, x):
        return self.net(jcnn.ops.standardize_images(x, mean=MEAN, std=STD))


def build(pattern, seed=0):
    if pattern is None:
        return jcnn.models.create("lenet5_modern", seed=seed)
    return jcnn.models.from_pattern(pattern, in_channels=1, input_size=28, num_classes=10, seed=seed)


def train(model, x, y, *, steps, batch=128, seed=0):
    """Plain Adam on cross-entropy; returns the trained model (eval mode)."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = optax.adam(1e-3)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, xb, yb):
        def loss(p):
            logits = nnx.merge(graphdef, p, rest)(xb)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        g = jax.grad(loss)(params)
        updates, opt_state = opt.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.integers(0, len(y), batch)
        params, opt_state = step(params, opt_state, x[idx], y[idx])
    model = nnx.merge(graphdef, params, rest)
    model.eval()
    return model


def shift_zero(x, s):
    """Shift (N, H, W, C) by ``s`` pixels down and right, zeros shifted in."""
    if s == 0:
        return x
    out = np.zeros_like(x)
    out[:, s:, s:, :] = x[:, :-s, :-s, :]
    return out


def load(split, n):
    images, labels = jcnn.data.source("mnist", split).get_batch(np.arange(n))
    x = np.asarray(images, np.float32).reshape(n, 28, 28, 1) / 255.0
    return x, np.asarray(labels, np.int32)


def run(out, *, small=False):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_train, n_test, steps = (2048, 256, 60) if small else (60000, 1000, 1000)
    xtr, ytr = load("train", n_train)
    xte, yte = load("test", n_test)
    rows, results = [], {}
    for label, pattern in MODELS:
        model = train(Normalized(build(pattern)), jnp.asarray(xtr), jnp.asarray(ytr), steps=steps)
        res = translation_invariance(model, jnp.asarray(xte), SHIFTS, mode="zero")
        results[label] = res
        for i, s in enumerate(SHIFTS):
            pred = np.asarray(jnp.argmax(model(jnp.asarray(shift_zero(xte, s))), -1))
            rows.append({"model": label, "shift_px": s, "accuracy_pct": round(100 * float((pred == yte).mean()), 2),
                         "agreement_pct": round(100 * float(res["agreement"][i]), 2),
                         "logit_change": round(float(res["output"][i]), 4)})
    plot_figure(results, out / "invariance.png")
    return _report.write(out, title="Translation invariance on MNIST: max pooling vs stride-2 convolutions",
                         rows=rows, columns=["model", "shift_px", "accuracy_pct", "agreement_pct", "logit_change"],
                         notes=__doc__.split("\n\n", 2)[2], small=small, steps=steps, n_train=n_train,
                         n_test=n_test, shifts=SHIFTS, mode="zero")


def plot_figure(results, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, res in results.items():
        ax1.plot(SHIFTS, 100 * np.asarray(res["agreement"]), "o-", label=label)
        ax2.plot(SHIFTS, res["output"], "o-", label=label)
    ax1.set(xlabel="shift (px, both axes, zero fill)", ylabel="unchanged predictions (%)", title="Agreement")
    ax2.set(xlabel="shift (px, both axes, zero fill)", ylabel="relative L2 change", title="Logit change")
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/invariance")
    ap.add_argument("--small", action="store_true", help="60 steps on 2,048 digits, 256 test digits (test setting)")
    args = ap.parse_args(argv)
    out = run(args.out, small=args.small)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
