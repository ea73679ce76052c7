"""Translation invariance, measured (Goodfellow, Bengio & Courville 2016, section 9.3: pooling and small shifts).

For each shift ``(dy, dx)`` the images are shifted (``"circular"``: rolled,
``"zero"``: moved with zeros filling in), and for the model's output and each
chosen layer the *relative L2 change*

    ``||f(shift(x)) - f(x)|| / ||f(x)||``   (norms over all but the batch axis)

is averaged over the images; 0 means invariant. ``agreement`` is the fraction
of images whose predicted class (argmax of the output) is unchanged. Feature
maps are compared position by position (invariance, not equivariance), so a
convolutional feature map changes under a shift unless it has been pooled.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn.analysis import features as F
from jcnn.nn import capture as capture_lib


def _shift(x, dy, dx, mode):
    if mode == "circular":
        return jnp.roll(x, (dy, dx), axis=(1, 2))
    h, w = x.shape[1:3]
    out = jnp.zeros_like(x)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    return out.at[:, yd, xd].set(x[:, ys, xs])


def _shifts(shifts, fn):
    out = []
    for s in shifts:
        if isinstance(s, (int, np.integer)):
            out.append((int(s), int(s)))
        elif isinstance(s, (tuple, list)) and len(s) == 2 and all(isinstance(v, (int, np.integer)) for v in s):
            out.append((int(s[0]), int(s[1])))
        else:
            raise ValueError(f"{fn}: each shift must be an int (both axes) or a (dy, dx) pair of ints, got {s!r}")
    if not out:
        raise ValueError(f"{fn}: shifts must not be empty")
    return out


def _rel(a, b):
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    num = jnp.linalg.norm(a - b, axis=1)
    den = jnp.linalg.norm(b, axis=1)
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), jnp.where(num > 0, jnp.inf, 0.0))


def translation_invariance(model, images, shifts, *, layers=None, mode: str = "circular",
                           train: bool = False) -> dict:
    """How much outputs and features change when the input is shifted.

    Args:
      model: any ``nnx.Module`` taking (N, H, W, C).
      images: (N, H, W, C).
      shifts: a list of ints (the same shift on both axes) or ``(dy, dx)`` pairs, in pixels.
      layers: paths of :func:`jcnn.nn.capture.layers` to measure as well (None: the output only).
      mode: ``"circular"`` (roll) or ``"zero"`` (shift in zeros).
    Returns:
      ``{"shifts": [(dy, dx), ...], "output": (S,), "layers": {name: (S,)}, "agreement": (S,)}``:
      the mean relative L2 change per shift, per layer, and the fraction of unchanged argmax
      predictions (NaN when the output has no class axis).
    Raises:
      ValueError: unknown layer, bad shifts or mode, images of the wrong shape.
    """
    fn = "translation_invariance"
    if mode not in ("circular", "zero"):
        raise ValueError(f"{fn}: mode={mode!r} must be 'circular' or 'zero'")
    x = F.check_input(model, images, fn, "images")
    shifts = _shifts(shifts, fn)
    names = [] if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    for name in names:
        F.check_layer(model, name, fn)

    copy = nnx.merge(*nnx.split(model), copy=True)  # train mode must not write into ``model``

    def run(v):
        feats = capture_lib.capture(copy, v, layers=names + ["output"], train=train)
        return feats.pop("output"), {n: feats[n] for n in names}

    out0, feats0 = run(x)
    res = {"shifts": shifts, "output": [], "layers": {n: [] for n in names}, "agreement": []}
    for dy, dx in shifts:
        out, feats = run(_shift(x, dy, dx, mode))
        res["output"].append(float(_rel(out, out0).mean()))
        for n in names:
            res["layers"][n].append(float(_rel(feats[n], feats0[n]).mean()))
        agree = float((out.argmax(-1) == out0.argmax(-1)).mean()) if out.ndim == 2 else float("nan")
        res["agreement"].append(agree)
    res["output"] = np.asarray(res["output"])
    res["agreement"] = np.asarray(res["agreement"])
    res["layers"] = {n: np.asarray(v) for n, v in res["layers"].items()}
    return res


def plot_invariance(result: dict, *, title: str | None = None):
    """Relative change per shift for the output and each layer. Returns a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure

    labels = [f"({dy},{dx})" for dy, dx in result["shifts"]]
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    for n, v in result["layers"].items():
        ax.plot(labels, v, marker="o", label=n)
    ax.plot(labels, result["output"], marker="s", color="k", label="output")
    ax.set_xlabel("shift (dy, dx)"), ax.set_ylabel("relative L2 change")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
