"""Decoding one stored image to uint8 pixels: the host-side hot path of ImageNet-class input.

NumPy, simplejpeg and Pillow only (no JAX): this runs once per example in grain's
reader threads or worker processes.

``EncodedImage(item)`` reads only the header (the size a crop is drawn from);
its ``resized_crop(box, size=...)`` then decodes what that crop needs and
resizes it to ``size`` x ``size``:

* JPEG (the ImageNet case): simplejpeg (libjpeg-turbo) decodes straight to
  RGB (or GRAY) into a NumPy buffer that Pillow takes over; the decode is
  DCT-scaled by the largest of 1/2, 1/4, 1/8 that keeps the crop at least
  ``size`` pixels across (as Pillow's ``Image.draft`` picks), never by libjpeg's
  other factors (3/8, 5/8, 3/4, 7/8 decode slower than full size: no SIMD IDCT).
* PNG, CMYK/YCCK JPEG, anything simplejpeg refuses, and (H, W, C) arrays: Pillow
  (draft mode for JPEG; ``convert`` for odd modes).
* The resize is Pillow's antialiased bilinear of the crop ``box`` only (sub-pixel
  box, pixels around the box feed the filter as in a full-image resize), so the
  output is torchvision's ``RandomResizedCrop``/``Resize`` on PIL images up to
  rounding (``tests/data/test_codec.py`` pins the error against a float
  reference).

Why these libraries: ``experiments/benchmarks/input.py --case decoders``
(``results/input_decoders_2026-12-02.md``; 500x375 quality-90 JPEGs, train
crops to 224, process CPU ms per image, 2 shared cores). Full decode:
simplejpeg 0.66, OpenCV ``imdecode`` 0.73, Pillow 1.22 (its header parsing and
array hand-back included); simplejpeg's pixels are bit-identical to Pillow's and
its header read needs no decoder set-up. Resize of the crop: Pillow 0.83 (error
against a float reference <= 1 grey level, mean 0.27), OpenCV ``INTER_AREA``
0.52 (mean 0.48, max 42: a box filter, nearest-like when enlarging), area/linear
by axis 0.61 (mean 0.45, max 28), ``INTER_LINEAR`` 0.11 (no antialiasing: mean
0.62, max 48); libvips (pyvips) took 4.2 ms for the whole crop. So simplejpeg
decodes and Pillow resizes: the output stays torchvision's (PIL) result, and
OpenCV stays out (it would also switch TFDS's own decoder). The resize is now
the largest cost; an exact faster one is the way to more speed.
"""

from __future__ import annotations

import io

import numpy as np

_JPEG_SCALES = (8, 4, 2, 1)
_SJ_COLOURSPACES = ("YCbCr", "Gray", "RGB")  # what libjpeg-turbo converts to RGB exactly; CMYK/YCCK go to Pillow


