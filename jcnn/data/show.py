"""A grid of images from a batch, for notebooks and reports."""

from __future__ import annotations

import math

import numpy as np


def show(batch, *, ncols: int = 8, labels: bool = True, max_images: int = 64, class_names=None):
    """Draws a batch as a grid of images.

    Args:
      batch: a pipeline batch ``{"image": (N, H, W, C), "label": (N,)}`` or an image array (N, H, W, C):
        uint8 pixels, or floats in [0, 1]; float images outside [0, 1] (normalised) are rescaled per image.
      ncols: images per row.
      labels: write each label (or ``class_names[label]``) above its image.
      max_images: draw at most this many.
      class_names: optional sequence of label names.
    Returns:
      A ``matplotlib.figure.Figure`` (Agg canvas; nothing is shown or saved).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"show: ncols={ncols!r} must be a positive int")
    images = np.asarray(batch["image"] if isinstance(batch, dict) else batch)
    images = images.astype(np.float32) * np.float32(1 / 255) if images.dtype == np.uint8 else images.astype(np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"show: images shape {images.shape} must be (N, H, W, C) with C = 1 or 3")
    names = np.asarray(batch["label"]) if isinstance(batch, dict) and "label" in batch and labels else None
    images = images[:max_images]
    n = len(images)
    rows = max(1, math.ceil(n / ncols))
    cols = min(ncols, max(n, 1))
    fig = Figure(figsize=(1.2 * cols, 1.35 * rows))
    FigureCanvasAgg(fig)
    for i, image in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        lo, hi = image.min(), image.max()
        if lo < 0 or hi > 1:  # normalised: stretch to [0, 1] for display only
            image = (image - lo) / max(hi - lo, 1e-12)
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_axis_off()
        if names is not None:
            label = int(names[i])
            ax.set_title(str(class_names[label]) if class_names is not None else str(label), fontsize=8)
    fig.tight_layout()
    return fig
