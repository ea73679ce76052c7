"""Host-side decode + crop + resize of one image to uint8, run in grain's reader threads or worker processes.

NumPy, simplejpeg and Pillow only (no JAX): these run once per example in worker processes.

* ``RandomResizedCrop`` (training): the Inception crop of Szegedy et al. (2015,
  "Going deeper with convolutions", section 6) as torchvision and the Flax
  ImageNet example implement it -- an area fraction drawn from ``scale`` and a
  log-uniform aspect ratio from ``ratio``, 10 tries, then a centre crop of the
  whole image clipped to ``ratio`` -- resized to ``size`` x ``size``, flipped
  left-right with probability 1/2.
* ``CenterCrop`` (evaluation): resize the shorter side to ``round(size /
  crop_fraction)`` (256 for 224 at 0.875) and take the central ``size`` square.

Randomness is a pure function of (seed, epoch, example index)
(``example_uniforms``), so a batch's pixels do not depend on worker count,
thread timing or resumption.

Decoding (``jcnn.data.codec``): the header gives the size the crop is drawn
from; then only what the crop needs is decoded (DCT-scaled JPEG decoding when
the crop keeps >= ``size`` pixels across at 1/2, 1/4 or 1/8 scale) and the crop
box alone is resized (antialiased bilinear, as torchvision on PIL images).
Speed against torchvision's pipeline: ``experiments/benchmarks/input.py --case
imagenet`` (results in ``experiments/benchmarks/results/input_imagenet_*.md``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import struct

import numpy as np

from jcnn.data import codec


UNIFORMS = 41  # per example: 10 crop tries x (area, aspect, top, left), then the flip
_KEY, _WORDS = struct.Struct("<3Q"), struct.Struct("<8Q")


def example_uniforms(seed: int, epoch: int, index: int, n: int = UNIFORMS) -> list[float]:
    """``n`` uniforms in [0, 1) that are a pure function of (seed, epoch, index).

    A counter-based generator (Salmon et al. 2011, "Parallel random numbers: as easy
    as 1, 2, 3"): BLAKE2b (Aumasson et al. 2013) of the three numbers and a block
    counter, each 64-byte digest giving eight 53-bit floats. Per example it costs a
    third of building a NumPy generator (``default_rng`` hashes its seed and sets up
    state that the image decode between examples evicts from the caches).
    """
    seed, epoch, index = int(seed), int(epoch), int(index)
    if min(seed, epoch, index) < 0:
        raise ValueError(f"example_uniforms: seed={seed}, epoch={epoch}, index={index} must all be ints >= 0")
    base = hashlib.blake2b(_KEY.pack(seed, epoch, index), digest_size=64)
    words = []
    for block in range(-(-n // 8)):
        h = base.copy()
        h.update(block.to_bytes(8, "little"))
        words.extend(_WORDS.unpack(h.digest()))
    return [(x >> 11) * 2.0 ** -53 for x in words[:n]]


def crop_box(height: int, width: int, uniforms, *, scale=(0.08, 1.0),
             ratio=(3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """Inception-style random crop of an H x W image: ``(top, left, h, w)``.

    Area fraction ~ U(scale), aspect w/h ~ exp(U(log ratio)); the first of 10 tries
    that fits inside the image wins, at a uniform position. Otherwise the whole image,
    clipped to the nearest aspect in ``ratio``, centred. ``uniforms``: at least 40
    floats in [0, 1), four per try (``example_uniforms``).
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for t in range(10):
        u_area, u_aspect, u_top, u_left = uniforms[4 * t:4 * t + 4]
        target = area * (scale[0] + (scale[1] - scale[0]) * u_area)
        aspect = math.exp(log_lo + (log_hi - log_lo) * u_aspect)
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(u_top * (height - h + 1)), int(u_left * (width - w + 1)), h, w
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

    Call: ``t(item, *, channels, seed, epoch, index, out=None) -> (size, size, channels) uint8``
    (written into ``out`` when given: the pipeline passes its batch's slot).
    """

    size: int
    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3 / 4, 4 / 3)
    flip: bool = True

    def __post_init__(self):
        _check_size("RandomResizedCrop", self.size)
        _check_range("RandomResizedCrop", "scale", self.scale, upper=1.0)
        _check_range("RandomResizedCrop", "ratio", self.ratio)

    def __call__(self, item, *, channels: int, seed: int, epoch: int, index: int, out=None) -> np.ndarray:
        u = example_uniforms(seed, epoch, index)
        im = codec.EncodedImage(item)  # the header gives the size; decoding waits for the crop
        box = crop_box(im.height, im.width, u, scale=self.scale, ratio=self.ratio)
        flip = bool(self.flip and u[40] < 0.5)
        return im.resized_crop(box, size=self.size, channels=channels, flip=flip, out=out)


@dataclasses.dataclass(frozen=True)
class CenterCrop:
    """Evaluation transform: shorter side to ``size / crop_fraction``, central ``size`` x ``size``.

    Call: ``t(item, *, channels, seed, epoch, index, out=None) -> (size, size, channels) uint8`` (no
    randomness). The crop box is mapped back to the original image and only it is resized: the
    same samples as resizing the whole image and cropping (torchvision's order), ~half the work.
    """

    size: int
    crop_fraction: float = 0.875

    def __post_init__(self):
        _check_size("CenterCrop", self.size)
        if not isinstance(self.crop_fraction, (int, float)) or not 0 < self.crop_fraction <= 1:
            raise ValueError(f"CenterCrop: crop_fraction={self.crop_fraction!r} must be in (0, 1]")

    def __call__(self, item, *, channels: int, seed: int = 0, epoch: int = 0, index: int = 0,
                 out=None) -> np.ndarray:
        im = codec.EncodedImage(item)
        box = center_box(im.height, im.width, size=self.size, crop_fraction=self.crop_fraction)
        return im.resized_crop(box, size=self.size, channels=channels, out=out)


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
