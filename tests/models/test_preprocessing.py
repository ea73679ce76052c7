"""Preprocessing travels with the model: registry metadata, ``preprocess``, ``eval_image``, ``Preprocessed``."""

import numpy as np
import pytest
from PIL import Image

import jcnn.models as models


def _photo(h, w, c=3):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), (xx + yy) % 256][:c], -1)
    return img.astype(np.uint8)


def test_imagenet_models_share_one_set_of_constants():
    assert models.IMAGENET_MEAN == (0.485, 0.456, 0.406) and models.IMAGENET_STD == (0.229, 0.224, 0.225)
    for name in models.names("resnet1*") + models.names("vgg*") + ["mobilenet_v2", "alexnet", "googlenet", "zfnet"]:
        meta = models.info(name)
        if meta.input_shape[0] >= 224:
            assert (meta.mean, meta.std, meta.eval_resize) == (models.IMAGENET_MEAN, models.IMAGENET_STD, 256), name
    assert models.info("resnet20").eval_resize is None and models.info("lenet5").eval_resize is None


def test_preprocess_is_scaled_pixels_minus_mean_over_std():
    img = _photo(224, 224)[None]
    out = np.asarray(models.preprocess("resnet50")(img))
    want = (img.astype(np.float64) / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="no mean/std"):
        models.preprocess("dcgan_generator")


@pytest.mark.parametrize("h, w, resized, top, left", [
    (300, 400, (341, 256), 16, 58),   # landscape: W = int(256 * 400 / 300) = 341; left = round(58.5) = 58
    (500, 256, (256, 500), 138, 16),  # portrait: H = int(256 * 500 / 256) = 500; top = round(138.0)
])
def test_eval_image_resizes_the_shorter_side_to_256_and_takes_the_centre_224(h, w, resized, top, left):
    img = _photo(h, w)
    out = models.eval_image("resnet50", img)
    ref = np.asarray(Image.fromarray(img).resize(resized, Image.Resampling.BILINEAR))[top:top + 224, left:left + 224]
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, ref)


def test_eval_image_channels_and_sizes(tmp_path):
    grey = _photo(40, 50, 1)[..., 0]
    rgb = models.eval_image("resnet18", grey)
    assert rgb.shape == (224, 224, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    digit = _photo(28, 28, 1)
    np.testing.assert_array_equal(models.eval_image("lenet5_modern", digit), digit)  # already the input size
    Image.fromarray(_photo(300, 400)).save(tmp_path / "p.png")
    np.testing.assert_array_equal(models.preprocess("resnet50").image(tmp_path / "p.png"),
                                  models.eval_image("resnet50", _photo(300, 400)))
    with pytest.raises(ValueError, match=r"eval_image: image must be .* got float32 array of shape \(4, 4, 3\)"):
        models.eval_image("resnet50", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="cannot read image"):
        models.eval_image("resnet50", tmp_path / "missing.png")


def test_preprocessed_model_takes_pixels():
    net = models.create("lenet5_modern", seed=0)
    net.eval()
    pixels = _photo(28, 28, 1)[None]
    by_hand = (pixels.astype(np.float32) / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(np.asarray(models.Preprocessed(net, "lenet5_modern")(pixels)),
                               np.asarray(net(by_hand)), rtol=1e-5, atol=1e-5)


def test_pixel_space_gradients_are_the_input_gradients_over_std():
    # Chain rule: x = (p - mean) / std, so d score / d p = (d score / d x) / std.
    from jcnn.analysis import saliency

    net = models.create("lenet5_modern", seed=1)
    net.eval()
    pixels = _photo(28, 28, 1)[None].astype(np.float32) / 255
    x = (pixels - 0.1307) / 0.3081
    g_pixels = saliency(models.Preprocessed(net, "lenet5_modern"), pixels, 3, reduce="none")
    g_input = saliency(net, x, 3, reduce="none")
    np.testing.assert_allclose(g_pixels, g_input / 0.3081, rtol=1e-4, atol=1e-7)
