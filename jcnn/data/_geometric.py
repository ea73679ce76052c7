"""Geometric augmentations of one channels-last image, in JAX.

Each public ``make_*`` factory takes the op's hyperparameters and returns a
pure ``fn(key, image) -> image`` with ``image: (H, W, C)`` float32; the
deterministic ``*_image`` functions carry the maths and are what the tests pin.
Pixels that come from outside the image are 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# Sample coordinates this close to an integer are snapped to it, so that exact
# cases (90-degree rotations, integer shifts, scale 1) copy pixels bit for bit
# instead of blending in 1e-7 of a neighbour.
_SNAP = 1e-4


def _pair(value, op: str, arg: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"augment.{op}: {arg}={value!r} must be a positive int or a pair (h, w) of them")
    return pair


def _check_prob(p, op: str) -> float:
    if not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"augment.{op}: p={p!r} must be a probability in [0, 1]")
    return float(p)


def _nonneg(value, op: str, arg: str) -> float:
    if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"augment.{op}: {arg}={value!r} must be a non-negative number")
    return float(value)


# Shared with _photometric.py, whose augmentations check their arguments the same way.
check_prob, nonneg = _check_prob, _nonneg


def sample_bilinear(image: jax.Array, ys: jax.Array, xs: jax.Array) -> jax.Array:
    """Bilinear lookup with zeros outside the image.

    Args:
      image: (H, W, C). ys, xs: (H_out, W_out) source row / column coordinates.
    Returns:
      (H_out, W_out, C).
    """
    h, w = image.shape[:2]
    ys = jnp.where(jnp.abs(ys - jnp.round(ys)) < _SNAP, jnp.round(ys), ys)
    xs = jnp.where(jnp.abs(xs - jnp.round(xs)) < _SNAP, jnp.round(xs), xs)
    y0, x0 = jnp.floor(ys), jnp.floor(xs)
    wy, wx = (ys - y0)[..., None], (xs - x0)[..., None]
    y0, x0 = y0.astype(jnp.int32), x0.astype(jnp.int32)

    def tap(y, x):
        inside = ((y >= 0) & (y < h) & (x >= 0) & (x < w))[..., None]
        return jnp.where(inside, image[jnp.clip(y, 0, h - 1), jnp.clip(x, 0, w - 1)], 0.0)

    top = tap(y0, x0) * (1 - wx) + tap(y0, x0 + 1) * wx
    bottom = tap(y0 + 1, x0) * (1 - wx) + tap(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy).astype(image.dtype)


def affine_image(image: jax.Array, matrix: jax.Array, shift: jax.Array) -> jax.Array:
    """Inverse-maps each output pixel about the image centre: src = matrix @ (dst - c) + c - shift.

    Args:
      image: (H, W, C). matrix: (2, 2) acting on (row, col). shift: (2,) output displacement in pixels.
    Returns:
      (H, W, C), bilinear, zeros outside.
    """
    h, w = image.shape[:2]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) - cy, jnp.arange(w, dtype=jnp.float32) - cx,
                          indexing="ij")
    ys = matrix[0, 0] * yy + matrix[0, 1] * xx + cy - shift[0]
    xs = matrix[1, 0] * yy + matrix[1, 1] * xx + cx - shift[1]
    return sample_bilinear(image, ys, xs)


def rotate_image(image: jax.Array, degrees) -> jax.Array:
    """Rotates counter-clockwise (as displayed, row 0 at the top) by ``degrees`` about the centre.

    Args:
      image: (H, W, C); degrees: scalar.
    Returns:
      (H, W, C); multiples of 90 on a square image equal ``np.rot90`` exactly.
    """
    t = jnp.deg2rad(jnp.asarray(degrees, jnp.float32))
    c, s = jnp.cos(t), jnp.sin(t)
    # Inverse map of a counter-clockwise turn in (row, col) with rows pointing down.
    return affine_image(image, jnp.array([[c, s], [-s, c]]), jnp.zeros(2))


def scale_image(image: jax.Array, factor) -> jax.Array:
    """Zooms about the centre by ``factor`` (> 1 enlarges), keeping (H, W, C)."""
    inv = 1.0 / jnp.asarray(factor, jnp.float32)
    return affine_image(image, jnp.eye(2) * inv, jnp.zeros(2))


def translate_image(image: jax.Array, dy, dx) -> jax.Array:
    """Shifts content down by ``dy`` and right by ``dx`` pixels, zero fill; (H, W, C) -> (H, W, C)."""
    return affine_image(image, jnp.eye(2), jnp.stack([jnp.asarray(dy, jnp.float32), jnp.asarray(dx, jnp.float32)]))


def crop_image(image: jax.Array, top, left, *, size: tuple[int, int], pad: int = 0) -> jax.Array:
    """Zero-pads by ``pad`` on each side, then cuts ``size`` at (``top``, ``left``) of the padded image.

    Returns:
      (size[0], size[1], C).
    """
    padded = jnp.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    return jax.lax.dynamic_slice(padded, (top, left, 0), (*size, image.shape[2]))


def cutout_image(image: jax.Array, cy, cx, *, size: int) -> jax.Array:
    """Zeros the ``size`` x ``size`` square whose top-left is (cy - size // 2, cx - size // 2), clipped."""
    h, w = image.shape[:2]
    rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    y0, x0 = cy - size // 2, cx - size // 2
    hole = (rows >= y0) & (rows < y0 + size) & (cols >= x0) & (cols < x0 + size)
    return jnp.where(hole[..., None], 0.0, image).astype(image.dtype)


def make_flip_lr(p: float = 0.5):
    """Mirrors left-right with probability ``p``: (H, W, C) -> (H, W, C)."""
    p = _check_prob(p, "flip_lr")
    return lambda key, image: jnp.where(jax.random.uniform(key) < p, image[:, ::-1], image)


def make_flip_ud(p: float = 0.5):
    """Mirrors top-bottom with probability ``p``: (H, W, C) -> (H, W, C)."""
    p = _check_prob(p, "flip_ud")
    return lambda key, image: jnp.where(jax.random.uniform(key) < p, image[::-1], image)


def make_rot90():
    """Rotates a square image by a uniform random multiple of 90 degrees, exactly: (H, H, C) -> (H, H, C)."""
    def fn(key, image):
        if image.shape[0] != image.shape[1]:
            raise ValueError(f"augment.rot90: image shape {image.shape} must be square")
        k = jax.random.randint(key, (), 0, 4)
        return jax.lax.switch(k, [lambda x, k=k: jnp.rot90(x, k, axes=(0, 1)) for k in range(4)], image)
    return fn


def make_crop(size, pad: int = 0):
    """Random crop of ``size`` (int or (h, w)) after zero-padding ``pad`` pixels per side.

    (H, W, C) -> (h, w, C); the top-left corner is uniform over [0, H + 2*pad - h] x [0, W + 2*pad - w].
    """
    size = _pair(size, "crop", "size")
    if not isinstance(pad, int) or pad < 0:
        raise ValueError(f"augment.crop: pad={pad!r} must be a non-negative int")

    def fn(key, image):
        room_h, room_w = image.shape[0] + 2 * pad - size[0], image.shape[1] + 2 * pad - size[1]
        if room_h < 0 or room_w < 0:
            raise ValueError(f"augment.crop: size={size} exceeds image {image.shape[:2]} padded by {pad}")
        ky, kx = jax.random.split(key)
        top, left = jax.random.randint(ky, (), 0, room_h + 1), jax.random.randint(kx, (), 0, room_w + 1)
        return crop_image(image, top, left, size=size, pad=pad)
    return fn


def make_rotate(degrees: float):
    """Rotates by an angle uniform in [-degrees, degrees], bilinear, zero fill: (H, W, C) -> (H, W, C)."""
    degrees = _nonneg(degrees, "rotate", "degrees")
    return lambda key, image: rotate_image(image, jax.random.uniform(key, minval=-degrees, maxval=degrees))


def make_scale(low: float = 0.9, high: float = 1.1):
    """Zooms about the centre by a factor uniform in [low, high]: (H, W, C) -> (H, W, C)."""
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low <= high):
        raise ValueError(f"augment.scale: low={low!r}, high={high!r} must satisfy 0 < low <= high")
    return lambda key, image: scale_image(image, jax.random.uniform(key, minval=low, maxval=high))


