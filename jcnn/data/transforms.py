"""Host-side decode + crop + resize of one image to uint8, run in grain's reader threads or worker processes.

NumPy and Pillow only (no JAX): these run once per example in worker processes.

* ``RandomResizedCrop`` (training): the Inception crop of Szegedy et al. (2015,
  "Going deeper with convolutions", section 6) as torchvision and the Flax
  ImageNet example implement it -- an area fraction drawn from ``scale`` and a
  log-uniform aspect ratio from ``ratio``, 10 tries, then a centre crop of the
  whole image clipped to ``ratio`` -- resized to ``size`` x ``size``, flipped
  left-right with probability 1/2.
* ``CenterCrop`` (evaluation): resize the shorter side to ``round(size /
  crop_fraction)`` (256 for 224 at 0.875) and take the central ``size`` square.

Randomness is a pure function of (seed, epoch, example index):
``np.random.default_rng([seed, epoch, index])``, so a batch's pixels do not
depend on worker count, thread timing or resumption.

Decoder and resize: Pillow (already a dependency; libjpeg-turbo inside). Its JPEG
``draft`` mode decodes at 1/2, 1/4 or 1/8 scale via the DCT, chosen so the crop
keeps at least ``size`` pixels across (never coarser than a full decode would
give), and ``Image.resize(box=...)`` crops and resizes in one antialiased pass.
Measured (``experiments/benchmarks/input.py``, results in
``experiments/benchmarks/results/input_imagenet_*.md``): on ~500x375 JPEGs at 224
the draft rarely applies (a 2x reduction needs a crop of >= 448 px), so the
per-core rate is that of a full decode; it pays off for large photos and small
crops (the 64-px smoke runs decode at 1/4-1/8). OpenCV and simplejpeg were not
installed here and are not measured.
"""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np

_JPEG_SCALES = (1, 2, 4, 8)


def example_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one example's random choices in one epoch."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])


