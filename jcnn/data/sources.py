"""Data sets by name: random-access sources and their metadata.

A name resolves, in order, to (1) a data set imported into jcnn's layout
(``jcnn.data.store``) under ``data_dir``, (2) a prepared TFDS data set read with
``tfds.data_source`` (array_record, no TensorFlow), and for ``"mnist"`` only
(3) the MNIST files shipped inside the package, imported into ``data_dir`` on
first use. Nothing is ever downloaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import os

import numpy as np

from jcnn.data import importers, photos, records, store, synthetic


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a data set.

    Attributes:
      name: data set name.
      num_classes: number of label values.
      image_shape: (H, W, C); H and W are None for variable-size data sets (imagenet2012).
      splits: split name -> number of examples (None where unknown before preparation).
      class_names: label names, or None.
      origin: ``"jcnn"`` (imported), ``"tfds"`` (prepared TFDS), ``"builtin"`` (generated: ``synthetic``)
        or ``"catalogue"`` (known, not yet on disk).
    """

    name: str
    num_classes: int
    image_shape: tuple
    splits: dict
    class_names: tuple | None = None
    origin: str = "catalogue"


def _entry(num_classes, shape, **splits):
    return {"num_classes": num_classes, "image_shape": shape, "splits": splits}


# Published sizes of the image-classification data sets jcnn knows by name.
CATALOGUE = {
    "mnist": _entry(10, (28, 28, 1), train=60000, test=10000),
    "fashion_mnist": _entry(10, (28, 28, 1), train=60000, test=10000),
    "kmnist": _entry(10, (28, 28, 1), train=60000, test=10000),
    "cifar10": _entry(10, (32, 32, 3), train=50000, test=10000),
    "cifar100": _entry(100, (32, 32, 3), train=50000, test=10000),
    "svhn_cropped": _entry(10, (32, 32, 3), train=73257, test=26032, extra=531131),
    "imagenet2012": _entry(1000, (None, None, 3), train=1281167, validation=50000),
    "imagenette": _entry(10, (None, None, 3), train=9469, validation=3925),
    # Built in, generated (jcnn/data/synthetic.py): smoke runs and tests.
    "synthetic": _entry(synthetic.NUM_CLASSES, synthetic.SHAPE, **synthetic.SPLITS),
    # Built in, generated from scikit-image's photographs on first use (jcnn/data/photos.py): ImageNet smoke runs.
    photos.NAME: _entry(10, (None, None, 3), **photos.SPLITS),
}


BUILTIN = ("synthetic",)  # generated in memory, never on disk


class DatasetNotFoundError(FileNotFoundError, ValueError):
    """A data set name that resolves to nothing on disk (a ValueError and a FileNotFoundError)."""


def _import_hint(name: str) -> str:
    if name in ("mnist", "fashion_mnist", "kmnist"):
        return f"`python -m jcnn data import {name} --from DIR`"
    if name.startswith("cifar"):
        return f"`python -m jcnn data import {name} --from {name.replace('cifar', 'cifar-')}-python.tar.gz`"
    return f"`python -m jcnn data import {name} --from DIR` (DIR/<class>/<image> or DIR/train/<class>/<image>)"


