"""A stand-in for ``jcnn.data`` following its spec, used only while that package lacks ``pipeline``.

``install()`` adds ``pipeline``, ``source`` and ``info`` to ``jcnn.data`` if
it does not define them yet (a no-op once the real package lands). Data sets:
``synthetic`` (28x28x1, 10 classes, 512 train / 128 test, generated) and
``mnist`` (read from IDX files in $JCNN_MNIST_DIR, for local runs only).
"""

from __future__ import annotations

import gzip
import os
import pathlib

import numpy as np


class _Synthetic:
    def __init__(self, split):
        self.n = 512 if split == "train" else 128
        self.offset = 0 if split == "train" else 10_000
        rng = np.random.default_rng(1234)
        self.templates = rng.uniform(0, 1, (10, 28, 28, 1)).astype(np.float32)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        label = int(i % 10)
        noise = np.random.default_rng(self.offset + int(i)).uniform(0, 1, (28, 28, 1)).astype(np.float32)
        return {"image": 0.7 * self.templates[label] + 0.3 * noise, "label": label}


class _Mnist:
    def __init__(self, split):
        root = pathlib.Path(os.environ.get("JCNN_MNIST_DIR", "/work/shared/data/mnist"))
        pre = "train" if split == "train" else "t10k"
        with gzip.open(root / f"{pre}-images-idx3-ubyte.gz") as f:
            self.images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        with gzip.open(root / f"{pre}-labels-idx1-ubyte.gz") as f:
            self.labels = np.frombuffer(f.read(), np.uint8, offset=8)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"image": self.images[i].astype(np.float32) / 255.0, "label": int(self.labels[i])}


_CACHE = {}


def source(name, split, data_dir=None):
    key = (name, split)
    if key not in _CACHE:
        if name == "synthetic":
            _CACHE[key] = _Synthetic(split)
        elif name == "mnist":
            _CACHE[key] = _Mnist(split)
        else:
            raise ValueError(f"fake jcnn.data: unknown data set {name!r}")
    return _CACHE[key]


def info(name):
    return {"name": name, "shape": (28, 28, 1), "num_classes": 10, "fake": True}


class _Iterator:
    def __init__(self, src, batch_size, seed, shard, num_epochs, shuffle, drop_remainder):
        self.src, self.b, self.seed, self.shuffle = src, batch_size, seed, shuffle
        self.num_epochs, self.drop = num_epochs, drop_remainder
        self.pid, self.pc = shard if shard else (0, 1)
        self.per = len(src) // self.pc
        self.nb = self.per // batch_size if drop_remainder else -(-self.per // batch_size)
        self.pos = 0

    def _order(self, epoch):
        idx = np.arange(len(self.src))
        if self.shuffle:
            idx = np.random.default_rng((self.seed, epoch)).permutation(len(self.src))
        return idx[self.pid * self.per:(self.pid + 1) * self.per]

    def __iter__(self):
        return self

    def __next__(self):
        epoch, k = divmod(self.pos, self.nb)
        if self.num_epochs is not None and epoch >= self.num_epochs:
            raise StopIteration
        ids = self._order(epoch)[k * self.b:(k + 1) * self.b]
        self.pos += 1
        items = [self.src[int(i)] for i in ids]
        return {"image": np.stack([it["image"] for it in items]).astype(np.float32),
                "label": np.asarray([it["label"] for it in items], np.int32),
                "index": ids.astype(np.int64)}

    def get_state(self):
        return {"pos": self.pos}

    def set_state(self, state):
        self.pos = int(state["pos"])


class _Pipeline:
    def __init__(self, *args):
        self.args = args

    def __iter__(self):
        return _Iterator(*self.args)


def pipeline(name, split, *, batch_size, seed, augment=None, shard=None, num_epochs=None, shuffle=True,
             drop_remainder=True, data_dir=None, worker_count=0):
    return _Pipeline(source(name, split, data_dir), batch_size, seed, shard, num_epochs, shuffle, drop_remainder)


def install():
    """Give ``jcnn.data`` a ``synthetic`` set (and everything, if it has no ``pipeline`` yet)."""
    import jcnn.data
    if not hasattr(jcnn.data, "pipeline"):
        jcnn.data.pipeline, jcnn.data.source, jcnn.data.info = pipeline, source, info
        return
    try:
        if "synthetic" in jcnn.data.known_names():
            return
    except Exception:  # noqa: BLE001
        pass
    if getattr(jcnn.data.pipeline, "_fake", False):
        return
    real_pipeline, real_info = jcnn.data.pipeline, jcnn.data.info

    def pipeline_(name, split, **kw):
        return (pipeline if name == "synthetic" else real_pipeline)(name, split, **kw)

    def info_(name, *a, **kw):
        return info(name) if name == "synthetic" else real_info(name, *a, **kw)

    pipeline_._fake = True
    jcnn.data.pipeline, jcnn.data.info = pipeline_, info_
