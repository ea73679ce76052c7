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
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import nn
from jcnn.analysis import effective_receptive_field, erf_gaussian_sigma, erf_radius, plot_erf, receptive_field

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402


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


def run(out, *, small=False):
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
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/erf")
    ap.add_argument("--small", action="store_true", help="depths 1, 2, 4 at 32x32, 2 samples (the test setting)")
    args = ap.parse_args(argv)
    print((run(args.out, small=args.small) / "results.md").read_text())


if __name__ == "__main__":
    main()
