"""jcnn.data.importers: IDX and image-folder imports, atomic on failure."""

import gzip
import os

import numpy as np
import pytest
from PIL import Image

from jcnn.data import importers, sources, store
from tests.data.conftest import idx_bytes, write_idx_dir


def test_import_idx_found_by_name(tmp_path):
    data = write_idx_dir(tmp_path / "raw", gz=False)
    importers.import_idx("fashion_mnist", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    src = sources.source("fashion_mnist", "test", data_dir=str(tmp_path / "d"))
    assert len(src) == 20
    np.testing.assert_array_equal(src[4]["image"][..., 0], data["test"][0][4])
    assert src[4]["label"] == data["test"][1][4]
    assert sources.info("fashion_mnist", str(tmp_path / "d")).origin == "jcnn"


def test_corrupt_idx_leaves_nothing(tmp_path):
    write_idx_dir(tmp_path / "raw")
    bad = idx_bytes(np.zeros((20, 8, 6), np.uint8), 2051)[:-7]  # truncated test images
    with gzip.open(tmp_path / "raw" / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bad)
    with pytest.raises(ValueError, match="t10k-images"):
        importers.import_idx("broken", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    assert not os.path.exists(tmp_path / "d") or os.listdir(tmp_path / "d") == []


def test_missing_from_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        importers.import_idx("x", str(tmp_path / "nope"), data_dir=str(tmp_path))


def _write_png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def test_import_folder_rgb_with_splits(tmp_path):
    rng = np.random.default_rng(0)
    expected = {}
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            for i in range(3):
                array = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
                _write_png(str(tmp_path / "raw" / split / cls / f"{i}.png"), array)
                expected[(split, cls, i)] = array
    importers.import_folder("pets", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    meta = store.read_meta("pets", str(tmp_path / "d"))
    assert meta["splits"] == {"test": 6, "train": 6} and meta["class_names"] == ["cat", "dog"]
    src = sources.source("pets", "train", str(tmp_path / "d"))
    np.testing.assert_array_equal(src[4]["image"], expected[("train", "dog", 1)])  # sorted: cat 0-2, dog 3-5
    assert src[4]["label"] == 1


def test_import_folder_gray_single_split(tmp_path):
    for cls in ("a", "b", "c"):
        _write_png(str(tmp_path / "raw" / cls / "x.png"), np.full((4, 4), ord(cls), np.uint8))
    importers.import_folder("letters", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    src = sources.source("letters", "train", str(tmp_path / "d"))
    assert src[2]["image"].shape == (4, 4, 1) and src[2]["image"][0, 0, 0] == ord("c")
    assert sources.info("letters", str(tmp_path / "d")).num_classes == 3


def test_import_folder_mixed_sizes(tmp_path):
    _write_png(str(tmp_path / "raw" / "a" / "1.png"), np.zeros((4, 4), np.uint8))
    _write_png(str(tmp_path / "raw" / "b" / "2.png"), np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match="has shape"):
        importers.import_folder("m", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    assert not os.path.exists(tmp_path / "d" / "m")


def test_import_folder_no_classes(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        importers.import_folder("m", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"))
