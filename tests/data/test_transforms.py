"""jcnn.data.transforms: Inception crop and centre crop, checked against plain Pillow and hand-computed boxes."""

import ast
import io
import pathlib

import numpy as np
import pytest
from PIL import Image

from jcnn.data import transforms as T


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(array, quality=90, mode=None):
    buf = io.BytesIO()
    im = Image.fromarray(array)
    (im.convert(mode) if mode else im).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _photo(h=375, w=500):
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((w, h), Image.Resampling.BILINEAR))


def test_crop_box_properties():
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    areas, tops = [], []
    for index in range(400):
        top, left, h, w = T.crop_box(375, 500, T.example_uniforms(0, 0, index), scale=scale, ratio=ratio)
        assert 0 <= top <= 375 - h and 0 <= left <= 500 - w and h > 0 and w > 0
        # rounding w and h to ints moves area and aspect a little past the drawn values
        assert scale[0] * 0.95 <= h * w / (375 * 500) <= 1.0
        assert ratio[0] * 0.97 <= w / h <= ratio[1] * 1.03
        areas.append(h * w / (375 * 500))
        tops.append(top)
    assert 0.4 < np.mean(areas) < 0.6  # U(0.08, 1) thinned by the fit test: mean ~0.5
    assert len(set(tops)) > 100


def test_crop_box_fallback_is_the_centre_clipped_to_ratio():
    u = T.example_uniforms(3, 1, 4)
    # 1000 x 10: no crop of >= 90% area with aspect in [3/4, 4/3] fits, so all 10 tries fail
    assert T.crop_box(10, 1000, u, scale=(0.9, 1.0)) == (0, (1000 - 13) // 2, 10, 13)  # w = round(10 * 4/3)
    assert T.crop_box(1000, 10, u, scale=(0.9, 1.0)) == ((1000 - 13) // 2, 0, 13, 10)  # h = round(10 / (3/4))


def test_center_box_matches_resize_256_then_crop_224():
    # 500x375 -> shorter side 256: 341x256; crop offsets round(117/2) = 58 (half to even), round(32/2) = 16
    top, left, h, w = T.center_box(375, 500, size=224, crop_fraction=0.875)
    assert top == pytest.approx(16 * 375 / 256) and left == pytest.approx(58 * 500 / 341)
    assert h == pytest.approx(224 * 375 / 256) and w == pytest.approx(224 * 500 / 341)


def test_center_crop_equals_plain_pillow_resize_then_crop():
    photo = _photo()
    got = T.CenterCrop(224)(_png(photo), channels=3)
    ref = np.asarray(Image.fromarray(photo).resize((341, 256), Image.Resampling.BILINEAR))[16:240, 58:282]
    assert got.shape == (224, 224, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - ref).max() <= 1


def test_random_crop_geometry_and_flip_on_a_ramp():
    """Bilinear resampling of a linear ramp is exact, so each output pixel tells where it was sampled."""
    h0, w0 = 200, 240
    ys, xs = np.mgrid[0:h0, 0:w0]
    ramp = np.stack([xs, ys, np.zeros_like(xs)], -1).astype(np.uint8)  # R = x, G = y
    t = T.RandomResizedCrop(32, scale=(0.2, 0.6))
    flips = 0
    for index in range(12):
        out = t(_png(ramp), channels=3, seed=5, epoch=2, index=index).astype(float)
        u = T.example_uniforms(5, 2, index)
        top, left, h, w = T.crop_box(h0, w0, u, scale=(0.2, 0.6), ratio=(3 / 4, 4 / 3))
        flip = u[40] < 0.5
        flips += flip
        u = (np.arange(32) + 0.5) * w / 32 - 0.5 + left  # sample centres in the source
        v = (np.arange(32) + 0.5) * h / 32 - 0.5 + top
        if flip:
            u = u[::-1]
        inner = slice(2, -2)  # Pillow renormalises its filter at the image border
        np.testing.assert_allclose(out[inner, inner, 0], np.broadcast_to(u, (32, 32))[inner, inner], atol=1.01)
        np.testing.assert_allclose(out[inner, inner, 1], np.broadcast_to(v[:, None], (32, 32))[inner, inner],
                                   atol=1.01)
    assert 2 <= flips <= 10


def test_determinism_and_epoch_dependence():
    data = _jpeg(_photo())
    t = T.RandomResizedCrop(96)
    a = t(data, channels=3, seed=1, epoch=0, index=7)
    np.testing.assert_array_equal(a, t(data, channels=3, seed=1, epoch=0, index=7))
    assert not np.array_equal(a, t(data, channels=3, seed=1, epoch=1, index=7))
    assert not np.array_equal(a, t(data, channels=3, seed=2, epoch=0, index=7))


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "RGBA"])
def test_odd_modes_give_rgb_or_grey(mode):
    photo = _photo(60, 80)
    buf = io.BytesIO()
    im = Image.fromarray(photo).convert(mode)
    im.save(buf, "JPEG" if mode in ("L", "CMYK") else "PNG")
    for channels in (3, 1):
        out = T.CenterCrop(32)(buf.getvalue(), channels=channels)
        assert out.shape == (32, 32, channels) and out.dtype == np.uint8
    ref = np.asarray(Image.fromarray(photo).convert("L"), float).mean()
    assert abs(T.CenterCrop(32)(buf.getvalue(), channels=1).mean() - ref) < 25  # same picture, not garbage


