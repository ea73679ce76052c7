"""Classical filtering (Gonzalez & Woods 2018, sections 3.5-3.6) on a real photograph, with :mod:`jcnn.ops`.

The photograph is scikit-image's ``camera`` (512 x 512 grayscale, shipped in
the wheel, so it works offline). Every filter is applied by
:func:`jcnn.ops.filter2d` (a depthwise :func:`jcnn.ops.conv`) with 'valid'
padding, as a plain two-loop convolution does, so a K x K kernel trims
``K - 1`` rows and columns.
"""

from __future__ import annotations

import numpy as np

from jcnn import ops

#: Gaussian blur used by :func:`demo`: 5 x 5, sigma 1.
BLUR_SIZE, BLUR_SIGMA = 5, 1.0


def camera() -> np.ndarray:
    """``skimage.data.camera()`` as float32 in [0, 1], shape (512, 512)."""
    from skimage import data

    return np.asarray(data.camera(), np.float32) / 255.0


def _gray(image):
    img = np.asarray(image)
    if np.issubdtype(img.dtype, np.integer):
        img = img.astype(np.float32) / np.iinfo(img.dtype).max
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = img[..., :3].astype(np.float32) @ np.array([0.2125, 0.7154, 0.0721], np.float32)  # ITU-R 709 luma
    if img.ndim != 2:
        raise ValueError(f"demo: image must have shape (H, W) or (H, W, 3), got {np.shape(image)}")
    if img.shape[0] < BLUR_SIZE or img.shape[1] < BLUR_SIZE:
        raise ValueError(f"demo: image {img.shape} must be at least {BLUR_SIZE} x {BLUR_SIZE}")
    return img.astype(np.float32)


def demo(image=None) -> dict[str, np.ndarray]:
    """Sobel x/y, gradient magnitude, Gaussian blur and sharpen of a grayscale image.

    Args:
      image: (H, W) or (H, W, 3) (converted to gray; integers scaled to [0, 1]);
        default :func:`camera`.
    Returns:
      ``{"image": (H, W), "sobel_x": (H-2, W-2), "sobel_y": (H-2, W-2),
      "gradient_magnitude": (H-2, W-2), "blur": (H-4, W-4), "sharpen": (H-2, W-2)}``, float32.
      ``sobel_x`` responds to vertical edges (Sobel's ``G_x``), ``sobel_y`` to horizontal ones.
    """
    img = camera() if image is None else _gray(image)
    return {
        "image": img,
        "sobel_x": np.asarray(ops.filter2d(img, ops.sobel_x)),
        "sobel_y": np.asarray(ops.filter2d(img, ops.sobel_y)),
        "gradient_magnitude": np.asarray(ops.gradient_magnitude(img)),
        "blur": np.asarray(ops.filter2d(img, ops.gaussian(BLUR_SIZE, BLUR_SIGMA))),
        "sharpen": np.asarray(ops.filter2d(img, ops.sharpen)),
    }


def plot_classical(results: dict[str, np.ndarray]):
    """A 2 x 3 grid of :func:`demo`'s images. Returns a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7))
    for i, (name, a) in enumerate(results.items()):
        ax = fig.add_subplot(2, (len(results) + 1) // 2, i + 1)
        signed = name in ("sobel_x", "sobel_y")
        lim = float(np.abs(a).max()) or 1.0
        ax.imshow(a, cmap="RdBu_r" if signed else "gray", vmin=-lim if signed else None, vmax=lim if signed else None)
        ax.set_title(name, fontsize=9), ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
