"""jcnn.data.idx: IDX parsing, magic numbers and size checks."""

import gzip

import numpy as np
import pytest

from jcnn.data import idx
from tests.data.conftest import idx_bytes, write_idx_dir


@pytest.mark.parametrize("gz", [True, False])
def test_read_split_round_trip(tmp_path, gz):
    data = write_idx_dir(tmp_path, gz=gz)
    for split in ("train", "test"):
        images, labels = idx.read_idx_split(str(tmp_path), split)
        np.testing.assert_array_equal(images, data[split][0][..., None])
        np.testing.assert_array_equal(labels, data[split][1])
        assert images.shape == (len(labels), 8, 6, 1)


def test_wrong_magic(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8), 2049))
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        idx.read_idx(str(path), magic=idx.IMAGES_MAGIC)


@pytest.mark.parametrize("cut", [2, 9, 1])
def test_truncated(tmp_path, cut):
    raw = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 2051)
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw[:-cut] if cut != 9 else raw[:9])  # cut 9: inside the 16-byte header
    with pytest.raises(ValueError, match="truncated|needs"):
        idx.read_idx(str(path), magic=2051)


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:
        f.write(idx_bytes(np.zeros((5, 4, 4), np.uint8), 2051))
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="not a readable IDX"):
        idx.read_idx(str(path), magic=2051)


def test_too_long(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8), 2049) + b"\0")
    with pytest.raises(ValueError, match="holds 4 data bytes"):
        idx.read_idx(str(path), magic=2049)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        idx.read_idx_split(str(tmp_path), "train")


def test_count_mismatch(tmp_path):
    write_idx_dir(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8), 2049))
    with pytest.raises(ValueError, match="60 images but 5 labels"):
        idx.read_idx_split(str(tmp_path), "train")
