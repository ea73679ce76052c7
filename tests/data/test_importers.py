"""jcnn.data.importers: IDX imports, atomic on failure, clean errors."""

import gzip
import os

import numpy as np
import pytest

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


def test_corrupt_gzip_is_a_value_error_naming_the_file(tmp_path):
    """Regression: a damaged deflate stream raised zlib.error (a traceback from the CLI)."""
    write_idx_dir(tmp_path / "raw")
    path = tmp_path / "raw" / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[20:40] = b"\xff" * 20  # inside the compressed data: zlib reports an invalid block
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*not a readable IDX file"):
        importers.import_idx("broken", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)


def test_invalid_name_refused_before_reading(tmp_path):
    with pytest.raises(ValueError, match=r"import_idx: name='a/b' must be ASCII letters"):
        importers.import_idx("a/b", str(tmp_path / "does-not-exist"), data_dir=str(tmp_path / "d"))
