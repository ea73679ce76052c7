"""Classical image filters (Gonzalez & Woods 2018, "Digital Image Processing", sections 3.5-3.6) as kernels.

The kernels are NumPy arrays of shape (K, K). They are applied by
cross-correlation, as deep-learning libraries do (Goodfellow et al. 2016, section 9.1); pass
``flip=True`` to :func:`filter2d` for the textbook convolution (for the
antisymmetric Sobel kernels that only changes the sign).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jcnn.ops import _args
from jcnn.ops.conv import conv


def _const(a):
    a = np.asarray(a, np.float32)
    a.setflags(write=False)
    return a


#: Horizontal gradient (responds to vertical edges): Sobel's ``G_x`` (Gonzalez & Woods 2018, section 3.6).
sobel_x = _const([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
#: Vertical gradient (responds to horizontal edges): Sobel's ``G_y`` (``G_x`` rotated 90 degrees).
sobel_y = _const([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
#: Sharpen: identity plus a negative Laplacian.
sharpen = _const([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
#: 4-neighbour Laplacian.
laplacian = _const([[0, 1, 0], [1, -4, 1], [0, 1, 0]])


def box(k: int) -> np.ndarray:
    """(k, k) mean filter, entries ``1 / k^2``."""
    (k,) = _args.as_tuple(k, 1, "k", "box")
    return _const(np.full((k, k), 1.0 / (k * k)))


def gaussian(k: int, sigma: float) -> np.ndarray:
    """(k, k) Gaussian blur kernel, ``exp(-(i^2 + j^2) / (2 sigma^2))`` normalised to sum 1."""
    (k,) = _args.as_tuple(k, 1, "k", "gaussian")
    if not sigma > 0:
        raise ValueError(f"gaussian: sigma={sigma!r} must be positive")
    r = np.arange(k) - (k - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return _const(g / g.sum())


def _as_batch(image, fn):
    """(H, W) -> (1, H, W, 1); (N, H, W, C) passes through."""
    if getattr(image, "ndim", None) == 2:
        return jnp.asarray(image)[None, :, :, None], True
    _args.spatial_rank(image, fn, "image", ranks=(2,))
    return jnp.asarray(image), False


def filter2d(image, kernel, *, padding="valid", flip=False):
    """Apply one (K, K) kernel to every channel separately (a depthwise :func:`conv`).

    Args:
      image: (H, W) or (N, H, W, C), floating. kernel: (K, K).
      padding: as :func:`jcnn.ops.conv` ('valid', full windows only, is the textbook version).
    Returns:
      (H_out, W_out) or (N, H_out, W_out, C).
    """
    x, squeeze = _as_batch(image, "filter2d")
    kernel = jnp.asarray(kernel, x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32)
    if kernel.ndim != 2:
        raise ValueError(f"filter2d: kernel must have shape (K, K), got {tuple(kernel.shape)}")
    c = x.shape[-1]
    w = jnp.broadcast_to(kernel[:, :, None, None], (*kernel.shape, 1, c))  # (K, K, 1, C): depthwise
    y = conv(x, w, padding=padding, groups=c, flip=flip)
    return y[0, :, :, 0] if squeeze else y


def gradient_magnitude(image, *, padding="valid"):
    """``sqrt(I_x^2 + I_y^2)`` with ``I_x = image * G_x`` and ``I_y = image * G_y`` (Sobel).

    Args:
      image: (H, W) or (N, H, W, C) grayscale or per-channel, floating.
    Returns:
      (H - 2, W - 2) (or batched) for 'valid' padding.
    """
    ix = filter2d(image, sobel_x, padding=padding)
    iy = filter2d(image, sobel_y, padding=padding)
    return jnp.sqrt(ix**2 + iy**2)