def make_translate(fraction: float, fraction_x: float | None = None):
    """Shifts by whole pixels, uniform in [-f*H, f*H] x [-fx*W, fx*W] (fx defaults to f); zero fill."""
    fy = _nonneg(fraction, "translate", "fraction")
    fx = fy if fraction_x is None else _nonneg(fraction_x, "translate", "fraction_x")

    def fn(key, image):
        my, mx = math.floor(fy * image.shape[0]), math.floor(fx * image.shape[1])
        ky, kx = jax.random.split(key)
        return translate_image(image, jax.random.randint(ky, (), -my, my + 1), jax.random.randint(kx, (), -mx, mx + 1))
    return fn


def make_cutout(size: int, p: float = 1.0):
    """With probability ``p`` zeros a ``size`` x ``size`` square centred uniformly in the image (clipped).

    (H, W, C) -> (H, W, C); DeVries & Taylor (2017).
    """
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"augment.cutout: size={size!r} must be a positive int")
    p = _check_prob(p, "cutout")

    def fn(key, image):
        ky, kx, kp = jax.random.split(key, 3)
        cy, cx = jax.random.randint(ky, (), 0, image.shape[0]), jax.random.randint(kx, (), 0, image.shape[1])
        return jnp.where(jax.random.uniform(kp) < p, cutout_image(image, cy, cx, size=size), image)
    return fn
