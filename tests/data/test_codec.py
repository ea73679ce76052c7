"""jcnn.data.codec: decoded pixels and resized crops against Pillow's decode and a float reference resize."""

import io

import numpy as np
import pytest
from PIL import Image

from jcnn.data import codec


ONE_LEVEL = 1 + 1e-9  # Pillow rounds its fixed-point result to uint8: at most one grey level off


def _photo(h=375, w=500):
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((w, h), Image.Resampling.BILINEAR))


def _encode(array, fmt="JPEG", mode=None, **kw):
    buf = io.BytesIO()
    im = Image.fromarray(array)
    (im.convert(mode) if mode else im).save(buf, fmt, **kw)
    return buf.getvalue()


def _weights(n_in, n_out, lo, hi):
    """(n_out, n_in) antialiased-bilinear weights for source interval [lo, hi) -> n_out samples.

    The triangle filter widened by the downscale factor (support max(1, scale)), sampled at pixel
    centres and normalised over the pixels inside the image: what Pillow's and torchvision's
    antialiased bilinear resize compute, here in float64.
    """
    scale = (hi - lo) / n_out
    support = max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = lo + (i + 0.5) * scale
        for j in range(max(0, int(centre - support) - 1), min(n_in, int(centre + support) + 2)):
            w[i, j] = max(0.0, 1.0 - abs(j + 0.5 - centre) / support)
        w[i] /= w[i].sum()
    return w


def _reference(full, box, size):
    """Float resize of ``box`` = (top, left, h, w) of a fully decoded (H, W, C) image to (size, size, C)."""
    top, left, h, w = box
    wy, wx = _weights(full.shape[0], size, top, top + h), _weights(full.shape[1], size, left, left + w)
    return np.einsum("ij,jkc,lk->ilc", wy, full.astype(np.float64), wx, optimize=True)


def _pillow_decode(data, mode="RGB"):
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert(mode))


@pytest.mark.parametrize("mode, fmt", [("RGB", "JPEG"), ("L", "JPEG"), ("CMYK", "JPEG"), ("RGB", "PNG"),
                                       ("RGBA", "PNG")])
def test_full_decode_equals_pillow(mode, fmt):
    data = _encode(_photo(60, 80), fmt, mode)
    np.testing.assert_array_equal(codec.decode(data, 3), _pillow_decode(data, "RGB"))
    grey = codec.decode(data, 1)
    assert grey.shape == (60, 80, 1)
    # libjpeg-turbo's Y plane vs Pillow's L = 0.299 R + 0.587 G + 0.114 B of the decoded RGB: the same formula,
    # but L is recomputed from upsampled, rounded chroma (measured: mean 0.01, max 12 on this photo)
    diff = np.abs(grey[..., 0].astype(int) - _pillow_decode(data, "L"))
    assert diff.mean() < 0.1 and diff.max() <= 16


def test_header_size_without_decoding():
    for fmt, mode in (("JPEG", None), ("PNG", None), ("JPEG", "CMYK")):
        im = codec.EncodedImage(_encode(_photo(37, 51), fmt, mode))
        assert (im.height, im.width) == (37, 51)
        assert im.jpeg == (fmt == "JPEG" and mode is None)
    assert (codec.EncodedImage(np.zeros((5, 7, 3), np.uint8)).height, 7) == (5, 7)


# (box, size): full-size decodes; floats as the centre crop makes; an enlargement; a crop at the edge
FULL_SIZE_CROPS = [((16 * 375 / 256, 58 * 500 / 341, 224 * 375 / 256, 224 * 500 / 341), 224),
                   ((40, 60, 300, 320), 224), ((100, 200, 90, 120), 224), ((0, 0, 375, 500), 224),
                   ((275, 420, 100, 80), 64)]


@pytest.mark.parametrize("box, size", FULL_SIZE_CROPS)
def test_resized_crop_matches_float_reference(box, size):
    data = _encode(_photo(), quality=90)
    full = _pillow_decode(data)
    got = codec.EncodedImage(data).resized_crop(box, size=size, channels=3)
    assert got.shape == (size, size, 3) and got.dtype == np.uint8 and got.flags.c_contiguous
    err = np.abs(got - _reference(full, box, size))
    assert err.max() <= ONE_LEVEL and err.mean() < 0.35, (err.max(), err.mean())  # Pillow's 8-bit fixed point


