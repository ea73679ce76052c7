"""The built-in ``synthetic`` data set: generated, deterministic, class-dependent."""

import numpy as np
import pytest

import jcnn.data as data
from jcnn.data.synthetic import SyntheticSource


def test_sizes_info_and_determinism():
    info = data.info("synthetic")
    assert info.num_classes == 10 and info.image_shape == (28, 28, 1) and info.splits == {"train": 512, "test": 128}
    a, b = SyntheticSource("train"), data.source("synthetic", "train")
    assert len(a) == 512 and len(data.source("synthetic", "test")) == 128
    ia, la = a.get_batch(np.arange(20))
    ib, lb = b.get_batch(np.arange(20))
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(la, np.arange(20) % 10)
    assert ia.dtype == np.uint8 and ia.shape == (20, 28, 28, 1)


def test_examples_of_a_class_are_closer_than_examples_of_different_classes():
    images, labels = SyntheticSource("train").get_batch(np.arange(40))
    x = images.reshape(40, -1).astype(np.float64)
    same = np.linalg.norm(x[0] - x[10])  # both class 0
    other = np.linalg.norm(x[0] - x[1])  # class 0 vs class 1
    assert same < 0.6 * other


def test_bad_split_and_index():
    with pytest.raises(ValueError, match="split"):
        data.source("synthetic", "validation")
    with pytest.raises(IndexError, match="out of range"):
        SyntheticSource("test")[128]
