"""jcnn's own on-disk layout for imported data sets: names, metadata, atomic writes, array sources.

Two formats share one folder layout (``<data_dir>/<name>/meta.json`` plus data files):

``jcnn-npy-1`` -- fixed-size pixels (MNIST, CIFAR)::

    <split>.images.npy     (N, H, W, C) uint8, read with np.load(mmap_mode="r")
    <split>.labels.npy     (N,) int32

Plain ``.npy`` files memory-map in microseconds and let a whole batch be gathered
with one fancy index; for 32x32 pixels that beats storing encoded PNGs.

``jcnn-records-1`` -- encoded images of any size (image folders, ImageNet),
written by ``jcnn.data.records``: ``<split>-NNNNN.array_record`` files.

A data set is written into a hidden staging folder ``.<name>.tmp-<pid>-*`` next
to its final place and renamed into place only when complete, so a failed or
killed import never leaves a half-written data set under the name, and an
earlier data set of that name stays intact until the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable

import numpy as np

FORMAT = "jcnn-npy-1"
RECORDS_FORMAT = "jcnn-records-1"
FORMATS = (FORMAT, RECORDS_FORMAT)
META = "meta.json"


def default_data_dir() -> str:
    """``$JCNN_DATA_DIR`` if set, else ``~/.cache/jcnn/data``."""
    return os.environ.get("JCNN_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "jcnn", "data")


def resolve_data_dir(data_dir: str | os.PathLike | None) -> str:
    """``data_dir`` as a string, or the default when it is None.

    Raises:
      ValueError: the folder exists as a file (``$JCNN_DATA_DIR`` or ``data_dir`` pointing at a file).
    """
    root = default_data_dir() if data_dir is None else os.fspath(data_dir)
    if os.path.exists(root) and not os.path.isdir(root):
        what = "$JCNN_DATA_DIR" if data_dir is None and os.environ.get("JCNN_DATA_DIR") else "data_dir"
        raise ValueError(f"data dir: {what}={root!r} is a file, not a folder; point it at a folder "
                         f"(it is created when missing)")
    return root


def check_name(name, fn: str = "import") -> str:
    """A data set name is a folder name: letters, digits, ``_``, ``-``, ``.`` (not leading).

    Raises:
      TypeError: not a str. ValueError: anything else (names the function and the value).
    """
    if not isinstance(name, str):
        raise TypeError(f"{fn}: name={name!r} must be a str")
    if not name or not all(c.isascii() and (c.isalnum() or c in "_-.") for c in name) or name.startswith("."):
        raise ValueError(f"{fn}: name={name!r} must be ASCII letters, digits, '_', '-' or '.' (not leading)")
    return name


def read_meta(name: str, data_dir: str | os.PathLike | None = None) -> dict | None:
    """The metadata of an imported data set, or None when ``name`` was never imported there."""
    path = os.path.join(resolve_data_dir(data_dir), name, META)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        meta = json.load(f)
    if meta.get("format") not in FORMATS:
        raise ValueError(f"read_meta: {path!r} has format {meta.get('format')!r}, expected one of {FORMATS}; "
                         f"re-import the data set with `python -m jcnn data import {name} --from DIR --force`")
    return meta


def list_imported(data_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Metadata of every data set imported into ``data_dir``, by name."""
    root = resolve_data_dir(data_dir)
    if not os.path.isdir(root):
        return {}
    found = {}
    for name in sorted(os.listdir(root)):
        if not name.startswith(".") and os.path.isfile(os.path.join(root, name, META)):
            found[name] = read_meta(name, root)
    return found


def check_free(name: str, data_dir, overwrite: bool, fn: str = "import") -> None:
    """Fails before any reading when ``name`` is invalid, or already imported and ``overwrite`` is False."""
    check_name(name, fn)
    if not overwrite and os.path.exists(os.path.join(resolve_data_dir(data_dir), name)):
        raise ValueError(f"{fn}: data set name={name!r} is already imported in {resolve_data_dir(data_dir)!r}; "
                         f"pass overwrite=True (CLI: --force) to replace it")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_staging(root: str, name: str) -> None:
    """Removes staging folders of ``name`` left by killed imports (their pid is gone)."""
    prefix = f".{name}.tmp-"
    for entry in os.listdir(root):
        if entry.startswith(prefix):
            pid = entry[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(os.path.join(root, entry), ignore_errors=True)


@contextlib.contextmanager
def staging(name: str, data_dir=None, *, overwrite: bool = False):
    """Yields an empty hidden folder; on normal exit it becomes ``<data_dir>/<name>`` in one rename.

    On an exception the folder is removed and an earlier data set of that name is untouched;
    on a kill it stays hidden (dot-name, skipped by every lookup) and the next import removes it.
    """
    check_name(name, "import")
    root = resolve_data_dir(data_dir)
    final = os.path.join(root, name)
    if os.path.exists(final) and not overwrite:
        raise ValueError(f"import: data set {name!r} already exists at {final!r}; pass overwrite=True "
                         f"(CLI: --force) to replace it")
    os.makedirs(root, exist_ok=True)
    _remove_stale_staging(root, name)
    tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=root)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only; the data set is meant to be shared
        yield tmp
        if os.path.exists(final):  # overwrite: move the old copy aside first, delete it after the swap
            old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=root)
            os.rename(final, os.path.join(old, name))
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_meta(folder: str, meta: dict) -> None:
    with open(os.path.join(folder, META), "w") as f:
        json.dump(meta, f, indent=2)


