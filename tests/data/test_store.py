"""jcnn.data.store: the .npy layout, atomic writes, LocalSource."""

import os
import pickle

import numpy as np
import pytest

from jcnn.data import store


def _splits(n=10):
    rng = np.random.default_rng(0)
    return {"train": (rng.integers(0, 256, (n, 4, 5, 3), dtype=np.uint8), np.arange(n) % 3)}


def test_write_and_read(tmp_path):
    store.write_dataset("toy", _splits(), num_classes=3, data_dir=tmp_path, class_names=["a", "b", "c"])
    meta = store.read_meta("toy", tmp_path)
    assert meta["splits"] == {"train": 10} and meta["image_shape"] == [4, 5, 3] and meta["num_classes"] == 3
    src = store.LocalSource("toy", "train", tmp_path)
    images, labels = _splits()["train"]
    assert len(src) == 10 and src[3]["label"] == 0 and src[3]["label"].dtype == np.int32
    np.testing.assert_array_equal(src[7]["image"], images[7])
    got_images, got_labels = src.get_batch(np.array([9, 2, 5, 2]))
    np.testing.assert_array_equal(got_images, images[[9, 2, 5, 2]])
    np.testing.assert_array_equal(got_labels, [0, 2, 2, 2])
    clone = pickle.loads(pickle.dumps(src))  # grain workers receive a pickled source
    np.testing.assert_array_equal(clone[1]["image"], images[1])
    assert list(store.list_imported(tmp_path)) == ["toy"]


def test_default_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "x"))
    assert store.default_data_dir() == str(tmp_path / "x")
    monkeypatch.delenv("JCNN_DATA_DIR")
    assert store.default_data_dir().endswith(os.path.join(".cache", "jcnn", "data"))


def test_exists_and_overwrite(tmp_path):
    store.write_dataset("toy", _splits(), num_classes=3, data_dir=tmp_path)
    with pytest.raises(ValueError, match="already exists"):
        store.write_dataset("toy", _splits(), num_classes=3, data_dir=tmp_path)
    store.write_dataset("toy", _splits(4), num_classes=3, data_dir=tmp_path, overwrite=True)
    assert store.read_meta("toy", tmp_path)["splits"] == {"train": 4}
    assert sorted(os.listdir(tmp_path)) == ["toy"]  # no temp or old folders left


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    def boom(*_):
        raise OSError("disk full")
    monkeypatch.setattr(store.np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write_dataset("toy", _splits(), num_classes=3, data_dir=tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "../x"}, "name='../x'"),
    ({"num_classes": 2}, "outside"),
    ({"splits": {"train": (np.zeros((2, 3, 3), np.uint8), np.zeros(2))}}, r"\(N, H, W, C\) uint8"),
    ({"splits": {}}, "at least one split"),
])
def test_bad_input(tmp_path, kwargs, match):
    args = {"name": "toy", "splits": _splits(), "num_classes": 3} | kwargs
    with pytest.raises(ValueError, match=match):
        store.write_dataset(args.pop("name"), args.pop("splits"), data_dir=tmp_path, **args)


def test_bad_split(tmp_path):
    store.write_dataset("toy", _splits(), num_classes=3, data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"split='test' not in data set 'toy'; splits are \['train'\]"):
        store.LocalSource("toy", "test", tmp_path)


def test_missing_array_file_names_path(tmp_path):
    store.write_dataset("toy", _splits(), num_classes=3, data_dir=tmp_path)
    os.remove(tmp_path / "toy" / "train.images.npy")
    with pytest.raises(FileNotFoundError, match=r"train\.images\.npy.*jcnn data import toy"):
        store.LocalSource("toy", "train", tmp_path)[0]
