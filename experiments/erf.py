"""Experiment 3: the effective receptive field (Luo, Li, Urtasun & Zemel, NeurIPS 2016).

    python experiments/erf.py --out experiments/results/erf [--small]

Stacks of L 3x3 convolutions ('same' padding, 64x64 input) in five settings:
uniform weights (1/9, one channel, linear: the ERF is exactly a binomial),
random weights (He init, 4 channels) without and with ReLU, random weights
with dilation 2, and random weights with a stride-2 first layer (subsampling).
For each depth the ERF of the centre output unit (``jcnn.analysis.
effective_receptive_field``: gradient of that unit w.r.t. the input, |.|
averaged over inputs and re-initialisations, normalised) gives its Gaussian
sigma (second moments) and the radius holding 95% of its mass; the exponent
``a`` of ``sigma ~ L^a`` is fitted in log-log (theory: 0.5); the ERF's 95%
diameter is compared with the theoretical receptive field (``receptive_field``).
The ERF grows like sqrt(L) while the theoretical RF grows like L, so the
fraction shrinks with depth (Luo et al.'s main observation).

Second table (``trained/results.md`` and ``.json``): the ERF of the centre unit of
the last convolutional stage of LeNet-5 (``conv2``) and of a CIFAR-style
ResNet-20 on 28x28x1 input (``layer3.2.act``, the last block), at initialisation and after
training on MNIST through ``jcnn.train`` (the ``lenet5_mnist`` recipe; the
ResNet with ``model.name=resnet20``), both measured on the same random inputs
in evaluation mode. Luo et al. report that training widens the ERF; the table
gives sigma, the 95% radius and the ERF/RF fraction before and after, and the
test accuracy reached. Full setting: 2,000 steps (LeNet-5) and 1,000 steps
(ResNet-20) at batch 128; small: 20 steps at batch 32 on a 512-digit subset.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

import jax.numpy as jnp
import numpy as np
from flax import nnx

import jcnn.models
import jcnn.train
from jcnn import nn
from jcnn.analysis import effective_receptive_field, erf_gaussian_sigma, erf_radius, plot_erf, receptive_field

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402
import _subsets  # noqa: E402


class Stack(nnx.Module):
    """L 3x3 convolutions, 'same' padding: (N, H, W, C_in) -> (N, H / stride, W / stride, C)."""

    def __init__(self, depth, *, channels=4, in_channels=1, relu=False, dilation=1, first_stride=1,
                 kernel_init="he_normal", rngs):
        self.convs = nnx.List([
            nn.Conv(in_channels if i == 0 else channels, channels, kernel_size=3, padding="same",
                    dilation=dilation, stride=first_stride if i == 0 else 1, use_bias=False,
                    kernel_init=kernel_init, rngs=rngs)
            for i in range(depth)])
        self.relu = relu

    def __call__(self, x):
        for conv in self.convs:
            x = conv(x)
            if self.relu:
                x = jnp.maximum(x, 0.0)
        return x


SETTINGS = {
    "uniform, linear": dict(channels=1, kernel_init="constant_0.1111111111111111"),
    "random, linear": dict(),
    "random, ReLU": dict(relu=True),
    "random, dilation 2": dict(dilation=2),
    "random, stride-2 first layer": dict(first_stride=2),
}


def run(out, *, small=False, with_training=True):
    depths = [1, 2, 4] if small else [1, 2, 4, 8, 16]
    size, samples = (32, 2) if small else (64, 8)
    rows, maps = [], {}
    for setting, kw in SETTINGS.items():
        sigmas = []
        for depth in depths:
            def make(seed, depth=depth, kw=kw):
                return Stack(depth, rngs=nnx.Rngs(seed), **kw)

            erf = effective_receptive_field(make, (size, size, 1), samples=samples, seed=0)
            sigma, radius = erf_gaussian_sigma(erf), erf_radius(erf, 0.95)
            trf = list(receptive_field(make(0), (size, size, 1)).values())[-1].size
            sigmas.append(sigma)
            maps[(setting, depth)] = erf
            rows.append({"setting": setting, "depth": depth, "erf_sigma": round(float(sigma), 4),
                         "erf_radius_95": round(float(radius), 4), "theoretical_rf": trf,
                         "erf_95_diameter_over_rf": round(float(2 * radius + 1) / trf, 4)})
        slope = float(np.polyfit(np.log(depths), np.log(sigmas), 1)[0])
        for r in rows:
            if r["setting"] == setting:
                r["fitted_exponent"] = round(slope, 3)
    out = _report.write(out, title="Effective receptive field vs depth (Luo et al. 2016)", rows=rows,
                        columns=["setting", "depth", "erf_sigma", "erf_radius_95", "theoretical_rf",
                                 "erf_95_diameter_over_rf", "fitted_exponent"],
                        notes=__doc__.split("\n\n", 2)[2], small=small, input_size=size, samples=samples)
    deepest = depths[-1]
    fig = plot_erf(maps[("random, ReLU", deepest)], title=f"ERF, {deepest} random 3x3 convs + ReLU")
    fig.savefig(out / "erf_relu_deepest.png", dpi=80)
    if with_training:
        trained(out, small=small)
    return out


# (label, registered model, model kwargs, layer whose centre unit is measured, full-setting steps)
TRAINED = [
    ("LeNet-5", "lenet5_modern", {}, "conv2", 2000),
    ("ResNet-20", "resnet20", {"in_channels": 1}, "layer3.2.act", 1000),
]


def _train_mnist(workdir, name, kwargs, steps, *, small, data_dir):
    cfg = jcnn.train.load_config("lenet5_mnist", overrides=[f"train.steps={steps}", "checkpoint.every=0",
                                                            "eval.every=0", "train.log_every=50"])
    with cfg.unlocked():
        cfg.model.name = name
        for k, v in kwargs.items():
            cfg.model.kwargs[k] = v
        if small:
            cfg.data.name, cfg.data.data_dir = _subsets.mnist_subset(data_dir, 512, 256), str(data_dir)
            cfg.schedule.warmup_steps = 5
            cfg.train.batch_size = 32  # ResNet-20's kernel gradients are slow on XLA-CPU: a cheap test setting
            cfg.eval.batch_size, cfg.eval.max_batches = 256, 1  # the subset's 256 test digits
    jcnn.train.train(cfg, workdir, progress=False, log=lambda m: None)
    return jcnn.train.load_model(workdir), jcnn.train.read_metrics(workdir)


def trained(out, *, small=False):
    """ERF before vs after training on MNIST (Luo et al. 2016, section 4): ``trained/results.md`` and ``.json``, figures."""
    out = pathlib.Path(out)
    samples = 4 if small else 16
    with tempfile.TemporaryDirectory(prefix="jcnn_erf_") as tmp:
        rows, maps = _trained_rows(pathlib.Path(tmp), small, samples)
    _report.write(out / "trained", title="Effective receptive field before and after training on MNIST",
                  rows=rows, columns=["model", "layer", "when", "steps", "erf_sigma", "erf_radius_95",
                                      "theoretical_rf", "erf_95_diameter_over_rf", "test_accuracy"],
                  notes=__doc__.split("\n\n", 3)[3], small=small, samples=samples)
    for label, *_ in TRAINED:
        for when in ("init", "trained"):
            fig = plot_erf(maps[(label, when)], title=f"{label} ERF, {when}")
            fig.savefig(out / "trained" / f"erf_{label.lower().replace('-', '')}_{when}.png", dpi=80)
    return rows


def _trained_rows(scratch, small, samples):
    rows, maps = [], {}
    for label, name, kwargs, layer, full_steps in TRAINED:
        steps = 20 if small else full_steps
        trained_model, metrics = _train_mnist(scratch / name, name, kwargs, steps, small=small,
                                      data_dir=pathlib.Path(os.environ.get("JCNN_DATA_DIR", scratch / "data")))
        init = jcnn.models.create(name, num_classes=10, seed=0, **kwargs)
        test = [m for m in metrics if m.get("split") == "test"]
        for when, model in (("init", init), ("trained", trained_model)):
            model.eval()
            erf = effective_receptive_field(model, (28, 28, 1), layer=layer, samples=samples, seed=0)
            maps[(label, when)] = erf
            rf = receptive_field(model, (28, 28, 1))[layer].size
            radius = float(erf_radius(erf, 0.95))
            rows.append({"model": label, "layer": layer, "when": when, "steps": 0 if when == "init" else steps,
                         "erf_sigma": round(float(erf_gaussian_sigma(erf)), 4), "erf_radius_95": round(radius, 4),
                         "theoretical_rf": rf, "erf_95_diameter_over_rf": round((2 * radius + 1) / rf, 4),
                         "test_accuracy": None if when == "init" or not test else round(float(test[-1]["accuracy"]), 4)})
    return rows, maps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/erf")
    ap.add_argument("--small", action="store_true", help="depths 1, 2, 4 at 32x32, 2 samples (the test setting)")
    args = ap.parse_args(argv)
    print((run(args.out, small=args.small) / "results.md").read_text())


if __name__ == "__main__":
    main()
