"""Offline import of IDX files (MNIST / Fashion-MNIST / KMNIST) and the MNIST shipped in the package.

Image folders (``jcnn.data.image_import``) and CIFAR archives (``jcnn.data.cifar``)
have their own modules; ``python -m jcnn data import`` picks one by ``--format``.
"""

from __future__ import annotations

import os

from jcnn.data import idx, store

EMBEDDED_MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist")


def _progress_bar(total: int, desc: str):
    from tqdm.auto import tqdm  # only when importing: tqdm is not needed to read data

    return tqdm(total=total, desc=desc, unit="split", leave=False)


def import_idx(name: str, from_dir: str, *, data_dir: str | None = None, overwrite: bool = False,
               num_classes: int = 10, progress: bool = True, source: str | None = None) -> str:
    """Imports MNIST-style IDX files (train + test) as data set ``name``.

    Args:
      name: data set name to register, e.g. ``"mnist"`` or ``"fashion_mnist"``.
      from_dir: folder with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
        ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``.
      data_dir: where to write; default ``store.default_data_dir()``.
      overwrite: replace an existing import.
      num_classes: label range.
      progress: show a tqdm bar.
      source: provenance note for the metadata (default: ``from_dir``).
    Returns:
      The data set's folder. Splits ``train`` (N, 28, 28, 1) and ``test``.
    Raises:
      FileNotFoundError: ``from_dir`` or one of the four files is missing (named in the message).
      ValueError: bad name, bad magic number, truncated or corrupt (gzip) file, count mismatch, labels out of range.
    """
    store.check_free(name, data_dir, overwrite, "import_idx")
    if not os.path.isdir(from_dir):
        raise FileNotFoundError(f"import_idx: from_dir={from_dir!r} is not a directory")
    splits = {split: idx.read_idx_split(from_dir, split) for split in idx.IDX_FILES}
    bar = _progress_bar(len(splits), f"writing {name}") if progress else None
    try:
        return store.write_dataset(name, splits, num_classes=num_classes, data_dir=data_dir,
                                   source=source or os.path.abspath(from_dir), overwrite=overwrite,
                                   progress=(lambda _: bar.update(1)) if bar else None)
    finally:
        if bar is not None:
            bar.close()


def prepare_embedded_mnist(data_dir: str | None = None, *, progress: bool = True) -> str:
    """Imports the MNIST files shipped in ``jcnn/data/mnist/`` into ``data_dir`` (done once, then cached).

    Returns:
      The data set's folder. Raises FileNotFoundError if the package was installed without them.
    """
    return import_idx("mnist", EMBEDDED_MNIST_DIR, data_dir=data_dir, progress=progress,
                      source="embedded: jcnn/data/mnist (original MNIST, recompressed)")
