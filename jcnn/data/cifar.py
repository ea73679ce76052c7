"""Import of the official CIFAR-10 / CIFAR-100 "python version" archives (Krizhevsky 2009).

``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/{data_batch_1..5,
test_batch, batches.meta}``; ``cifar-100-python.tar.gz`` holds
``cifar-100-python/{train, test, meta}``. Each batch is a pickled dict whose
``data`` is (N, 3072) uint8, one row per image in channel-major order (1024 red,
1024 green, 1024 blue values, each row-major 32x32), with ``labels`` (CIFAR-10)
or ``fine_labels`` (CIFAR-100, 100 classes; the 20 coarse labels are not kept).
The archive (or its extracted folder) is read as torchvision and TFDS read it,
but through an unpickler that only admits the NumPy array types these files
use, so a malicious archive cannot run code. The pixels go to the ``jcnn-npy-1``
layout as (N, 32, 32, 3): at 32x32 plain arrays are faster to batch than encoded images.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from jcnn.data import store

VARIANTS = {
    "cifar10": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"],
                "meta": "batches.meta", "labels": b"labels", "names": b"label_names", "classes": 10},
    "cifar100": {"train": ["train"], "test": ["test"], "meta": "meta", "labels": b"fine_labels",
                 "names": b"fine_label_names", "classes": 100},
}
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (CIFAR files hold only arrays)")
        return super().find_class(module, name)


def _unpickle(data: bytes, where: str) -> dict:
    try:
        return _ArraysOnly(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 -- a corrupt pickle raises many types
        raise ValueError(f"import_cifar: {where} is not a CIFAR batch ({type(e).__name__}: {e})") from None


def looks_like_cifar(path: str) -> bool:
    """True for a CIFAR archive file or a folder holding (a folder of) CIFAR batches."""
    if os.path.isfile(path):
        return path.endswith((".tar.gz", ".tgz", ".tar"))
    return _batch_folder(path) is not None


def _batch_folder(path: str) -> str | None:
    for folder in (path, os.path.join(path, "cifar-10-batches-py"), os.path.join(path, "cifar-100-python")):
        if os.path.isfile(os.path.join(folder, "batches.meta")) or os.path.isfile(os.path.join(folder, "meta")):
            return folder
    return None


def _read_members(path: str) -> dict[str, bytes]:
    """Base name -> bytes of every file in the archive or folder that a CIFAR variant uses."""
    wanted = {n for v in VARIANTS.values() for n in (*v["train"], *v["test"], v["meta"])}
    found = {}
    if os.path.isdir(path):
        folder = _batch_folder(path)
        if folder is None:
            raise ValueError(f"import_cifar: {path!r} holds no CIFAR batches (batches.meta or meta)")
        for name in wanted:
            if os.path.isfile(os.path.join(folder, name)):
                with open(os.path.join(folder, name), "rb") as f:
                    found[name] = f.read()
        return found
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":  # decompress whole: gzip's CRC then catches damage tarfile would stop at
            raw = gzip.decompress(raw)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if member.isfile() and base in wanted:
                    found[base] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        raise ValueError(f"import_cifar: {path!r} is not a readable archive ({type(e).__name__}: {e})") from None
    return found


def read_cifar(path: str) -> tuple[str, dict, list[str]]:
    """Parses a CIFAR archive or folder.

    Returns:
      (variant ``"cifar10"``/``"cifar100"``, {split: (images (N, 32, 32, 3) uint8, labels (N,) int32)}, class names).
    Raises:
      ValueError: unreadable archive, missing batches (named), malformed batches.
    """
    members = _read_members(path)
    variant = "cifar10" if "batches.meta" in members else "cifar100" if "meta" in members else None
    if variant is None:
        raise ValueError(f"import_cifar: {path!r} holds neither batches.meta (CIFAR-10) nor meta (CIFAR-100)")
    spec = VARIANTS[variant]
    missing = [n for n in (*spec["train"], *spec["test"]) if n not in members]
    if missing:
        raise ValueError(f"import_cifar: {path!r} ({variant}) lacks {', '.join(missing)}")
    names = [n.decode() for n in _unpickle(members[spec["meta"]], spec["meta"])[spec["names"]]]
    splits = {}
    for split in ("train", "test"):
        images, labels = [], []
        for batch in spec[split]:
            d = _unpickle(members[batch], batch)
            data = np.asarray(d.get(b"data"))
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or spec["labels"] not in d:
                raise ValueError(f"import_cifar: {batch} in {path!r} has data {data.shape} {data.dtype}; expected "
                                 f"(N, 3072) uint8 and {spec['labels'].decode()!r}")
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))  # (N, 32, 32, 3)
            labels.append(np.asarray(d[spec["labels"]], np.int32))
        splits[split] = (np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels))
    return variant, splits, names


def import_cifar(name: str, path: str, *, data_dir: str | None = None, overwrite: bool = False) -> str:
    """Imports ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` (or the extracted folder) as ``name``.

    Returns:
      The data set's folder: splits ``train`` (50000, 32, 32, 3) and ``test`` (10000, 32, 32, 3) uint8.
    Raises:
      FileNotFoundError: ``path`` missing. ValueError: bad name, unreadable or incomplete archive.
    """
    store.check_free(name, data_dir, overwrite)
    if not os.path.exists(path):
        raise FileNotFoundError(f"import_cifar: {path!r} does not exist")
    variant, splits, names = read_cifar(path)
    return store.write_dataset(name, splits, num_classes=VARIANTS[variant]["classes"], data_dir=data_dir,
                               class_names=names, source=f"{variant}: {os.path.abspath(path)}", overwrite=overwrite)
