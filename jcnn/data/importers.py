"""Offline import of raw files into jcnn's layout (``jcnn.data.store``).

Two raw formats: the four IDX files of MNIST / Fashion-MNIST (gzipped or not),
and an image folder with one subfolder per class (optionally one level of split
folders above them). Also prepares the MNIST files shipped inside the package.
"""

from __future__ import annotations

import os

import numpy as np

from jcnn.data import idx, store

EMBEDDED_MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _progress_bar(total: int, desc: str):
    from tqdm.auto import tqdm  # only when importing: tqdm is not needed to read data

    return tqdm(total=total, desc=desc, unit="split", leave=False)


def _check_free(name: str, data_dir, overwrite: bool) -> None:
    """Fails before any reading when ``name`` is already imported and ``overwrite`` is False."""
    if not overwrite and store.read_meta(name, data_dir) is not None:
        raise ValueError(f"import: data set name={name!r} is already imported in {store.resolve_data_dir(data_dir)!r}; "
                         f"pass overwrite=True (CLI: --force) to replace it")


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
      ValueError: bad magic number, truncated file, count mismatch, labels out of range.
    """
    if not os.path.isdir(from_dir):
        raise FileNotFoundError(f"import_idx: from_dir={from_dir!r} is not a directory")
    _check_free(name, data_dir, overwrite)
    splits = {split: idx.read_idx_split(from_dir, split) for split in idx.IDX_FILES}
    bar = _progress_bar(len(splits), f"writing {name}") if progress else None
    try:
        return store.write_dataset(name, splits, num_classes=num_classes, data_dir=data_dir,
                                   source=source or os.path.abspath(from_dir), overwrite=overwrite,
                                   progress=(lambda _: bar.update(1)) if bar else None)
    finally:
        if bar is not None:
            bar.close()


def _read_image(path: str, mode: str) -> np.ndarray:
    from PIL import Image  # Pillow ships with matplotlib

    with Image.open(path) as im:
        array = np.asarray(im.convert(mode), dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array  # (H, W, C)


def _scan_classes(directory: str) -> dict[str, list[str]]:
    classes = sorted(d for d in os.listdir(directory)
                     if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
    return {c: sorted(os.path.join(directory, c, f) for f in os.listdir(os.path.join(directory, c))
                      if f.lower().endswith(IMAGE_SUFFIXES)) for c in classes}


def import_folder(name: str, from_dir: str, *, data_dir: str | None = None, overwrite: bool = False,
                  progress: bool = True) -> str:
    """Imports an image folder as data set ``name``.

    Two shapes are accepted: ``from_dir/<class>/<image>`` (one split, ``train``) or
    ``from_dir/<split>/<class>/<image>`` when every subfolder of ``from_dir`` is a
    known split name (``train``, ``test``, ``validation``). Classes are the sorted
    subfolder names, labels their positions. Images are read with Pillow; if any
    image has colour, all are converted to RGB, else to grayscale.

    Args:
      name: data set name.
      from_dir: the folder described above.
      data_dir: where to write; default ``store.default_data_dir()``.
      overwrite: replace an existing import.
      progress: show a tqdm bar over images.
    Returns:
      The data set's folder; images (N, H, W, C) uint8 with C = 1 or 3.
    Raises:
      FileNotFoundError: ``from_dir`` missing. ValueError: no classes, no images, unreadable
        images, images of different sizes, or splits with different classes.
    """
    if not os.path.isdir(from_dir):
        raise FileNotFoundError(f"import_folder: from_dir={from_dir!r} is not a directory")
    _check_free(name, data_dir, overwrite)
    top = _scan_classes(from_dir)
    split_names = {"train", "test", "validation"}
    if top and set(top) <= split_names:
        layout = {split: _scan_classes(os.path.join(from_dir, split)) for split in top}
    else:
        layout = {"train": top}
    class_sets = {split: tuple(classes) for split, classes in layout.items()}
    classes = class_sets[next(iter(class_sets))]
    if not classes:
        raise ValueError(f"import_folder: no class subfolders in {from_dir!r}; expected DIR/<class>/<image>")
    for split, names in class_sets.items():
        if names != classes:
            raise ValueError(f"import_folder: split {split!r} has classes {list(names)}, expected {list(classes)}")
    files = [(split, label, path) for split, per_class in layout.items()
             for label, cls in enumerate(classes) for path in per_class[cls]]
    if not files:
        raise ValueError(f"import_folder: no images ({', '.join(IMAGE_SUFFIXES)}) under {from_dir!r}")
    from PIL import Image

    modes = set()
    for _, _, path in files:
        try:
            with Image.open(path) as im:
                modes.add(im.mode)
        except OSError as e:
            raise ValueError(f"import_folder: cannot read image {path!r} ({e})") from e
    mode = "L" if modes <= {"L", "1", "I", "I;16"} else "RGB"
    bar = _progress_bar(len(files), f"reading {name}") if progress else None
    arrays: dict[str, tuple[list, list]] = {split: ([], []) for split in layout}
    shape = None
    for split, label, path in files:
        image = _read_image(path, mode)
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            raise ValueError(f"import_folder: {path!r} has shape {image.shape}, the first image has {shape}; "
                             f"resize the images to one size before importing")
        arrays[split][0].append(image)
        arrays[split][1].append(label)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    splits = {split: (np.stack(ims), np.asarray(labels, np.int32)) for split, (ims, labels) in arrays.items()
              if ims}
    return store.write_dataset(name, splits, num_classes=len(classes), data_dir=data_dir,
                               class_names=list(classes), source=os.path.abspath(from_dir), overwrite=overwrite)


def prepare_embedded_mnist(data_dir: str | None = None, *, progress: bool = True) -> str:
    """Imports the MNIST files shipped in ``jcnn/data/mnist/`` into ``data_dir`` (done once, then cached).

    Returns:
      The data set's folder. Raises FileNotFoundError if the package was installed without them.
    """
    return import_idx("mnist", EMBEDDED_MNIST_DIR, data_dir=data_dir, progress=progress,
                      source="embedded: jcnn/data/mnist (original MNIST, recompressed)")