def test_arrays_are_transformed_too():
    photo = _photo(32, 32)
    out = T.CenterCrop(32, crop_fraction=1.0)(photo, channels=3)
    np.testing.assert_array_equal(out, photo)  # resize 32 -> 32 with no crop is the identity


@pytest.mark.parametrize("make, match", [
    (lambda: T.RandomResizedCrop(0), r"RandomResizedCrop: size=0 must be a positive int"),
    (lambda: T.RandomResizedCrop(224, scale=(0.0, 1.0)), r"scale=\(0.0, 1.0\) must be a pair .* <= 1.0"),
    (lambda: T.RandomResizedCrop(224, scale=(0.5, 1.5)), r"scale=\(0.5, 1.5\)"),
    (lambda: T.RandomResizedCrop(224, ratio=(4 / 3, 3 / 4)), r"ratio=.* 0 < lo <= hi"),
    (lambda: T.CenterCrop(224, crop_fraction=1.5), r"crop_fraction=1.5 must be in \(0, 1\]"),
    (lambda: T.CenterCrop(22.5), r"CenterCrop: size=22.5"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_for_config():
    import ml_collections

    cfg = ml_collections.ConfigDict({"image_size": 227, "crop_scale": (0.35, 1.0), "crop_ratio": (0.75, 4 / 3),
                                     "flip": False, "eval_crop_fraction": 0.875})
    assert T.for_config(cfg, train=True) == T.RandomResizedCrop(227, scale=(0.35, 1.0), ratio=(0.75, 4 / 3),
                                                                 flip=False)
    assert T.for_config(cfg, train=False) == T.CenterCrop(227, crop_fraction=0.875)
    cfg.image_size = 0
    assert T.for_config(cfg, train=True) is None


@pytest.mark.parametrize("module", ["transforms.py", "codec.py", "records.py", "folders.py"])
def test_worker_side_modules_import_no_jax(module):
    """These run in grain's worker processes: NumPy, simplejpeg and Pillow only."""
    tree = ast.parse((pathlib.Path(T.__file__).parent / module).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {n for n in names if n.split(".")[0] in ("jax", "jaxlib", "flax")}


def test_example_uniforms_are_blake2b_counter_mode():
    import hashlib

    u = T.example_uniforms(7, 2, 123)
    assert len(u) == T.UNIFORMS == 41 and all(0 <= x < 1 for x in u)
    # independent recomputation: BLAKE2b-512 of (seed, epoch, index) as little-endian uint64, then the block counter
    digest = hashlib.blake2b((7).to_bytes(8, "little") + (2).to_bytes(8, "little") + (123).to_bytes(8, "little")
                             + (5).to_bytes(8, "little"), digest_size=64).digest()  # block 5 holds uniforms 40..47
    assert u[40] == (int.from_bytes(digest[:8], "little") >> 11) / 2 ** 53
    assert u == T.example_uniforms(7, 2, 123)
    assert len({tuple(T.example_uniforms(*a)) for a in [(7, 2, 123), (8, 2, 123), (7, 3, 123), (7, 2, 124)]}) == 4
    with pytest.raises(ValueError, match=r"example_uniforms: seed=-1, epoch=0, index=3 must all be ints >= 0"):
        T.example_uniforms(-1, 0, 3)
    many = np.array([T.example_uniforms(0, 0, i) for i in range(500)])
    assert abs(many.mean() - 0.5) < 0.01 and np.histogram(many, 10, (0, 1))[0].min() > 0.09 * many.size
