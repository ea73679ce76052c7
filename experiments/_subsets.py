"""Small MNIST data sets for the experiments: the first N training examples as their own data set.

jcnn's MNIST store has only whole ``train``/``test`` splits (no ``train[:1000]``
slicing for imported sets), so an experiment that wants a training subset, or
a quick small setting, writes one with ``jcnn.data.store.write_dataset`` into
a scratch ``data_dir`` and points ``cfg.data.name``/``cfg.data.data_dir`` at it.
The subset is class-balanced and a pure function of (n_train, n_test, seed).
"""

from __future__ import annotations

import numpy as np

import jcnn.data
from jcnn.data import store


def balanced(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` examples, as equal a share of each class as possible, in a seeded order."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(10)]
    take = [p[: n // 10 + (1 if c < n % 10 else 0)] for c, p in enumerate(per_class)]
    return np.sort(np.concatenate(take))


def mnist_subset(data_dir, n_train: int, n_test: int | None = None, *, seed: int = 0) -> str:
    """Write ``mnist_<n_train>[_<n_test>]`` into ``data_dir`` (if absent); returns its name.

    Train: ``n_train`` class-balanced MNIST training examples; test: the whole
    MNIST test split, or its ``n_test`` balanced examples.
    """
    name = f"mnist_{n_train}" + (f"_{n_test}" if n_test else "") + (f"_s{seed}" if seed else "")
    if store.read_meta(name, data_dir) is not None:
        return name
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        src = jcnn.data.source("mnist", split)
        images, labels = src.get_batch(np.arange(len(src)))
        idx = np.arange(len(labels)) if n is None else balanced(np.asarray(labels), n, seed)
        splits[split] = (np.asarray(images[idx], np.uint8), np.asarray(labels[idx], np.int64))
    store.write_dataset(name, splits, num_classes=10, data_dir=str(data_dir),
                        source=f"jcnn embedded MNIST, {n_train} balanced train / {n_test or 'all'} test, seed {seed}")
    return name
