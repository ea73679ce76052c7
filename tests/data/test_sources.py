"""jcnn.data.sources: resolution by name (imported, TFDS via mock_data, embedded MNIST) and errors."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import jcnn.data as data
from jcnn.data import sources


def test_embedded_mnist(mnist_dir):
    train, test = data.source("mnist", "train", mnist_dir), data.source("mnist", "test", mnist_dir)
    assert (len(train), len(test)) == (60000, 10000)
    assert train[0]["label"] == 5 and test[0]["label"] == 7
    assert train[0]["image"].shape == (28, 28, 1) and train[0]["image"].dtype == np.uint8
    assert train[0]["image"].max() == 255
    i = data.info("mnist", mnist_dir)
    assert (i.num_classes, i.image_shape, i.splits, i.origin) == (10, (28, 28, 1), {"train": 60000, "test": 10000}, "jcnn")


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_mock(tmp_path, name, shape):
    with tfds.testing.mock_data(num_examples=12):
        src = data.source(name, "train", str(tmp_path))
        assert isinstance(src, sources.TfdsSource) and len(src) == 12
        images, labels = src.get_batch(np.array([3, 0, 7]))
        assert images.shape == (3, *shape) and images.dtype == np.uint8 and labels.dtype == np.int32
        np.testing.assert_array_equal(images[1], src[0]["image"])


def test_info_catalogue():
    i = data.info("cifar100")
    assert (i.num_classes, i.image_shape, i.splits["train"], i.origin) == (100, (32, 32, 3), 50000, "catalogue")


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match=r"unknown data set name='mnsit'.*'mnist'.*Known: .*cifar10.*jcnn data import"):
        data.source("mnsit", "train")


def test_unprepared_names_paths_and_command(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match=r"cifar10.*meta\.json.*jcnn data import cifar10 --from cifar-10-python.tar.gz"):
        data.source("cifar10", "train", str(tmp_path))


@pytest.mark.parametrize("split", ["valid", "train[:10]+dev"])
def test_bad_split(tiny, split):
    with pytest.raises(ValueError, match=r"split=.* is not a split of 'tiny'; splits are \['test', 'train'\]"):
        data.source("tiny", split, tiny["data_dir"])


def test_bad_split_tfds_catalogue(tmp_path):
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(ValueError, match="splits are"):
            data.source("cifar10", "validation", str(tmp_path))


@pytest.mark.parametrize("name, split", [(3, "train"), ("mnist", 0)])
def test_types(name, split):
    with pytest.raises(TypeError, match="must be a str"):
        data.source(name, split)


def test_first_use_prints_no_tfds_variant_warnings(tmp_path, caplog):
    """Regression: three absl "Variant folder ... has no dataset_info.json" warnings on a first run."""
    import logging

    caplog.set_level(logging.INFO)
    data.source("mnist", "test", str(tmp_path), progress=False)
    data.info("mnist", str(tmp_path))
    data.info("cifar10", str(tmp_path))
    assert not [r for r in caplog.records if "dataset_info.json" in r.getMessage()]


def test_synthetic_is_builtin():
    assert data.info("synthetic").origin == "builtin"


def test_data_dir_that_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "f"))
    with pytest.raises(ValueError, match=r"\$JCNN_DATA_DIR='.*/f' is a file, not a folder"):
        data.source("mnist", "train")
