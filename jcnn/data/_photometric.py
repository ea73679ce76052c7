"""Photometric augmentations of one channels-last image in [0, 1], in JAX.

Each ``make_*`` factory returns a pure ``fn(key, image) -> image`` on
``(H, W, C)`` float32; the deterministic ``adjust_*`` functions carry the maths.
Colour ops clip to [0, 1], so put ``normalize`` last. Saturation and hue act on
RGB (C = 3) and leave grayscale (C = 1) images unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jcnn.data._geometric import check_prob as _check_prob, nonneg as _nonneg

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL and tf.image use for grayscale
# PIL's ImageFilter.SMOOTH kernel, which ImageEnhance.Sharpness blends against.
SMOOTH = ((1.0, 1.0, 1.0), (1.0, 5.0, 1.0), (1.0, 1.0, 1.0))


def _factor(key, strength):
    """A factor uniform in [max(0, 1 - strength), 1 + strength]."""
    return jax.random.uniform(key, minval=max(0.0, 1.0 - strength), maxval=1.0 + strength)


def _check_channels(image, op):
    if image.shape[-1] not in (1, 3):
        raise ValueError(f"augment.{op}: image shape {image.shape} must have 1 or 3 channels")
    return image.shape[-1] == 3


def adjust_brightness(image: jax.Array, delta) -> jax.Array:
    """clip(image + delta, 0, 1); (H, W, C) -> (H, W, C)."""
    return jnp.clip(image + delta, 0.0, 1.0)


def adjust_contrast(image: jax.Array, factor) -> jax.Array:
    """clip((image - m) * factor + m, 0, 1) with m the per-channel mean over H, W (as tf.image)."""
    mean = image.mean(axis=(0, 1), keepdims=True)
    return jnp.clip((image - mean) * factor + mean, 0.0, 1.0)


def grayscale(image: jax.Array) -> jax.Array:
    """(H, W, 3) -> (H, W, 1) luma with BT.601 weights."""
    return image @ jnp.asarray(LUMA, image.dtype)[:, None]


def adjust_saturation(image: jax.Array, factor) -> jax.Array:
    """clip(g + factor * (image - g), 0, 1), g the luma; C = 1 is returned unchanged."""
    if not _check_channels(image, "saturation"):
        return image
    gray = grayscale(image)
    return jnp.clip(gray + factor * (image - gray), 0.0, 1.0)


def adjust_hue(image: jax.Array, delta) -> jax.Array:
    """Turns the hue by ``delta`` of a full circle (rotation of the chroma plane in YIQ), clipped.

    (H, W, 3) -> (H, W, 3); C = 1 is returned unchanged. Keeps luma exactly before clipping.
    """
    if not _check_channels(image, "hue"):
        return image
    to_yiq = jnp.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
    t = 2 * jnp.pi * jnp.asarray(delta, jnp.float32)
    c, s = jnp.cos(t), jnp.sin(t)
    turn = jnp.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    m = jnp.linalg.inv(to_yiq) @ turn @ to_yiq  # (3, 3) acting on RGB column vectors
    return jnp.clip(image @ m.T, 0.0, 1.0)


def smooth(image: jax.Array) -> jax.Array:
    """PIL's SMOOTH filter per channel; border pixels are kept as they are (as PIL does). (H, W, C)."""
    image = jnp.asarray(image)
    h, w = image.shape[:2]
    # A 3x3 depthwise filter as a sum of 9 shifted slices: on XLA-CPU this is several times faster than
    # a vmapped grouped lax.conv_general_dilated (see shared/NOTES.md on small convolutions).
    # TODO(ops): switch to jcnn.ops.filter2d / conv (depthwise) if it matches this speed.
    inner = sum(SMOOTH[i][j] / 13.0 * image[i:i + h - 2, j:j + w - 2] for i in range(3) for j in range(3))
    return image.at[1:-1, 1:-1].set(inner.astype(image.dtype))  # (H - 2, W - 2, C) interior


def adjust_sharpness(image: jax.Array, factor) -> jax.Array:
    """clip(b + factor * (image - b), 0, 1), b = ``smooth(image)``: 0 blurs, 1 is identity, 2 sharpens."""
    blurred = smooth(image)
    return jnp.clip(blurred + factor * (image - blurred), 0.0, 1.0)


def normalize_image(image: jax.Array, mean, std) -> jax.Array:
    """(image - mean) / std with scalars or one value per channel; (H, W, C) -> (H, W, C)."""
    return (image - jnp.asarray(mean, image.dtype)) / jnp.asarray(std, image.dtype)


def make_brightness(delta: float):
    """Adds a value uniform in [-delta, delta], clipped to [0, 1]."""
    delta = _nonneg(delta, "brightness", "delta")
    return lambda key, image: adjust_brightness(image, jax.random.uniform(key, minval=-delta, maxval=delta))


def make_contrast(strength: float):
    """Scales contrast by a factor uniform in [max(0, 1 - strength), 1 + strength]."""
    strength = _nonneg(strength, "contrast", "strength")
    return lambda key, image: adjust_contrast(image, _factor(key, strength))


def make_saturation(strength: float):
    """Scales saturation by a factor uniform in [max(0, 1 - strength), 1 + strength] (RGB only)."""
    strength = _nonneg(strength, "saturation", "strength")
    return lambda key, image: adjust_saturation(image, _factor(key, strength))


def make_hue(delta: float):
    """Turns the hue by a fraction of a circle uniform in [-delta, delta], 0 <= delta <= 0.5 (RGB only)."""
    delta = _nonneg(delta, "hue", "delta")
    if delta > 0.5:
        raise ValueError(f"augment.hue: delta={delta!r} must be at most 0.5 (half a turn)")
    return lambda key, image: adjust_hue(image, jax.random.uniform(key, minval=-delta, maxval=delta))


def make_sharpness(strength: float):
    """Blends with the smoothed image by a factor uniform in [max(0, 1 - strength), 1 + strength]."""
    strength = _nonneg(strength, "sharpness", "strength")
    return lambda key, image: adjust_sharpness(image, _factor(key, strength))


def make_invert(p: float = 0.5):
    """Negative image ``1 - image`` with probability ``p``."""
    p = _check_prob(p, "invert")
    return lambda key, image: jnp.where(jax.random.uniform(key) < p, 1.0 - image, image)


def make_noise(std: float):
    """Adds Gaussian noise of standard deviation ``std``, clipped to [0, 1]."""
    std = _nonneg(std, "noise", "std")
    return lambda key, image: jnp.clip(image + std * jax.random.normal(key, image.shape, image.dtype), 0.0, 1.0)


def make_normalize(mean, std):
    """Deterministic ``(image - mean) / std``; scalars or one value per channel (e.g. MNIST 0.1307, 0.3081)."""
    for arg, value in (("mean", mean), ("std", std)):
        values = value if isinstance(value, (tuple, list)) else (value,)
        if not values or not all(isinstance(v, (int, float)) for v in values):
            raise ValueError(f"augment.normalize: {arg}={value!r} must be a number or a tuple of numbers")
    stds = std if isinstance(std, (tuple, list)) else (std,)
    if any(s <= 0 for s in stds):
        raise ValueError(f"augment.normalize: std={std!r} must be positive")
    return lambda key, image: normalize_image(image, mean, std)
