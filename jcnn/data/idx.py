"""Reading the IDX format of the original MNIST / Fashion-MNIST files.

An IDX file is a big-endian header -- two zero bytes, a type code, the number
of dimensions ``ndim``, then ``ndim`` uint32 sizes (``4 + 4 * ndim`` bytes in
all) -- followed by the array in C order. MNIST uses type 0x08 (uint8); images
have magic 2051 (ndim 3) and labels magic 2049 (ndim 1). Files may be gzipped.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dims (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dim (N,)

# Original file names of the four MNIST files per split; Fashion-MNIST uses the same.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find_idx_file(directory: str, stem: str) -> str:
    """Path of ``stem`` or ``stem.gz`` in ``directory`` (also the ``stem.idx3-ubyte`` dot spelling).

    Raises:
      FileNotFoundError: naming the directory and every spelling tried.
    """
    alternatives = [stem, stem.replace("-idx", ".idx")]
    tried = []
    for name in alternatives:
        for candidate in (name, name + ".gz"):
            path = os.path.join(directory, candidate)
            tried.append(candidate)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(f"IDX file {stem!r} not found in {directory!r} (tried {', '.join(tried)})")


def read_idx(path: str, *, magic: int) -> np.ndarray:
    """Reads one uint8 IDX file and checks its magic number and size.

    Args:
      path: an IDX file, gzipped if its first two bytes are the gzip signature.
      magic: expected magic number, ``IMAGES_MAGIC`` (2051) or ``LABELS_MAGIC`` (2049).
    Returns:
      uint8 array: (N, rows, cols) for images, (N,) for labels.
    Raises:
      ValueError: wrong magic number, or a data section shorter or longer than the header says.
    """
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:  # a truncated or corrupt gzip stream (bad CRC, bad data)
        raise ValueError(f"read_idx: {path!r} is not a readable IDX file ({e})") from e
    if len(data) < 4:
        raise ValueError(f"read_idx: {path!r} is too short ({len(data)} bytes) to hold an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"read_idx: {path!r} has magic number {found}, expected {magic} "
                         f"({'images' if magic == IMAGES_MAGIC else 'labels'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {path!r} is truncated inside its {header}-byte header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"read_idx: {path!r} holds {len(data) - header} data bytes, header shape "
                         f"{shape} needs {expected} (truncated or corrupt file)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_split(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split of an MNIST-style IDX directory.

    Args:
      directory: holds the original four files (gzipped or not).
      split: ``"train"`` or ``"test"``.
    Returns:
      images (N, 28, 28, 1) uint8 and labels (N,) uint8.
    Raises:
      FileNotFoundError: a file is missing. ValueError: bad magic, size, or image/label count mismatch.
    """
    image_stem, label_stem = IDX_FILES[split]
    images = read_idx(find_idx_file(directory, image_stem), magic=IMAGES_MAGIC)
    labels = read_idx(find_idx_file(directory, label_stem), magic=LABELS_MAGIC)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"read_idx_split: {split} images must have 3 dims and labels 1, "
                         f"got shapes {images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"read_idx_split: {split} has {len(images)} images but {len(labels)} labels in {directory!r}")
    return images[..., None], labels  # (N, rows, cols, 1)
