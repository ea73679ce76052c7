"""Encoded-image records (``jcnn-records-1``): ArrayRecord files of JPEG/PNG bytes, label and size.

Each record is ``uint32 little-endian header length | JSON header | image bytes``,
the header ``{"label", "class", "height", "width", "file"}`` (original size, the
file's path relative to the imported folder). The bytes are the file's own
(a JPEG is stored as it is), so an import never decodes-and-re-encodes and the
training pipeline can decode at reduced size (``jcnn.data.transforms``).

Files are ArrayRecord (the random-access format grain and TFDS read) with
``group_size:1`` -- one record per chunk, so a random read touches one record --
and no compression, as JPEG/PNG bytes do not compress. A split is written as
numbered files of about ``SHARD_BYTES`` each (ImageNet's train split: ~140).
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from jcnn.data import codec, store

SHARD_BYTES = 1 << 30
WRITER_OPTIONS = "group_size:1,uncompressed"
_LEN = struct.Struct("<I")


def encode(image: bytes, *, label: int, class_name: str, height: int, width: int, file: str) -> bytes:
    """One record: header + the encoded image bytes."""
    header = json.dumps({"label": int(label), "class": class_name, "height": int(height), "width": int(width),
                         "file": file}, separators=(",", ":")).encode()
    return _LEN.pack(len(header)) + header + image


def decode(record: bytes) -> tuple[dict, bytes]:
    """A record -> (header dict, image bytes)."""
    (n,) = _LEN.unpack_from(record)
    return json.loads(record[4:4 + n]), record[4 + n:]


def shard_name(split: str, i: int) -> str:
    return f"{split}-{i:05d}.array_record"


class SplitWriter:
    """Appends records of one split to numbered ArrayRecord files in ``folder``; ``close()`` -> file names."""

    def __init__(self, folder: str, split: str, *, shard_bytes: int = SHARD_BYTES):
        self.folder, self.split, self.shard_bytes = folder, split, shard_bytes
        self.files: list[str] = []
        self.count = 0
        self._writer, self._bytes = None, 0

    def write(self, record: bytes) -> None:
        if self._writer is None or self._bytes >= self.shard_bytes:
            self._close_file()
            from array_record.python.array_record_module import ArrayRecordWriter

            self.files.append(shard_name(self.split, len(self.files)))
            self._writer = ArrayRecordWriter(os.path.join(self.folder, self.files[-1]), WRITER_OPTIONS)
            self._bytes = 0
        self._writer.write(record)
        self._bytes += len(record)
        self.count += 1

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> list[str]:
        self._close_file()
        return self.files


def open_image(data: bytes, channels: int):
    """Fully decoded ``(H, W, C)`` uint8 array of encoded bytes, C = ``channels`` (1 or 3)."""
    return codec.decode(data, channels)


class RecordSource:
    """Random access to one split of a ``jcnn-records-1`` data set.

    ``source[i]`` is ``{"image": (H, W, C) uint8 (full decode), "label": int32, "file": str}``;
    ``get_items(indices)`` returns the encoded bytes for a transform to decode at the size it needs;
    ``get_batch(indices)`` decodes and stacks (only for data sets whose images share one size).
    Picklable (files are reopened by path), so grain worker processes can use it.
    """

    def __init__(self, name: str, split: str, data_dir=None):
        self.name, self.split, self.data_dir = name, split, store.resolve_data_dir(data_dir)
        meta = store.read_meta(name, self.data_dir)
        if meta is None:
            raise FileNotFoundError(f"RecordSource: no data set {name!r} in {self.data_dir!r}")
        if split not in meta["splits"]:
            raise ValueError(f"RecordSource: split={split!r} not in data set {name!r}; "
                             f"splits are {sorted(meta['splits'])}")
        self.meta, self.channels = meta, int(meta["image_shape"][-1])
        self._reader = None

    def _open(self):
        from array_record.python.array_record_data_source import ArrayRecordDataSource

        paths = [os.path.join(self.data_dir, self.name, f) for f in self.meta["files"][self.split]]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"RecordSource: missing {path!r}; re-import with "
                                        f"`python -m jcnn data import {self.name} --from DIR --force`")
        reader = ArrayRecordDataSource(paths)
        if len(reader) != len(self):
            raise ValueError(f"RecordSource: {self.name!r} split {self.split!r} holds {len(reader)} records, "
                             f"meta.json says {len(self)}; re-import with --force")
        self._reader = reader  # one assignment: grain's reader threads may get here concurrently
        return reader

    def __getstate__(self):
        return {"name": self.name, "split": self.split, "data_dir": self.data_dir, "meta": self.meta,
                "channels": self.channels}

    def __setstate__(self, state):
        self.__dict__.update(state, _reader=None)

    def __len__(self) -> int:
        return int(self.meta["splits"][self.split])

    def records(self, indices) -> list[tuple[dict, bytes]]:
        """(header, image bytes) of each index."""
        reader = self._reader or self._open()
        keys = [int(i) for i in indices]
        for k in keys:
            if not 0 <= k < len(self):
                raise IndexError(f"RecordSource: index {k} out of range [0, {len(self)}) of {self.name!r}")
        return [decode(r) for r in reader.__getitems__(keys)]

    def __getitem__(self, i: int) -> dict:
        (header, data), = self.records([i])
        return {"image": open_image(data, self.channels), "label": np.int32(header["label"]),
                "file": header["file"]}

    def get_items(self, indices) -> tuple[list[bytes], np.ndarray]:
        """indices (N,) -> (N encoded images, labels (N,) int32)."""
        recs = self.records(indices)
        return [data for _, data in recs], np.asarray([h["label"] for h, _ in recs], np.int32)

    def get_batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """indices (N,) -> images (N, H, W, C) uint8 (all one size), labels (N,) int32."""
        items, labels = self.get_items(indices)
        return np.stack([open_image(d, self.channels) for d in items]), labels

    def __repr__(self) -> str:
        return f"RecordSource({self.name!r}, {self.split!r}, n={len(self)}, data_dir={self.data_dir!r})"