def crop_box(height: int, width: int, rng: np.random.Generator, *, scale=(0.08, 1.0),
             ratio=(3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """Inception-style random crop of an H x W image: ``(top, left, h, w)``.

    Area fraction ~ U(scale), aspect w/h ~ exp(U(log ratio)); the first of 10 tries
    that fits inside the image wins, at a uniform position. Otherwise the whole image,
    clipped to the nearest aspect in ``ratio``, centred.
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def center_box(height: int, width: int, *, size: int, crop_fraction: float) -> tuple[float, float, float, float]:
    """``(top, left, h, w)`` in the original image of "resize shorter side to S, centre crop size", S = size/crop_fraction.

    The resized size and crop offsets round as torchvision's ``Resize(S)`` + ``CenterCrop(size)`` do.
    """
    short = int(round(size / crop_fraction))
    if height <= width:
        rh, rw = short, int(short * width / height)
    else:
        rh, rw = int(short * height / width), short
    top, left = int(round((rh - size) / 2.0)), int(round((rw - size) / 2.0))
    sy, sx = height / rh, width / rw
    return top * sy, left * sx, size * sy, size * sx


def _open(item):
    from PIL import Image

    if isinstance(item, np.ndarray):
        return Image.fromarray(item[..., 0] if item.ndim == 3 and item.shape[-1] == 1 else item)
    return Image.open(io.BytesIO(item))


def _draft(im, box, size: int) -> float:
    """Asks a JPEG for the smallest DCT-scaled decode that keeps >= size pixels across the crop; returns the scale."""
    if im.format != "JPEG":
        return 1.0
    width, height = im.size
    _, _, h, w = box
    want = (max(1, math.ceil(width * size / w)), max(1, math.ceil(height * size / h)))
    im.draft(im.mode, want)
    for s in _JPEG_SCALES:  # Pillow reports the scaled size as ceil(original / s)
        if im.size == (-(-width // s), -(-height // s)):
            return float(s)
    return width / im.size[0]


def resized_crop(item, box, *, size: int, channels: int, flip: bool = False) -> np.ndarray:
    """Decodes ``item`` (encoded bytes or an (H, W, C) uint8 array), crops ``box`` = (top, left, h, w), resizes.

    Returns:
      (size, size, channels) uint8; bilinear (antialiased when shrinking), mirrored if ``flip``.
    """
    with _open(item) as im:
        return _crop_resize(im, box, size=size, channels=channels, flip=flip)


def _crop_resize(im, box, *, size: int, channels: int, flip: bool) -> np.ndarray:
    from PIL import Image

    mode = "RGB" if channels == 3 else "L"
    s = _draft(im, box, size)
    if im.mode not in ("L", "RGB"):  # CMYK, palette, 16-bit, alpha: convert before filtering
        im = im.convert(mode)
    top, left, h, w = box
    sw, sh = im.size
    region = (max(0.0, left / s), max(0.0, top / s), min(float(sw), (left + w) / s), min(float(sh), (top + h) / s))
    out = im.resize((size, size), Image.Resampling.BILINEAR, box=region)
    if flip:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if out.mode != mode:
        out = out.convert(mode)
    array = np.asarray(out, np.uint8)
    return array[..., None] if array.ndim == 2 else array


def image_size(item) -> tuple[int, int]:
    """(H, W) of encoded bytes (header only) or of an array."""
    if isinstance(item, np.ndarray):
        return int(item.shape[0]), int(item.shape[1])
    with _open(item) as im:
        return im.size[1], im.size[0]


def _check_size(fn, size):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{fn}: size={size!r} must be a positive int (the square output side)")


def _check_range(fn, arg, value, *, upper=None):
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
          and 0 < value[0] <= value[1] and (upper is None or value[1] <= upper))
    if not ok:
        bound = f" <= {upper}" if upper is not None else ""
        raise ValueError(f"{fn}: {arg}={value!r} must be a pair (lo, hi) with 0 < lo <= hi{bound}")


@dataclasses.dataclass(frozen=True)
class RandomResizedCrop:
    """Training transform: Inception random crop to ``size`` x ``size`` + random horizontal flip.

    Call: ``t(item, *, channels, seed, epoch, index) -> (size, size, channels) uint8``.
    """

    size: int
    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3 / 4, 4 / 3)
    flip: bool = True

    def __post_init__(self):
        _check_size("RandomResizedCrop", self.size)
        _check_range("RandomResizedCrop", "scale", self.scale, upper=1.0)
        _check_range("RandomResizedCrop", "ratio", self.ratio)

    def __call__(self, item, *, channels: int, seed: int, epoch: int, index: int) -> np.ndarray:
        rng = example_rng(seed, epoch, index)
        with _open(item) as im:  # the header gives the size; decoding waits for the draft request
            box = crop_box(im.height, im.width, rng, scale=self.scale, ratio=self.ratio)
            flip = bool(self.flip and rng.random() < 0.5)
            return _crop_resize(im, box, size=self.size, channels=channels, flip=flip)


@dataclasses.dataclass(frozen=True)
class CenterCrop:
    """Evaluation transform: shorter side to ``size / crop_fraction``, central ``size`` x ``size``.

    Call: ``t(item, *, channels, seed, epoch, index) -> (size, size, channels) uint8`` (no randomness).
    """

    size: int
    crop_fraction: float = 0.875

    def __post_init__(self):
        _check_size("CenterCrop", self.size)
        if not isinstance(self.crop_fraction, (int, float)) or not 0 < self.crop_fraction <= 1:
            raise ValueError(f"CenterCrop: crop_fraction={self.crop_fraction!r} must be in (0, 1]")

    def __call__(self, item, *, channels: int, seed: int = 0, epoch: int = 0, index: int = 0) -> np.ndarray:
        with _open(item) as im:
            box = center_box(im.height, im.width, size=self.size, crop_fraction=self.crop_fraction)
            return _crop_resize(im, box, size=self.size, channels=channels, flip=False)


def for_config(data_cfg, *, train: bool):
    """The transform a config's ``data`` section asks for, or None (``data.image_size == 0``: images as stored).

    Reads ``image_size``, ``crop_scale``, ``crop_ratio``, ``flip`` (training) and ``eval_crop_fraction``.
    """
    size = int(data_cfg.image_size)
    if size == 0:
        return None
    if train:
        return RandomResizedCrop(size, scale=tuple(data_cfg.crop_scale), ratio=tuple(data_cfg.crop_ratio),
                                 flip=bool(data_cfg.flip))
    return CenterCrop(size, crop_fraction=float(data_cfg.eval_crop_fraction))
