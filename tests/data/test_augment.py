"""jcnn.data.augment: each op against a NumPy reference, randomness, the spec parser, batching."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn.data import augment as A

RNG = np.random.default_rng(0)
IMG = RNG.random((9, 9, 3)).astype(np.float32)  # square, odd: a pixel-centred rotation
IMG_RECT = RNG.random((6, 8, 1)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _jitted(spec):
    return jax.jit(A.build(spec))  # one compile per spec; eager dispatch of many ops is slow


def run(spec, image, seed=0):
    return np.asarray(_jitted(spec)(jax.random.key(seed), jnp.asarray(image)))


# --- deterministic maths vs NumPy -------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotate_multiples_of_90_exact(k):
    np.testing.assert_array_equal(np.asarray(A.rotate_image(IMG, 90 * k)), np.rot90(IMG, k, axes=(0, 1)))


def test_rotate_small_angle_vs_numpy_bilinear():
    t = np.deg2rad(17.0)
    c = (IMG.shape[0] - 1) / 2
    ref = np.zeros_like(IMG, dtype=np.float64)
    for y in range(9):
        for x in range(9):  # inverse map of a counter-clockwise turn, rows pointing down
            sy = np.cos(t) * (y - c) + np.sin(t) * (x - c) + c
            sx = -np.sin(t) * (y - c) + np.cos(t) * (x - c) + c
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
                if 0 <= yy < 9 and 0 <= xx < 9:
                    ref[y, x] += (1 - abs(sy - yy)) * (1 - abs(sx - xx)) * IMG[yy, xx]
    np.testing.assert_allclose(np.asarray(A.rotate_image(IMG, 17.0)), ref, atol=2e-5)


@pytest.mark.parametrize("dy, dx", [(2, -3), (0, 0), (-1, 5)])
def test_translate_integer(dy, dx):
    h, w = IMG_RECT.shape[:2]
    ref = np.zeros_like(IMG_RECT)
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                ref[y, x] = IMG_RECT[y - dy, x - dx]
    np.testing.assert_array_equal(np.asarray(A.translate_image(IMG_RECT, dy, dx)), ref)


def test_scale_one_is_identity_and_two_zooms_centre():
    np.testing.assert_array_equal(np.asarray(A.scale_image(IMG, 1.0)), IMG)
    zoomed = np.asarray(A.scale_image(IMG, 2.0))
    np.testing.assert_allclose(zoomed[4, 4], IMG[4, 4], atol=1e-6)  # the centre stays put
    np.testing.assert_allclose(zoomed[6, 4], (IMG[5, 4] + IMG[5, 4]) / 2, atol=1e-6)  # 4 + 2/2 = 5 exactly


def test_crop_image_offsets():
    pad = 2
    padded = np.pad(IMG_RECT, ((pad, pad), (pad, pad), (0, 0)))
    for top, left in [(0, 0), (3, 1), (4, 6)]:
        got = np.asarray(A.crop_image(IMG_RECT, top, left, size=(6, 6), pad=pad))
        np.testing.assert_array_equal(got, padded[top:top + 6, left:left + 6])


def test_random_crop_is_a_window_and_covers_offsets():
    pad, seen = 2, set()
    padded = np.pad(IMG_RECT, ((pad, pad), (pad, pad), (0, 0)))
    fn = jax.jit(A.build("crop((6, 8), pad=2)"))
    for s in range(60):
        got = np.asarray(fn(jax.random.key(s), IMG_RECT))
        hits = [(t, l) for t in range(5) for l in range(5) if np.array_equal(padded[t:t + 6, l:l + 8], got)]
        assert hits, "crop output is no window of the padded image"
        seen.add(hits[0])
    assert len(seen) >= 15  # 25 offsets possible, uniform


def test_flips_exact():
    flipped = [run("flip_lr(p=1.0)", IMG), run("flip_ud(p=1.0)", IMG), run("flip_lr(p=0.0)", IMG)]
    np.testing.assert_array_equal(flipped[0], IMG[:, ::-1])
    np.testing.assert_array_equal(flipped[1], IMG[::-1])
    np.testing.assert_array_equal(flipped[2], IMG)


def test_rot90_random_is_one_of_four():
    for s in range(8):
        got = run("rot90", IMG, s)
        assert any(np.array_equal(got, np.rot90(IMG, k, axes=(0, 1))) for k in range(4))


def test_brightness_contrast_formulas():
    x = np.full((4, 4, 1), 0.5, np.float32)
    x[0, 0] = 0.3  # no clipping for factors up to 1.5
    np.testing.assert_allclose(np.asarray(A.adjust_brightness(x, 0.3)), np.clip(x + 0.3, 0, 1), atol=1e-7)
    mean = x.mean(axis=(0, 1), keepdims=True)
    np.testing.assert_allclose(np.asarray(A.adjust_contrast(x, 1.7)), np.clip((x - mean) * 1.7 + mean, 0, 1), atol=1e-6)
    out = run("brightness(0.2)", x)  # random: one delta for the whole image, |delta| <= 0.2
    delta = out - x
    assert np.ptp(delta) < 1e-6 and abs(delta[0, 0, 0]) <= 0.2
    out = run("contrast(0.5)", x)  # random factor in [0.5, 1.5] recovered from two pixels
    f = (out[0, 0, 0] - out[1, 1, 0]) / (x[0, 0, 0] - x[1, 1, 0])
    assert 0.5 <= f <= 1.5
    np.testing.assert_allclose(out, np.clip((x - mean) * f + mean, 0, 1), atol=1e-5)


def test_saturation_hue():
    gray = IMG @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(np.asarray(A.adjust_saturation(IMG, 0.0)), np.repeat(gray[..., None], 3, -1), atol=1e-6)
    np.testing.assert_allclose(np.asarray(A.adjust_saturation(IMG, 1.0)), IMG, atol=1e-6)
    np.testing.assert_allclose(np.asarray(A.adjust_hue(IMG, 0.0)), IMG, atol=1e-5)
    np.testing.assert_allclose(np.asarray(A.adjust_hue(IMG, 1.0)), IMG, atol=1e-5)  # a full turn
    grey_rgb = np.repeat(IMG[..., :1], 3, -1)
    np.testing.assert_allclose(np.asarray(A.adjust_hue(grey_rgb, 0.3)), grey_rgb, atol=1e-5)  # no chroma to turn
    np.testing.assert_array_equal(np.asarray(A.adjust_saturation(IMG_RECT, 0.0)), IMG_RECT)  # C = 1 unchanged


def test_sharpness_vs_numpy_smooth():
    k = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float64) / 13
    ref = IMG.astype(np.float64).copy()
    for y in range(1, 8):
        for x in range(1, 8):
            ref[y, x] = np.einsum("ij,ijc->c", k, IMG[y - 1:y + 2, x - 1:x + 2])
    np.testing.assert_allclose(np.asarray(A.smooth(IMG)), ref, atol=1e-6)
    np.testing.assert_allclose(np.asarray(A.adjust_sharpness(IMG, 1.0)), IMG, atol=1e-6)
    np.testing.assert_allclose(np.asarray(A.adjust_sharpness(IMG, 2.0)), np.clip(2 * IMG - ref, 0, 1), atol=1e-5)


def test_invert_noise_cutout_normalize():
    np.testing.assert_allclose(run("invert(p=1.0)", IMG), 1 - IMG)
    x = np.full((64, 64, 1), 0.5, np.float32)
    noisy = run("noise(0.05)", x)
    assert abs(noisy.std() - 0.05) < 0.005 and abs(noisy.mean() - 0.5) < 0.005
    ones = np.ones((10, 10, 1), np.float32)
    got = np.asarray(A.cutout_image(ones, 5, 5, size=4))
    ref = ones.copy()
    ref[3:7, 3:7] = 0
    np.testing.assert_array_equal(got, ref)
    corner = np.asarray(A.cutout_image(ones, 0, 9, size=4))  # rows -2..1, cols 7..10 clipped: 2 x 3 hole
    ref = ones.copy()
    ref[0:2, 7:10] = 0
    np.testing.assert_array_equal(corner, ref)
    np.testing.assert_allclose(run("normalize((0.1, 0.2, 0.3), 0.5)", IMG), (IMG - [0.1, 0.2, 0.3]) / 0.5, atol=1e-6)


# --- randomness ---------------------------------------------------------------------------------

SPEC = "flip_lr|crop(9, pad=2)|rotate(15)|scale(0.9, 1.1)|translate(0.1)|brightness(0.2)|contrast(0.2)|" \
       "saturation(0.3)|hue(0.1)|sharpness(0.5)|invert(0.2)|noise(0.02)|cutout(3)|normalize(0.5, 0.25)"


def test_same_key_same_output_different_key_differs():
    a, b, c = run(SPEC, IMG, 3), run(SPEC, IMG, 3), run(SPEC, IMG, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_flip_probability_about_half():
    keys = jax.random.split(jax.random.key(0), 2000)
    images = jnp.broadcast_to(jnp.asarray(IMG), (2000, *IMG.shape))
    out = np.asarray(jax.vmap(A.build("flip_lr"))(keys, images))
    frac = np.mean([np.array_equal(o, IMG[:, ::-1]) for o in out])
    assert 0.45 < frac < 0.55  # 2000 Bernoulli(0.5): sd 0.011


def test_apply_batch_key_scheme_and_jit():
    fn = A.build("rotate(30)|brightness(0.3)")
    key, images, idx = jax.random.key(7), jnp.asarray(np.stack([IMG] * 4)), np.array([5, 0, 123456, 5])
    out = np.asarray(jax.jit(lambda s, x, i: A.apply_batch(fn, key, x, i, step=s))(11, images, idx))
    for n in range(4):
        manual = jax.jit(fn)(jax.random.fold_in(jax.random.fold_in(key, 11), int(idx[n])), images[n])
        np.testing.assert_allclose(out[n], np.asarray(manual), atol=1e-6)
    np.testing.assert_array_equal(out[0], out[3])  # same example, same step -> same augmentation
    other = np.asarray(A.apply_batch(fn, key, images, idx, step=12))
    assert not np.allclose(out[0], other[0])


def test_batch_augmenter():
    f = A.batch_augmenter("flip_lr|normalize(0.5, 0.5)", seed=1)
    x = np.stack([IMG] * 3)
    np.testing.assert_array_equal(np.asarray(f(2, x, np.arange(3))), np.asarray(f(2, x, np.arange(3))))
    assert f.spec == ("flip_lr", "normalize(0.5, 0.5)")


# --- parser and errors --------------------------------------------------------------------------

def test_spec_forms_agree():
    as_list = A.build(["flip_lr(p=1.0)", "brightness(0.1)"])
    as_string = A.build("flip_lr(p=1.0) | brightness(0.1)")
    key = jax.random.key(0)
    np.testing.assert_array_equal(np.asarray(as_list(key, IMG)), np.asarray(as_string(key, IMG)))
    np.testing.assert_array_equal(np.asarray(A.build(None)(key, IMG)), IMG)
    np.testing.assert_array_equal(np.asarray(A.build([lambda k, x: x * 2])(key, IMG)), IMG * 2)
    assert A.parse_op("crop(28, pad=2)") == ("crop", (28,), {"pad": 2})


@pytest.mark.parametrize("spec, error, match", [
    ("flp", ValueError, r"unknown op 'flp'.*known ops: brightness, contrast, crop"),
    ("crop(28, padd=2)", TypeError, r"op 'crop' got bad arguments.*expected crop\(size"),
    ("rotate()", TypeError, "missing a required argument"),
    ("crop(size)", ValueError, "must be literals"),
    ("crop(28", ValueError, "cannot parse op"),
    ("crop(0)", ValueError, r"crop: size=0 must be a positive int"),
    ("flip_lr(1.5)", ValueError, r"flip_lr: p=1.5 must be a probability"),
    ("hue(0.7)", ValueError, "at most 0.5"),
    ("normalize(0.5, 0)", ValueError, "std=0 must be positive"),
    ("scale(1.2, 0.8)", ValueError, "0 < low <= high"),
    (42, TypeError, "spec=42 must be"),
    ([1], TypeError, "spec item 1"),
])
def test_bad_specs(spec, error, match):
    with pytest.raises(error, match=match):
        A.build(spec)


def test_shape_errors():
    with pytest.raises(ValueError, match="exceeds image"):
        run("crop(20)", IMG)
    with pytest.raises(ValueError, match="must be square"):
        run("rot90", IMG_RECT)
    with pytest.raises(ValueError, match=r"indices shape \(2,\) must be \(3,\)"):
        A.apply_batch(A.build("flip_lr"), jax.random.key(0), np.zeros((3, 4, 4, 1)), np.arange(2))
