"""Which pixels a prediction depends on: input-gradient saliency and Grad-CAM.

- :func:`saliency` (Simonyan, Vedaldi & Zisserman 2014): ``|d score_label / d x|``,
  maximised over input channels.
- :func:`grad_cam` (Selvaraju et al. 2017): a layer's channels weighted by the
  spatial mean of the score's gradient with respect to them, summed, rectified
  and resized to the input.

``score`` is the model's output for the class (the logit, before any softmax).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.analysis import features as F


def _labels(label, n, num_classes, fn):
    lab = np.broadcast_to(np.asarray(label), (n,)) if np.ndim(label) == 0 else np.asarray(label)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"{fn}: label must be an int or N={n} ints, got {label!r}")
    if lab.min() < 0 or lab.max() >= num_classes:
        raise ValueError(f"{fn}: label {label!r} out of range: the model has {num_classes} outputs "
                         f"(0..{num_classes - 1})")
    return jnp.asarray(lab)


def _scores(model, x, fn):
    out = jax.eval_shape(lambda v: F.layer_output(model, v, None), jax.ShapeDtypeStruct(x.shape, x.dtype))
    if len(out.shape) != 2:
        raise ValueError(f"{fn}: the model's output must be (N, num_classes) scores, got {out.shape}")
    return out.shape[-1]


def saliency(model, x, label, *, reduce: str = "max") -> np.ndarray:
    """Input-gradient saliency map.

    Args:
      model: an ``nnx.Module`` mapping (N, H, W, C) to (N, num_classes) scores.
      x: (N, H, W, C). label: an int or (N,) ints, the class whose score is differentiated.
      reduce: ``"max"`` of ``|grad|`` over channels (Simonyan et al.), or ``"none"`` for the signed gradient.
    Returns:
      (N, H, W) for ``"max"``, (N, H, W, C) for ``"none"``.
    """
    fn = "saliency"
    x = F.check_input(model, x, fn)
    if reduce not in ("max", "none"):
        raise ValueError(f"{fn}: reduce={reduce!r} must be 'max' or 'none'")
    lab = _labels(label, x.shape[0], _scores(model, x, fn), fn)

    def score(v):
        out = F.layer_output(model, v, None)
        return jnp.take_along_axis(out, lab[:, None], axis=1).sum()

    g = jax.grad(score)(x)
    return np.asarray(jnp.abs(g).max(axis=-1) if reduce == "max" else g)


def grad_cam(model, x, label, layer: str, *, normalize: bool = True) -> np.ndarray:
    """Grad-CAM heat map of ``label`` at ``layer``, resized (bilinear) to the input size.

    ``cam = relu(sum_k alpha_k A_k)`` with ``A`` the layer's (N, h, w, K) output and
    ``alpha_k`` the spatial mean of ``d score / d A_k``.

    Args:
      model: an ``nnx.Module`` mapping (N, H, W, C) to (N, num_classes).
      x: (N, H, W, C). label: an int or (N,) ints. layer: a path of :func:`jcnn.nn.capture.layers`
        with a spatial (N, h, w, K) output.
      normalize: divide each map by its maximum (maps that are all zero stay zero).
    Returns:
      (N, H, W), nonnegative (in [0, 1] when ``normalize``).
    """
    fn = "grad_cam"
    F.check_layer(model, layer, fn)
    x = F.check_input(model, x, fn)
    lab = _labels(label, x.shape[0], _scores(model, x, fn), fn)
    a = F.layer_output(model, x, layer)
    if a.ndim != 4:
        raise ValueError(f"{fn}: layer {layer!r} output {tuple(a.shape)} is not spatial (N, h, w, K)")

    def score(delta):
        out = F.layer_output(model, x, layer, delta=delta)
        return jnp.take_along_axis(out, lab[:, None], axis=1).sum()

    g = jax.grad(score)(jnp.zeros_like(a))
    alpha = g.mean(axis=(1, 2), keepdims=True)
    cam = jax.nn.relu((alpha * a).sum(axis=-1))  # (N, h, w)
    cam = jax.image.resize(cam, (cam.shape[0], *x.shape[1:3]), "bilinear")
    cam = jnp.maximum(cam, 0)
    if normalize:
        m = cam.max(axis=(1, 2), keepdims=True)
        cam = jnp.where(m > 0, cam / jnp.where(m > 0, m, 1), 0)
    return np.asarray(cam)


def plot_saliency(x, maps, *, titles=("input", "map"), sample: int = 0, alpha: float = 0.5):
    """The input and a map (saliency or Grad-CAM) overlaid on it. Returns a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure

    img = np.asarray(x, np.float32)[sample]
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-12)
    img = img if img.shape[-1] == 3 else img.mean(-1)
    cmap = None if img.ndim == 3 else "gray"
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot(1, 2, 1)
    ax.imshow(img, cmap=cmap), ax.set_title(titles[0], fontsize=9), ax.set_xticks([]), ax.set_yticks([])
    ax = fig.add_subplot(1, 2, 2)
    ax.imshow(img, cmap=cmap)
    ax.imshow(np.asarray(maps)[sample], cmap="jet", alpha=alpha)
    ax.set_title(titles[1], fontsize=9), ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
