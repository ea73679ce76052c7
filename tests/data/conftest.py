"""Fixtures for jcnn.data tests: small generated IDX files and throw-away data dirs.

No test writes to ~/.cache: ``JCNN_DATA_DIR`` points into a temporary folder for
every test, and tests pass ``data_dir`` explicitly where it matters.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """The IDX encoding of a uint8 array, written from the format's definition."""
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def write_idx_dir(directory, *, n_train=60, n_test=20, size=(8, 6), gz=True, seed=0):
    """Writes the four MNIST-style files of random data; returns {split: (images, labels)}."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, (n, *size), dtype=np.uint8)
        labels = rng.integers(0, 10, (n,), dtype=np.uint8)
        for kind, array, magic in (("images-idx3", images, 2051), ("labels-idx1", labels, 2049)):
            path = os.path.join(directory, f"{prefix}-{kind}-ubyte")
            raw = idx_bytes(array, magic)
            if gz:
                with gzip.open(path + ".gz", "wb") as f:
                    f.write(raw)
            else:
                with open(path, "wb") as f:
                    f.write(raw)
        data[split] = (images, labels)
    return data


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "jcnn_data"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A 'tiny' IDX data set (train 60, test 20, 8x6x1) imported into its own data dir."""
    from jcnn.data import importers

    root = tmp_path_factory.mktemp("tiny")
    data = write_idx_dir(root / "raw")
    importers.import_idx("tiny", str(root / "raw"), data_dir=str(root / "data"), progress=False)
    return {"data_dir": str(root / "data"), "data": data}


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A data dir holding the embedded MNIST, prepared once per test process."""
    from jcnn.data import sources

    root = str(tmp_path_factory.mktemp("mnist"))
    sources.source("mnist", "train", root, progress=False)
    return root