def _jpeg_size(data) -> tuple[int, int] | None:
    """(H, W) of a JPEG that simplejpeg decodes to RGB, from its header; else None."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or bytes(data[:2]) != b"\xff\xd8":
        return None
    import simplejpeg

    try:
        height, width, colourspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    return (height, width) if colourspace in _SJ_COLOURSPACES else None


def _as_pil(item):
    from PIL import Image

    if isinstance(item, np.ndarray):
        return Image.fromarray(item[..., 0] if item.ndim == 3 and item.shape[-1] == 1 else item)
    return Image.open(io.BytesIO(item))


def _scale(box, size: int) -> int:
    """Largest DCT scale s in (8, 4, 2, 1) whose decode keeps the ``box`` crop >= ``size`` pixels across."""
    _, _, h, w = box
    return next(s for s in _JPEG_SCALES if s == 1 or (h / s >= size and w / s >= size))


class EncodedImage:
    """One stored image: its size from the header at once, its pixels decoded by ``resized_crop``.

    Args:
      item: encoded bytes (JPEG, PNG, ... as stored) or an (H, W, C) uint8 array.
    Attributes:
      height, width: the full image's size. jpeg: True when simplejpeg decodes it.
    """

    def __init__(self, item):
        self.item = item
        size = _jpeg_size(item)
        self.jpeg = size is not None
        if size is None and isinstance(item, np.ndarray):
            size = item.shape[:2]
        elif size is None:  # PNG, CMYK JPEG, ...: rare in ImageNet, so a second open to decode is fine
            with _as_pil(item) as im:
                size = (im.height, im.width)
        self.height, self.width = int(size[0]), int(size[1])

    def resized_crop(self, box, *, size: int, channels: int, flip: bool = False, out=None) -> np.ndarray:
        """Decodes what the crop needs, resizes ``box`` = (top, left, h, w) (floats allowed) to size x size.

        Args:
          box: the crop in full-image pixels. size: output side. channels: 1 or 3.
          flip: mirror left-right. out: optional (size, size, channels) uint8 array to write into.
        Returns:
          (size, size, channels) uint8 (``out`` if given), antialiased bilinear.
        """
        from PIL import Image

        resized = self._jpeg_resized_crop(box, size, channels) if self.jpeg else None
        if resized is None:  # not a plain JPEG, or one simplejpeg refused: Pillow does it all
            with _as_pil(self.item) as pil:
                scale = _pil_draft(pil, box, size)
                mode = "RGB" if channels == 3 else "L"
                converted = pil if pil.mode == mode else pil.convert(mode)  # CMYK, palette, alpha, 16-bit, grey
                resized = _resize(converted, box, scale, size)
        if flip:  # in Pillow: a NumPy flip of the packed result would cost a strided copy
            resized = resized.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = np.asarray(resized)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        if out is None:
            return pixels
        np.copyto(out, pixels)
        return out

    def _jpeg_resized_crop(self, box, size: int, channels: int):
        import simplejpeg
        from PIL import Image

        s = _scale(box, size)
        colourspace = "RGB" if channels == 3 else "GRAY"
        try:  # asking for ceil(W / s) x ceil(H / s) makes libjpeg-turbo pick exactly 1/s
            pixels = simplejpeg.decode_jpeg(self.item, colourspace, min_height=-(-self.height // s),
                                            min_width=-(-self.width // s))
        except ValueError:  # libjpeg warnings (e.g. extraneous bytes) are errors in strict mode: Pillow decides
            return None
        mode = "RGB" if channels == 3 else "L"
        return _resize(Image.frombuffer(mode, (pixels.shape[1], pixels.shape[0]), pixels, "raw", mode, 0, 1),
                       box, s, size)


def _resize(pil, box, scale: float, size: int):
    """Pillow's antialiased bilinear of ``box`` (full-image pixels; ``pil`` decoded at 1/scale) to size x size."""
    from PIL import Image

    top, left, h, w = box
    width, height = pil.size
    region = (max(0.0, left / scale), max(0.0, top / scale), min(float(width), (left + w) / scale),
              min(float(height), (top + h) / scale))
    return pil.resize((size, size), Image.Resampling.BILINEAR, box=region)


def _pil_draft(pil, box, size: int) -> float:
    """Asks a Pillow JPEG for the DCT-scaled decode ``_scale`` picks; returns the scale it gave."""
    if pil.format != "JPEG":
        return 1
    width, height = pil.size
    s = _scale(box, size)
    if s == 1:
        return 1
    pil.draft(pil.mode, (width // s, height // s))
    for scale in _JPEG_SCALES:  # Pillow reports the scaled size as ceil(size / scale)
        if pil.size == (-(-width // scale), -(-height // scale)):
            return scale
    return width / pil.size[0]


def decode(item, channels: int) -> np.ndarray:
    """Full-size ``(H, W, C)`` uint8 pixels of encoded bytes, C = ``channels`` (1 or 3)."""
    if _jpeg_size(item) is not None:
        import simplejpeg

        try:
            return simplejpeg.decode_jpeg(item, "RGB" if channels == 3 else "GRAY")
        except ValueError:
            pass  # Pillow decides, as for every other file
    with _as_pil(item) as im:
        array = np.asarray(im.convert("L" if channels == 1 else "RGB"), np.uint8)
    return array[..., None] if array.ndim == 2 else array