@contextlib.contextmanager
def _quiet_absl():
    """TFDS logs "Variant folder ... has no dataset_info.json" warnings while merely probing for a data set
    that is not there (jcnn asks TFDS on every first use of a name); silence them during the probe only."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def tfds_builder(name: str, data_dir):
    """The TFDS builder of ``name``, or None when TFDS has no such data set."""
    import tensorflow_datasets as tfds

    try:
        with _quiet_absl():
            return tfds.builder(name, data_dir=data_dir)
    except Exception:  # noqa: BLE001 -- DatasetNotFoundError, or a builder whose code needs TensorFlow
        return None


def tfds_prepared(builder) -> bool:
    """Whether a TFDS builder's data is prepared (TFDS's probe warnings silenced)."""
    if builder is None:
        return False
    with _quiet_absl():
        return bool(builder.is_prepared())


def known_names(data_dir=None) -> list[str]:
    """Names in the catalogue plus every data set imported into ``data_dir``."""
    return sorted(set(CATALOGUE) | set(store.list_imported(data_dir)))


def _unknown(name: str, data_dir) -> ValueError:
    names = known_names(data_dir)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return ValueError(f"unknown data set name={name!r}.{hint} Known: {', '.join(names)}. Any prepared TFDS "
                      f"data set also works by name; to add your own: {_import_hint(name)}")


def info(name: str, data_dir=None) -> DatasetInfo:
    """Metadata of a data set by name (imported, prepared TFDS, or catalogue).

    Args:
      name: e.g. ``"mnist"``, ``"cifar10"``, or an imported name.
      data_dir: jcnn / TFDS data folder; default ``$JCNN_DATA_DIR`` or ``~/.cache/jcnn/data``
        for jcnn imports and TFDS's own default for TFDS.
    Returns:
      A ``DatasetInfo``.
    Raises:
      TypeError: ``name`` not a string. ValueError: a name nobody knows (lists the known ones).
    """
    if not isinstance(name, str):
        raise TypeError(f"info: name={name!r} must be a str")
    meta = store.read_meta(name, data_dir)
    if meta is not None:
        names = tuple(meta["class_names"]) if meta.get("class_names") else None
        return DatasetInfo(name, meta["num_classes"], tuple(meta["image_shape"]), dict(meta["splits"]), names, "jcnn")
    if name in BUILTIN or name == photos.NAME:
        entry = CATALOGUE[name]
        return DatasetInfo(name, entry["num_classes"], entry["image_shape"], dict(entry["splits"]), None, "builtin")
    builder = tfds_builder(name, data_dir)
    if tfds_prepared(builder):
        features = builder.info.features
        image, label = features["image"], features["label"]
        names = tuple(label.names) if getattr(label, "names", None) else None
        splits = {k: int(v.num_examples) for k, v in builder.info.splits.items()}
        return DatasetInfo(name, int(label.num_classes), tuple(image.shape), splits, names, "tfds")
    if name in CATALOGUE:
        entry = CATALOGUE[name]
        return DatasetInfo(name, entry["num_classes"], entry["image_shape"], dict(entry["splits"]))
    if builder is not None:
        raise DatasetNotFoundError(f"info: TFDS data set {name!r} is not prepared (data_dir={data_dir!r}) and not "
                                   f"imported; import it with {_import_hint(name)}")
    raise _unknown(name, data_dir)


def _check_split(name: str, split, splits) -> None:
    if not isinstance(split, str):
        raise TypeError(f"source: split={split!r} must be a str such as 'train' or 'test[:10%]'")
    if not splits:
        return  # unknown before preparation; TFDS checks it
    for part in split.split("+"):
        base = part.split("[")[0].strip()
        if base not in splits:
            raise ValueError(f"source: split={split!r} is not a split of {name!r}; splits are {sorted(splits)}")


class TfdsSource:
    """Adapter over ``tfds.data_source``: ``{"image": (H, W, C) uint8, "label": int32}``, ``get_batch``, ``get_items``.

    With ``encoded=True`` (variable-size data sets such as imagenet2012 and imagenette) TFDS skips
    its own full-size decode and ``get_items`` hands the JPEG bytes to ``jcnn.data.transforms``,
    which decode at reduced size.
    """

    def __init__(self, tfds_source, name: str, split: str, *, encoded: bool = False):
        self.source, self.name, self.split, self.encoded = tfds_source, name, split, encoded

    def __len__(self) -> int:
        return len(self.source)

    def _examples(self, indices) -> list:
        keys = [int(i) for i in indices]
        try:
            return list(self.source.__getitems__(keys))
        except (AttributeError, TypeError):  # no batched read (as under tfds.testing.mock_data)
            return [self.source[k] for k in keys]

    def __getitem__(self, i: int) -> dict:
        (image,), (label,) = self.get_items([i])
        image = records.open_image(image, 3) if isinstance(image, bytes) else image
        return {"image": image, "label": np.int32(label)}

    def get_items(self, indices) -> tuple[list, np.ndarray]:
        """indices (N,) -> (N encoded images (bytes) or (H, W, C) uint8 arrays, labels (N,) int32)."""
        examples = self._examples(indices)
        items = [bytes(ex["image"]) if self.encoded else np.asarray(ex["image"], np.uint8) for ex in examples]
        return items, np.asarray([ex["label"] for ex in examples], np.int32)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """indices (N,) -> images (N, H, W, C) uint8, labels (N,) int32."""
        items, labels = self.get_items(indices)
        return np.stack([records.open_image(x, 3) if isinstance(x, bytes) else x for x in items]), labels

    def __repr__(self) -> str:
        return f"TfdsSource({self.name!r}, {self.split!r}, n={len(self)}, encoded={self.encoded})"


def _tfds_source(tfds, builder, name: str, split: str, data_dir) -> TfdsSource:
    """A TfdsSource; variable-size images stay encoded when TFDS can skip decoding them."""
    kwargs = {"split": split, "data_dir": data_dir, "download": False}
    shape = (tuple(builder.info.features["image"].shape) if tfds_prepared(builder)
             else tuple(CATALOGUE.get(name, {}).get("image_shape", (None,))))
    if None in shape:
        try:
            encoded = tfds.data_source(name, decoders={"image": tfds.decode.SkipDecoding()}, **kwargs)
            if len(encoded) and isinstance(encoded[0]["image"], (bytes, np.bytes_)):
                return TfdsSource(encoded, name, split, encoded=True)
        except Exception:  # noqa: BLE001 -- e.g. tfds.testing.mock_data, whose encoder needs TensorFlow
            pass
    return TfdsSource(tfds.data_source(name, **kwargs), name, split)


def source(name: str, split: str, data_dir=None, *, progress: bool = True):
    """A random-access source over one split of a data set.

    Args:
      name: data set name (see ``info``).
      split: split name; TFDS slicing (``"train[:10%]"``) works for TFDS data sets.
      data_dir: as in ``info``.
      progress: show a progress bar if the embedded MNIST has to be prepared.
    Returns:
      An object with ``len()``, ``src[i] -> {"image": (H, W, C) uint8, "label": int32}`` and
      ``get_batch(indices (N,)) -> (images (N, H, W, C) uint8, labels (N,) int32)``.
    Raises:
      TypeError: non-string name or split. ValueError: unknown name or split.
      DatasetNotFoundError: a known name with no data on disk (message gives the paths and the import command).
    """
    if not isinstance(name, str):
        raise TypeError(f"source: name={name!r} must be a str")
    if name == "synthetic":
        _check_split(name, split, synthetic.SPLITS)
        return synthetic.SyntheticSource(split)
    meta = store.read_meta(name, data_dir)
    if meta is None and name == photos.NAME:
        _check_split(name, split, photos.SPLITS)
        photos.prepare(data_dir, progress=progress)
        meta = store.read_meta(name, data_dir)
    if meta is not None:
        _check_split(name, split, meta["splits"])
        if meta["format"] == store.RECORDS_FORMAT:
            return records.RecordSource(name, split, data_dir)
        return store.LocalSource(name, split, data_dir)
    builder = tfds_builder(name, data_dir)
    if builder is not None:
        prepared = tfds_prepared(builder)
        splits = dict(builder.info.splits) if prepared else CATALOGUE.get(name, {}).get("splits")
        _check_split(name, split, splits)
        import tensorflow_datasets as tfds

        try:  # download=False: never fetch; under tfds.testing.mock_data this returns mock examples
            with _quiet_absl():
                return _tfds_source(tfds, builder, name, split, data_dir)
        except Exception as e:  # noqa: BLE001 -- TFDS raises several types for "not prepared"
            if prepared:
                raise
            tfds_error = e
    elif name not in CATALOGUE:
        raise _unknown(name, data_dir)
    else:
        _check_split(name, split, CATALOGUE[name]["splits"])
        tfds_error = None
    if name == "mnist":
        try:
            importers.prepare_embedded_mnist(data_dir, progress=progress)
        except (ValueError, OSError):
            if store.read_meta(name, data_dir) is None:  # not just another process winning the race
                raise
        return store.LocalSource(name, split, data_dir)
    jcnn_dir = os.path.join(store.resolve_data_dir(data_dir), name, store.META)
    tfds_dir = builder.data_path if builder is not None else "(not a TFDS name)"
    raise DatasetNotFoundError(
        f"source: data set name={name!r} is not on disk: no jcnn import at {jcnn_dir!r} and no prepared TFDS "
        f"files at {os.fspath(tfds_dir)!r}. Import it offline with {_import_hint(name)}"
        + (f" (TFDS said: {type(tfds_error).__name__})" if tfds_error is not None else ""))
