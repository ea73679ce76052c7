"""Experiment 4: inside a CNN -- classical filters, learned kernels, feature maps, filter visualisation, deconvnet.

    python experiments/filters.py --out experiments/results/filters [--small]

``classical.png``: Sobel x/y, gradient magnitude, Gaussian blur and sharpen of
scikit-image's camera photo (``jcnn.analysis.classical.demo``, convolutions by
``jcnn.ops``). A ``lenet5_modern`` is then trained briefly by the Adam loop of
``experiments/invariance.py`` (full: 500 steps at batch 128 on the 60k training
digits; small: 60 steps on 2,048): ``filters.png`` its six first-layer 5x5
kernels (``plot_filters``), ``feature_maps.png`` the conv1 maps of a test digit
(``feature_maps``), ``filter_vis.png`` the input maximising conv2 channel 0 by
gradient ascent over octaves (``visualize_filter``; the table gives the mean
activation before and after for channels 0-3), ``deconvnet.png`` ZFNet's
deconvnet projection of conv2 channel 0 (``deconvnet``; lenet5_modern up to conv2
is a chain of conv / ReLU / max pool). Zeiler & Fergus, "Visualizing and
Understanding Convolutional Networks", ECCV 2014, for the deconvnet; first-layer
kernels of a briefly trained LeNet-5 look like oriented edge and blob detectors.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax.numpy as jnp
import numpy as np

import jcnn
from jcnn.analysis import (classical, deconvnet, feature_maps, plot_deconvnet, plot_feature_maps, plot_filters,
                           plot_filter_visualization, visualize_filter)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402
import invariance  # noqa: E402  (the shared Adam loop and MNIST loader)


def _save(fig, path):
    fig.savefig(path, dpi=90, metadata={"Software": None})


def run(out, *, small=False, channels=4):
    """Write the figures and the table into ``out``; returns ``out``.

    ``channels``: how many conv2 channels (0, 1, ...) to visualise by gradient ascent, each a
    few fresh compilations (the determinism test uses 2; the table records it when not 4).
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    res = classical.demo()
    _save(classical.plot_classical(res), out / "classical.png")
    for k in sorted(res):
        rows.append({"item": f"classical: {k}", "value": round(float(np.abs(res[k]).max()), 4),
                     "detail": f"max |.| over the {res[k].shape[0]}x{res[k].shape[1]} image"})
    n_train, n_test, steps = (2048, 256, 60) if small else (60000, 1000, 500)
    xtr, ytr = invariance.load("train", n_train)
    xte, yte = invariance.load("test", n_test)
    norm = lambda v: jcnn.ops.standardize_images(v, mean=invariance.MEAN, std=invariance.STD)  # noqa: E731
    model = invariance.train(jcnn.models.create("lenet5_modern", seed=0), norm(xtr), jnp.asarray(ytr), steps=steps)
    acc = float((np.asarray(jnp.argmax(model(norm(xte)), -1)) == yte).mean())
    rows.append({"item": "lenet5_modern test accuracy (%)", "value": round(100 * acc, 2),
                 "detail": f"{steps} Adam steps, {n_test} test digits"})
    _save(plot_filters(model), out / "filters.png")
    x = norm(xte[:4])
    maps = feature_maps(model, x, ["conv1", "conv2"])
    _save(plot_feature_maps({"conv1": maps["conv1"]}), out / "feature_maps.png")
    for k in ("conv1", "conv2"):
        rows.append({"item": f"{k} feature map, mean |activation|", "value": round(float(np.abs(maps[k]).mean()), 4),
                     "detail": f"shape {tuple(maps[k].shape)}"})
    for c in range(channels):
        vis = visualize_filter(model, "conv2", c, steps=10, octaves=3, start_size=20, in_channels=1, seed=0)
        if c == 0:
            _save(plot_filter_visualization(vis, title="conv2 channel 0"), out / "filter_vis.png")
        rows.append({"item": f"visualize_filter conv2[{c}]: activation before -> after",
                     "value": round(float(vis.history[-1]), 4),
                     "detail": f"from {float(vis.history[0]):.4f}, sizes {list(vis.sizes)}"})
    proj = deconvnet(model, x, "conv2", 0, top="max")
    _save(plot_deconvnet(proj, np.asarray(x)), out / "deconvnet.png")
    rows.append({"item": "deconvnet conv2[0] (top max): projection L1 norm", "value": round(float(np.abs(proj).sum()), 4),
                 "detail": f"shape {tuple(proj.shape)}"})
    return _report.write(out, title="Inside a CNN: classical filters, LeNet-5 kernels, feature maps, visualisations",
                         rows=rows, columns=["item", "value", "detail"], notes=__doc__.split("\n\n", 2)[2],
                         small=small, steps=steps, n_train=n_train, n_test=n_test,
                         **({} if channels == 4 else {"channels": channels}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/filters")
    ap.add_argument("--small", action="store_true", help="60 training steps on 2,048 digits (the test setting)")
    args = ap.parse_args(argv)
    out = run(args.out, small=args.small)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
