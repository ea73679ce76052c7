"""What a registered model expects as input, from its metadata: ``preprocess(name)``.

Two halves, as torchvision's reference evaluation and timm's ``resolve_data_config``
split them:

- on the host, per image (:func:`eval_image`): resize the shorter side to the
  model's ``eval_resize`` (bilinear, Pillow) and take the centre crop of its
  input size; uint8 (H, W, C) in, uint8 (h, w, C) out;
- on the device, per batch (:class:`Preprocess`): uint8 (N, H, W, C) pixels to
  ``(x / 255 - mean) / std`` through :func:`jcnn.ops.standardize_images`, the
  same op the training step calls, so a network sees the same numbers in
  training, evaluation and analysis.

``Preprocessed(model, name)`` wraps a network so that it takes pixels: attacks
with ``eps`` in pixel units and saliency in pixel space then need nothing else.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import ops
from jcnn.models import registry


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """Pixels -> network input for one registered model (see :func:`preprocess`).

    Call: ``images`` (N, H, W, C) uint8 in [0, 255] or floats in [0, 1] -> (N, H, W, C) ``dtype``.
    """

    name: str
    mean: tuple
    std: tuple
    input_shape: tuple
    eval_resize: int | None
    dtype: object = jnp.float32

    def __call__(self, images):
        return ops.standardize_images(images, mean=self.mean, std=self.std, dtype=self.dtype)

    def image(self, image) -> np.ndarray:
        """One image (path, PIL image or (H, W, C) uint8 array) resized and cropped: see :func:`eval_image`."""
        return eval_image(self.name, image)


def preprocess(name: str, *, dtype=jnp.float32) -> Preprocess:
    """The input preprocessing of registered model ``name`` (its metadata's ``mean``, ``std``, sizes).

    ``pre = preprocess("resnet50"); logits = model(pre(np.stack([pre.image(p) for p in paths])))``.

    Raises:
      ValueError: unknown model, or one without ``mean``/``std`` metadata (a GAN generator).
    """
    meta = registry.info(name)
    if meta.mean is None or meta.std is None:
        raise ValueError(f"preprocess: model {name!r} has no mean/std metadata (its input is not an image)")
    return Preprocess(name, meta.mean, meta.std, meta.input_shape, meta.eval_resize, dtype)


def _as_pil(image, fn):
    from PIL import Image  # Pillow: a runtime dependency, imported only where images are decoded

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        try:
            with Image.open(image) as im:
                return im.copy()  # decoded now: the file closes with the block
        except OSError as e:
            raise ValueError(f"{fn}: cannot read image {image!r} ({e})") from e
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3)):
        raise ValueError(f"{fn}: image must be a path, a PIL image or an (H, W, C) uint8 array with C in "
                         f"(1, 3), got {a.dtype} array of shape {a.shape}")
    return Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a)


def eval_image(name: str, image) -> np.ndarray:
    """Resize and centre-crop one image for evaluation by registered model ``name``.

    The shorter side goes to ``info(name).eval_resize`` (the longer one scaled
    alike, truncated; bilinear with Pillow's antialiasing), then the centre
    ``input_shape[:2]`` crop is taken (offsets rounded), as torchvision's
    ``Resize(256), CenterCrop(224)``. Models with ``eval_resize=None`` take the
    image as it is when it has the input size, else it is resized to it.

    Args:
      name: a registered model. image: a path, a PIL image, or an (H, W, C) / (H, W) uint8 array.
    Returns:
      (h, w, C) uint8 with (h, w, C) the model's ``input_shape``; grey images are repeated to 3
      channels for RGB models, colour images averaged for grey ones.
    """
    fn = "eval_image"
    meta = registry.info(name)
    h, w, c = meta.input_shape
    im = _as_pil(image, fn)
    im = im.convert("RGB" if c == 3 else "L")
    from PIL import Image

    if meta.eval_resize is not None:
        s = meta.eval_resize
        iw, ih = im.size
        size = (s, int(s * ih / iw)) if iw <= ih else (int(s * iw / ih), s)  # (W, H)
        im = im.resize(size, Image.Resampling.BILINEAR)
    elif im.size != (w, h):
        im = im.resize((w, h), Image.Resampling.BILINEAR)
    iw, ih = im.size
    if iw < w or ih < h:
        raise ValueError(f"{fn}: image of {ih}x{iw} after resizing is smaller than {name}'s input {h}x{w}")
    top, left = int(round((ih - h) / 2.0)), int(round((iw - w) / 2.0))
    out = np.asarray(im.crop((left, top, left + w, top + h)), np.uint8)
    return out if out.ndim == 3 else out[..., None]  # (h, w, C)


class Preprocessed(nnx.Module):
    """A network that takes pixels: ``model(preprocess(name)(pixels))``.

    Attribute ``net`` is the wrapped model, so its layers are ``"net.<path>"`` for
    :mod:`jcnn.analysis`. Call: (N, H, W, C) uint8 or [0, 1] floats -> the model's output.
    """

    def __init__(self, model, name: str):
        pre = preprocess(name)
        self.net = model
        self.mean, self.std = pre.mean, pre.std

    def __call__(self, pixels):
        return self.net(ops.standardize_images(pixels, mean=self.mean, std=self.std))