def write_dataset(name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], *, num_classes: int,
                  data_dir: str | os.PathLike | None = None, class_names: list[str] | None = None,
                  source: str = "", overwrite: bool = False,
                  progress: Callable[[str], None] | None = None) -> str:
    """Writes a fixed-size data set in the ``jcnn-npy-1`` layout, atomically.

    Args:
      name: data set name (a folder name: letters, digits, ``_``, ``-``, ``.``).
      splits: split name -> (images (N, H, W, C) uint8, labels (N,) integer); all splits share H, W, C.
      num_classes: number of classes; every label must lie in ``[0, num_classes)``.
      data_dir: parent folder; default ``default_data_dir()``.
      class_names: optional names, ``num_classes`` of them.
      source: where the data came from, kept in the metadata.
      overwrite: replace an existing data set of that name.
      progress: called with each split name as it is written.
    Returns:
      The data set's folder.
    Raises:
      ValueError: bad name, shapes, dtypes or labels; or the data set exists and ``overwrite`` is False.
    """
    check_name(name, "write_dataset")
    if not splits:
        raise ValueError(f"write_dataset: splits={splits!r} must hold at least one split")
    shapes = set()
    for split, (images, labels) in splits.items():
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"write_dataset: split {split!r} images must be (N, H, W, C) uint8, "
                             f"got {images.shape} {images.dtype}")
        if labels.shape != (len(images),):
            raise ValueError(f"write_dataset: split {split!r} labels shape {labels.shape} must be ({len(images)},)")
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"write_dataset: split {split!r} labels span [{labels.min()}, {labels.max()}], "
                             f"outside [0, num_classes={num_classes})")
        shapes.add(images.shape[1:])
    if len(shapes) != 1:
        raise ValueError(f"write_dataset: all splits must share one image shape, got {sorted(shapes)}")
    with staging(name, data_dir, overwrite=overwrite) as tmp:
        for split, (images, labels) in splits.items():
            if progress is not None:
                progress(split)
            np.save(os.path.join(tmp, f"{split}.images.npy"), images)
            np.save(os.path.join(tmp, f"{split}.labels.npy"), labels.astype(np.int32))
        write_meta(tmp, {"format": FORMAT, "name": name, "num_classes": int(num_classes),
                         "image_shape": [int(s) for s in shapes.pop()],
                         "splits": {split: int(len(labels)) for split, (_, labels) in splits.items()},
                         "class_names": list(class_names) if class_names is not None else None,
                         "source": source})
    return os.path.join(resolve_data_dir(data_dir), name)


class LocalSource:
    """Random access to one split of a ``jcnn-npy-1`` data set.

    ``source[i]`` is ``{"image": (H, W, C) uint8, "label": int32 scalar}``;
    ``source.get_batch(indices)`` gathers many at once. Picklable (it reopens its
    memory maps by path), so grain worker processes can use it.
    """

    def __init__(self, name: str, split: str, data_dir: str | os.PathLike | None = None):
        self.name, self.split, self.data_dir = name, split, resolve_data_dir(data_dir)
        meta = read_meta(name, self.data_dir)
        if meta is None:
            raise FileNotFoundError(f"LocalSource: no data set {name!r} in {self.data_dir!r}")
        if split not in meta["splits"]:
            raise ValueError(f"LocalSource: split={split!r} not in data set {name!r}; "
                             f"splits are {sorted(meta['splits'])}")
        self.meta = meta
        self._arrays = None

    def _open(self) -> None:
        base = os.path.join(self.data_dir, self.name, self.split)
        for suffix in (".images.npy", ".labels.npy"):
            if not os.path.isfile(base + suffix):
                raise FileNotFoundError(f"LocalSource: missing {base + suffix!r}; re-import with "
                                        f"`python -m jcnn data import {self.name} --from DIR --force`")
        # One assignment: grain's reader threads may call this concurrently.
        self._arrays = (np.load(base + ".images.npy", mmap_mode="r"), np.load(base + ".labels.npy", mmap_mode="r"))

    def __getstate__(self):
        return {"name": self.name, "split": self.split, "data_dir": self.data_dir, "meta": self.meta}

    def __setstate__(self, state):
        self.__dict__.update(state, _arrays=None)

    def __len__(self) -> int:
        return int(self.meta["splits"][self.split])

    def __getitem__(self, i: int) -> dict:
        if self._arrays is None:
            self._open()
        images, labels = self._arrays
        return {"image": np.asarray(images[i]), "label": np.int32(labels[i])}

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gathers examples: indices (N,) -> images (N, H, W, C) uint8, labels (N,) int32."""
        if self._arrays is None:
            self._open()
        all_images, all_labels = self._arrays
        indices = np.asarray(indices)
        order = np.argsort(indices, kind="stable")  # sorted reads are kinder to the page cache
        images = np.empty((len(indices), *all_images.shape[1:]), np.uint8)
        images[order] = all_images[indices[order]]
        return images, np.asarray(all_labels[indices], np.int32)

    def get_items(self, indices: np.ndarray) -> tuple[list, np.ndarray]:
        """indices (N,) -> (N arrays (H, W, C) uint8, labels (N,) int32), for per-example transforms."""
        images, labels = self.get_batch(indices)
        return list(images), labels

    def __repr__(self) -> str:
        return f"LocalSource({self.name!r}, {self.split!r}, n={len(self)}, data_dir={self.data_dir!r})"