@pytest.mark.parametrize("box, size, scale", [((0, 0, 375, 500), 64, 4), ((40, 60, 300, 320), 112, 2),
                                              ((0, 0, 375, 500), 40, 8), ((40, 60, 300, 320), 151, 1)])
def test_dct_scaled_decode_when_the_crop_allows(box, size, scale):
    """Decoded at 1/scale = the largest power of 2 keeping the crop >= size across: equal to Pillow's draft
    decode at that scale, then the same resize; and close to the full-decode float reference."""
    data = _encode(_photo(), quality=90)
    got = codec.EncodedImage(data).resized_crop(box, size=size, channels=3).astype(np.float64)
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (500 // scale, 375 // scale))
        assert im.size == (-(-500 // scale), -(-375 // scale))
        top, left, h, w = box
        ref = np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR,
                                                  box=(left / scale, top / scale, (left + w) / scale,
                                                       (top + h) / scale)))
    assert np.abs(got - ref).max() <= ONE_LEVEL
    err = np.abs(got - _reference(_pillow_decode(data), box, size))
    # libjpeg's scaled IDCT is a different low-pass than the triangle filter; measured on this photo: mean
    # 1.07 / 1.03 / 2.24 and max 14 / 14 / 28 grey levels at scales 4 / 2 / 8 (0.27 and 1 at full size)
    mean, worst = {1: (0.35, ONE_LEVEL), 2: (1.2, 16), 4: (1.2, 16), 8: (2.5, 32)}[scale]
    assert err.mean() < mean and err.max() <= worst, (err.mean(), err.max())


def test_flip_grey_and_out_buffer():
    data = _encode(_photo(), quality=90)
    im = codec.EncodedImage(data)
    box = (40, 60, 300, 320)
    plain = im.resized_crop(box, size=96, channels=3)
    np.testing.assert_array_equal(im.resized_crop(box, size=96, channels=3, flip=True), plain[:, ::-1])
    out = np.zeros((2, 96, 96, 1), np.uint8)
    got = im.resized_crop(box, size=96, channels=1, out=out[1])
    assert np.shares_memory(got, out) and got.shape == (96, 96, 1)
    grey_ref = _reference(_pillow_decode(data, "L")[..., None], box, 96)
    err = np.abs(out[1] - grey_ref)  # decoded at 1/2 (300 / 2 >= 96): the scale-2 bounds of the DCT test
    assert err.mean() < 1.2 and err.max() <= 16 and not out[0].any()


def test_odd_files_go_through_pillow():
    photo = _photo(120, 160)
    box = (10, 20, 100, 130)
    for data in (_encode(photo, "JPEG", "CMYK"), _encode(photo, "PNG"), _encode(photo, "JPEG", "L")):
        got = codec.EncodedImage(data).resized_crop(box, size=64, channels=3)
        np.testing.assert_allclose(got, _reference(_pillow_decode(data), box, 64), atol=ONE_LEVEL)
    arr = codec.EncodedImage(photo).resized_crop(box, size=64, channels=3)
    np.testing.assert_allclose(arr, _reference(photo, box, 64), atol=ONE_LEVEL)


def test_truncated_jpeg_raises_as_pillow_does():
    data = _encode(_photo(), quality=90)
    with pytest.raises(OSError, match="truncated"):
        codec.EncodedImage(data[: len(data) // 2]).resized_crop((0, 0, 375, 500), size=32, channels=3)


def test_imagenet_transforms_at_224_match_float_reference():
    """The train and eval transforms on a 500x375 quality-90 JPEG (ImageNet's typical file): crops of at
    most 375 px never allow a 1/2-scale decode at 224, so every output is a full decode + exact resize."""
    from jcnn.data import transforms as T

    data = _encode(_photo(), quality=90)
    full = _pillow_decode(data)
    train = T.RandomResizedCrop(224)
    for index in range(6):
        u = T.example_uniforms(3, 1, index)
        box = T.crop_box(375, 500, u)
        flip = u[40] < 0.5
        ref = _reference(full, box, 224)
        got = train(data, channels=3, seed=3, epoch=1, index=index)
        assert np.abs(got - (ref[:, ::-1] if flip else ref)).max() <= ONE_LEVEL
    box = T.center_box(375, 500, size=224, crop_fraction=0.875)
    assert np.abs(T.CenterCrop(224)(data, channels=3) - _reference(full, box, 224)).max() <= ONE_LEVEL
