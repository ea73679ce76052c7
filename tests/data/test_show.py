"""jcnn.data.show: a figure with one axis per image."""

import matplotlib.figure
import numpy as np

import jcnn.data as data


def test_show_grid():
    batch = {"image": np.random.default_rng(0).random((10, 6, 6, 1), np.float32), "label": np.arange(10)}
    fig = data.show(batch, ncols=4)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 10
    assert fig.axes[3].get_title() == "3"
    fig = data.show(np.full((3, 5, 5, 3), -2.0, np.float32), labels=False)  # normalised, no labels
    assert len(fig.axes) == 3 and fig.axes[0].get_title() == ""


def test_show_uint8_pixels_are_not_stretched():
    image = np.full((1, 4, 4, 1), 64, np.uint8)
    image[0, 0, 0, 0] = 128
    fig = data.show(image, labels=False)
    shown = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose([shown.min(), shown.max()], [64 / 255, 128 / 255], rtol=1e-6)
