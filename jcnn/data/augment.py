"""Data augmentation: per-example pure JAX ops composed from a spec string.

A spec is big_vision-like: ops joined by ``|``, each ``name`` or
``name(args)`` with literal arguments, e.g.::

    "flip_lr|crop(28, pad=2)|rotate(15)|brightness(0.2)|normalize(0.1307, 0.3081)"

or a list of such strings (and/or ready ``fn(key, image)`` callables).
``build(spec)`` returns ``fn(key, image) -> image`` on one ``(H, W, C)`` float32
image; ``apply_batch`` maps it over a batch with one key per example,
``fold_in(fold_in(key, step), index)``, so a resumed run draws the same
augmentations. Everything is jit-able; ``batch_augmenter`` returns the jitted
batched function the training loop (or the pipeline) calls.

Ops (``OPS``): flip_lr, flip_ud, rot90, crop, rotate, scale, translate, cutout,
brightness, contrast, saturation, hue, sharpness, invert, noise, normalize.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.data import _geometric as geo
from jcnn.data import _photometric as photo
from jcnn.data._geometric import (affine_image, crop_image, cutout_image, rotate_image, sample_bilinear,
                                  scale_image, translate_image)
from jcnn.data._photometric import (adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation,
                                    adjust_sharpness, grayscale, normalize_image, smooth)

Fn = Callable[[jax.Array, jax.Array], jax.Array]

# name -> factory(*hyperparameters) -> fn(key, image). The factories validate their arguments.
OPS: dict[str, Callable[..., Fn]] = {
    "flip_lr": geo.make_flip_lr,
    "flip_ud": geo.make_flip_ud,
    "rot90": geo.make_rot90,
    "crop": geo.make_crop,
    "rotate": geo.make_rotate,
    "scale": geo.make_scale,
    "translate": geo.make_translate,
    "cutout": geo.make_cutout,
    "brightness": photo.make_brightness,
    "contrast": photo.make_contrast,
    "saturation": photo.make_saturation,
    "hue": photo.make_hue,
    "sharpness": photo.make_sharpness,
    "invert": photo.make_invert,
    "noise": photo.make_noise,
    "normalize": photo.make_normalize,
}


def _signature(name: str) -> str:
    return f"{name}{inspect.signature(OPS[name])}"


def parse_op(text: str) -> tuple[str, tuple, dict]:
    """Parses one op, ``"crop(28, pad=2)"`` -> ``("crop", (28,), {"pad": 2})``.

    Raises:
      ValueError: not a name or call, arguments that are not literals, or an unknown op (lists the known ones).
    """
    text = text.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"augment: cannot parse op {text!r} ({e.msg}); expected name or name(args)") from None
    if isinstance(node, ast.Name):
        name, args, kwargs = node.id, (), {}
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise ValueError(f"augment: op {text!r} arguments must be literals (numbers, tuples, strings)") from None
        if None in kwargs:
            raise ValueError(f"augment: op {text!r} cannot use **kwargs")
    else:
        raise ValueError(f"augment: cannot parse op {text!r}; expected name or name(args)")
    if name not in OPS:
        raise ValueError(f"augment: unknown op {name!r} in {text!r}; known ops: {', '.join(sorted(OPS))}")
    return name, args, kwargs


def make_op(name: str, *args, **kwargs) -> Fn:
    """The ``fn(key, image)`` of op ``name`` with hyperparameters ``args``/``kwargs``.

    Raises:
      ValueError: unknown op. TypeError: arguments that do not fit the op's signature (shown in the message).
    """
    if name not in OPS:
        raise ValueError(f"augment: unknown op {name!r}; known ops: {', '.join(sorted(OPS))}")
    try:
        inspect.signature(OPS[name]).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"augment: op {name!r} got bad arguments {args}, {kwargs} ({e}); "
                        f"expected {_signature(name)}") from None
    return OPS[name](*args, **kwargs)


def _split_spec(spec) -> list:
    if isinstance(spec, str):
        return [part for part in spec.split("|") if part.strip()]
    if isinstance(spec, Sequence):
        parts = []
        for item in spec:
            if isinstance(item, str):
                parts.extend(_split_spec(item))
            elif callable(item):
                parts.append(item)
            else:
                raise TypeError(f"augment.build: spec item {item!r} must be an op string or a fn(key, image)")
        return parts
    raise TypeError(f"augment.build: spec={spec!r} must be a string 'op|op(...)' or a list of ops")


def build(spec) -> Fn:
    """Composes a spec into one per-example function.

    Args:
      spec: ``"op|op(args)|..."``, a list of such strings / ``fn(key, image)`` callables, or
        ``None`` / ``""`` (identity).
    Returns:
      ``fn(key, image) -> image``: key a PRNG key, image (H, W, C) float32; each op gets its own
      subkey ``jax.random.split(key, n_ops)[i]``. ``fn.spec`` holds the parsed op names.
    Raises:
      ValueError / TypeError: unknown ops or bad arguments, with the op named.
    """
    parts = [] if spec is None else _split_spec(spec)
    fns, names = [], []
    for part in parts:
        if callable(part):
            fns.append(part)
            names.append(getattr(part, "__name__", "fn"))
        else:
            name, args, kwargs = parse_op(part)
            fns.append(make_op(name, *args, **kwargs))
            names.append(part.strip())

    def augment(key: jax.Array, image: jax.Array) -> jax.Array:
        if not fns:
            return image
        for fn, subkey in zip(fns, jax.random.split(key, len(fns))):
            image = fn(subkey, image)
        return image

    augment.spec = tuple(names)
    return augment


def example_keys(key: jax.Array, indices, *, step=0) -> jax.Array:
    """Per-example keys ``fold_in(fold_in(key, step), index)``: indices (N,) -> keys (N,)."""
    indices = jnp.asarray(np.asarray(indices) if not isinstance(indices, jax.Array) else indices).astype(jnp.uint32)
    step_key = jax.random.fold_in(key, jnp.asarray(step).astype(jnp.uint32))
    return jax.vmap(lambda i: jax.random.fold_in(step_key, i))(indices)


def apply_batch(fn: Fn, key: jax.Array, images: jax.Array, indices, *, step=0) -> jax.Array:
    """Applies a per-example augmentation to a batch.

    Args:
      fn: ``fn(key, image) -> image`` from ``build``.
      key: base PRNG key (e.g. ``jax.random.key(seed)``).
      images: (N, H, W, C) float32.
      indices: (N,) global example indices (the batch's ``"index"``).
      step: global step or batch position in the stream (int or traced scalar).
    Returns:
      (N, H', W', C) -- H', W' differ from H, W only for ``crop`` to a different size.
    """
    images = jnp.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"apply_batch: images shape {images.shape} must be (N, H, W, C)")
    if np.shape(indices) != images.shape[:1]:
        raise ValueError(f"apply_batch: indices shape {np.shape(indices)} must be ({images.shape[0]},)")
    return jax.vmap(fn)(example_keys(key, indices, step=step), images)


def batch_augmenter(spec, seed: int) -> Callable[[int, jax.Array, jax.Array], jax.Array]:
    """A jitted ``f(step, images (N, H, W, C), indices (N,)) -> images`` with base key ``jax.random.key(seed)``.

    Recompiles only when the batch shape changes; ``step`` is traced, so every step reuses one program.
    """
    fn, key = build(spec), jax.random.key(seed)
    jitted = jax.jit(lambda step, images, indices: apply_batch(fn, key, images, indices, step=step))

    def augment_batch(step, images, indices):
        return jitted(jnp.asarray(step, jnp.uint32), images, jnp.asarray(np.asarray(indices).astype(np.uint32)))

    augment_batch.spec = fn.spec
    return augment_batch


__all__ = [
    "OPS", "adjust_brightness", "adjust_contrast", "adjust_hue", "adjust_saturation", "adjust_sharpness",
    "affine_image", "apply_batch", "batch_augmenter", "build", "crop_image", "cutout_image", "example_keys",
    "grayscale", "make_op", "normalize_image", "parse_op", "rotate_image", "sample_bilinear", "scale_image",
    "smooth", "translate_image",
]
