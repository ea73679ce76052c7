"""jcnn.analysis.classical: classical filters on the camera photograph and on a step edge."""

import numpy as np
import pytest

from jcnn.analysis import classical


def test_step_edge_known_values():
    img = np.zeros((6, 6), np.float32)
    img[:, 3:] = 1.0  # vertical edge between columns 2 and 3
    out = classical.demo(img)
    # Sobel x = [[-1,0,1],[-2,0,2],[-1,0,1]]: 4 on the two columns straddling the edge, 0 elsewhere.
    np.testing.assert_array_equal(out["sobel_x"], np.tile([0, 4, 4, 0], (4, 1)))
    np.testing.assert_array_equal(out["sobel_y"], 0)
    np.testing.assert_array_equal(out["gradient_magnitude"], np.tile([0, 4, 4, 0], (4, 1)))
    # Sharpen (5 at the centre, -1 at the 4 neighbours): overshoot on both sides of the edge.
    np.testing.assert_array_equal(out["sharpen"], np.tile([0, -1, 2, 1], (4, 1)))
    # Horizontal edge: Sobel y sees it (positive when the top is brighter).
    out = classical.demo(img.T[::-1].copy())
    np.testing.assert_array_equal(out["sobel_x"], 0)
    assert np.abs(out["sobel_y"]).max() == 4


def test_camera():
    out = classical.demo()
    img = out["image"]
    assert img.shape == (512, 512) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    g = out["gradient_magnitude"]
    assert g.shape == (510, 510) and (g >= 0).all() and g.max() > 1
    assert out["blur"].shape == (508, 508)
    # A normalised blur preserves the mean (over the interior it sees).
    assert out["blur"].mean() == pytest.approx(img[2:-2, 2:-2].mean(), abs=2e-3)
    # ... and smooths: less total variation than the original.
    assert np.abs(np.diff(out["blur"], axis=1)).mean() < np.abs(np.diff(img, axis=1)).mean()
    assert len(classical.plot_classical(out).axes) == 6


def test_rgb_and_bad_input():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, 4:] = 255
    out = classical.demo(rgb)
    assert out["image"].max() == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="image"):
        classical.demo(np.zeros((2, 8, 8, 3)))
