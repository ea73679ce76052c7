"""The grain input pipeline: deterministic, shardable, resumable batches.

Batches are built from a random-access table of *steps*: step ``s`` belongs to
epoch ``e = s // steps_per_epoch``, whose order is the permutation drawn from
``np.random.default_rng([seed, e])`` -- a pure function of (seed, epoch). With
``shard=(i, k)`` every process uses the same permutation and takes the ``i``-th
of ``k`` equal parts of each *global* batch of ``k * b`` consecutive examples,
so shards never overlap within an epoch, every process runs the same number of
steps, and the global batch at every step is the one a single process with
batch ``k * b`` reads: the data order does not depend on the process count. Each batch gathers its examples with one
vectorised read (``source.get_batch``), so the per-example Python cost of
grain's element-wise path is paid once per batch. The iterator is grain's own:
``get_state()`` / ``set_state()`` resume at the exact batch, and
``grain.checkpoint`` can save it.
"""

from __future__ import annotations

import os
import sys

import grain
import numpy as np

from jcnn.data import augment as augment_lib
from jcnn.data import sources, transforms


def _check_int(value, arg: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise (TypeError if not isinstance(value, (int, np.integer)) or isinstance(value, bool) else ValueError)(
            f"pipeline: {arg}={value!r} must be an int >= {minimum}")
    return int(value)


def check_shard(shard) -> tuple[int, int]:
    """``None`` -> (0, 1); ``(index, count)`` checked: ints with 0 <= index < count."""
    if shard is None:
        return 0, 1
    if (not isinstance(shard, (tuple, list)) or len(shard) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shard)):
        raise TypeError(f"pipeline: shard={shard!r} must be None or a pair (index, count) of ints, "
                        f"e.g. (jax.process_index(), jax.process_count())")
    index, count = int(shard[0]), int(shard[1])
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"pipeline: shard={shard!r} must satisfy 0 <= index < count")
    return index, count


class StepTable:
    """Random access: step -> ``{"step": int64, "index": (b,) int64}``, the examples of that batch.

    Args:
      num_examples: size of the whole split (n). shard: (index, count).
      batch_size: b. seed: order seed. shuffle: permute each epoch (else natural order).
      drop_remainder: drop each epoch's last partial batch. num_epochs: None for forever.
    """

    def __init__(self, num_examples: int, *, shard: tuple[int, int], batch_size: int, seed: int,
                 shuffle: bool, drop_remainder: bool, num_epochs: int | None):
        self.num_examples, self.batch_size, self.seed, self.shuffle = num_examples, batch_size, seed, shuffle
        self.index, self.count = shard
        self.shard_size = num_examples // self.count  # the < count leftover examples are never used
        self.steps_per_epoch = (self.shard_size // batch_size if drop_remainder
                                else -(-self.shard_size // batch_size))
        self.num_epochs = num_epochs
        self._cache: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return sys.maxsize if self.num_epochs is None else self.steps_per_epoch * self.num_epochs

    def epoch_order(self, epoch: int) -> np.ndarray:
        """This shard's example indices for ``epoch``: (shard_size,) int64."""
        cached = self._cache  # read once: grain's reader threads share this table
        if cached is not None and cached[0] == epoch:
            return cached[1]
        order = (np.random.default_rng([self.seed, epoch]).permutation(self.num_examples) if self.shuffle
                 else np.arange(self.num_examples))
        # Part i of each global batch of k*b examples, then part i of what is left (partial batches, kept
        # when drop_remainder is False); shard_size = full / k + (n - full) // k examples.
        k, b = self.count, self.batch_size
        full = self.num_examples // (k * b) * (k * b)
        tail = (self.num_examples - full) // k
        order = np.concatenate([order[:full].reshape(-1, k, b)[:, self.index].reshape(-1),
                                order[full + self.index * tail:full + (self.index + 1) * tail]]).astype(np.int64)
        self._cache = (epoch, order)
        return order

    def __getitem__(self, step: int) -> dict:
        epoch, position = divmod(int(step), self.steps_per_epoch)
        order = self.epoch_order(epoch)
        return {"step": np.int64(step),
                "index": order[position * self.batch_size:(position + 1) * self.batch_size]}

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_cache"} | {"_cache": None}


class LoadBatch:
    """grain map: ``{"step", "index"}`` -> adds ``"image"`` (b, H, W, C) uint8 and ``"label"`` (b,) int32.

    Without a transform the source's stored pixels are gathered; with one, each example is
    decoded and transformed (``jcnn.data.transforms``) with randomness from
    (seed, epoch, index), epoch = step // steps_per_epoch. NumPy and Pillow only: it runs
    in grain's reader threads or worker processes.
    """

    def __init__(self, source, *, transform=None, channels: int = 3, seed: int = 0, steps_per_epoch: int = 1):
        self.source, self.transform, self.channels = source, transform, channels
        self.seed, self.steps_per_epoch = seed, steps_per_epoch

    def __call__(self, element: dict) -> dict:
        indices = element["index"]
        if self.transform is None:
            images, labels = self.source.get_batch(indices)
        else:
            epoch = int(element["step"]) // self.steps_per_epoch
            items, labels = self.source.get_items(indices)
            size = self.transform.size
            images = np.empty((len(items), size, size, self.channels), np.uint8)
            for k, (item, i) in enumerate(zip(items, indices)):  # each writes its slot: no per-image copy
                self.transform(item, channels=self.channels, seed=self.seed, epoch=epoch, index=int(i),
                               out=images[k])
        return {"image": images, "label": labels, "index": indices, "step": element["step"]}


class Finish:
    """grain map in the main process: optional jitted augmentation on the host CPU, then drops ``"step"``."""

    def __init__(self, augment_batch):
        self.augment_batch = augment_batch

    def __call__(self, element: dict) -> dict:
        step = element.pop("step")
        if self.augment_batch is not None:
            import jax

            images = element["image"].astype(np.float32) * np.float32(1 / 255)  # augmentation works in [0, 1]
            with jax.default_device(jax.devices("cpu")[0]):
                element["image"] = np.asarray(self.augment_batch(step, images, element["index"]))
        return element


def _absl_flags_parsed():
    """grain's worker processes read absl flags; outside ``absl.app.run`` nobody parsed them, and grain raises
    ``UnparsedFlagAccessError`` (every config with ``data.worker_count > 0`` crashed from the CLI)."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


class Pipeline:
    """An iterable of batches ``{"image": (N, H, W, C) uint8, "label": (N,) int32, "index": (N,) int64}``.

    ``iter(pipeline)`` is a grain ``DatasetIterator`` with ``get_state()`` / ``set_state()``.

    Attributes:
      info: the data set's ``DatasetInfo``. source: the random-access source.
      image_shape: (H, W, C) of every batch's images (after the transform, if any).
      steps_per_epoch: batches per epoch on this shard. num_examples: examples per epoch on this shard.
      augment_batch: jitted ``f(step, images, indices) -> images`` for the ``augment`` spec, or None;
        the training loop may call it on device itself (with ``augment=None`` here).
      dataset: the underlying grain ``IterDataset``.
    """

    def __init__(self, source, info, table: StepTable, *, augment_spec, augment_seed: int, worker_count: int,
                 transform=None):
        self.source, self.info, self.table, self.transform = source, info, table, transform
        channels = int(info.image_shape[-1])
        self.image_shape = (tuple(info.image_shape) if transform is None
                            else (transform.size, transform.size, channels))
        self.steps_per_epoch, self.num_examples = table.steps_per_epoch, table.shard_size
        self.augment_batch = (augment_lib.batch_augmenter(augment_spec, augment_seed)
                              if augment_spec else None)
        load = LoadBatch(source, transform=transform, channels=channels, seed=augment_seed,
                         steps_per_epoch=table.steps_per_epoch)
        # Bounded read-ahead: grain's default (500 batches) would hold gigabytes of 224x224 images.
        # In worker processes each worker reads one batch at a time and the processes give the
        # parallelism; in-process, threads do (Pillow releases the GIL while decoding and resizing).
        threads = 1 if worker_count > 0 else min(16, os.cpu_count() or 1)
        read = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2 * threads)
        ds = grain.MapDataset.source(table).map(load).to_iter_dataset(read)
        if worker_count > 0:
            _absl_flags_parsed()
            ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count))
        self.dataset = ds.map(Finish(self.augment_batch))

    def __iter__(self):
        return iter(self.dataset)

    def __len__(self) -> int:
        if self.table.num_epochs is None:
            raise TypeError("pipeline: len() of a pipeline with num_epochs=None (endless) is undefined")
        return len(self.table)

    def __repr__(self) -> str:
        return (f"Pipeline({self.info.name!r}, n={self.num_examples}, batch_size={self.table.batch_size}, "
                f"image_shape={self.image_shape}, steps_per_epoch={self.steps_per_epoch}, "
                f"epochs={self.table.num_epochs})")


def pipeline(name: str, split: str, *, batch_size: int, seed: int, augment=None, shard=None,
             num_epochs: int | None = None, shuffle: bool = True, drop_remainder: bool = True,
             data_dir=None, worker_count: int = 0, transform=None) -> Pipeline:
    """Batches of a data set by name, deterministic in (seed, epoch) and resumable.

    Args:
      name: data set name (``jcnn.data.info`` lists the kinds); ``"mnist"`` works offline.
      split: split name, e.g. ``"train"``, ``"test"``.
      batch_size: N, examples per batch.
      seed: order, transform and augmentation seed.
      augment: None, or a spec for ``jcnn.data.augment.build`` applied on the host CPU, jitted, with
        per-example keys ``fold_in(fold_in(key(seed), step), index)``, step = batch position in the stream.
        Its batches are float32 in [0, 1] (or as normalised by the spec).
      shard: None or (index, count): this process's disjoint part of every epoch.
      num_epochs: None repeats forever.
      shuffle: new permutation each epoch; else natural order.
      drop_remainder: drop the last partial batch of each epoch.
      data_dir: see ``jcnn.data.source``.
      worker_count: grain worker processes (0 reads in threads of this process); with > 0 the entry point
        needs an ``if __name__ == "__main__":`` guard.
      transform: None (images as stored; all one size), or a per-example host transform from
        ``jcnn.data.transforms`` (``RandomResizedCrop(224)`` to train, ``CenterCrop(224)`` to evaluate;
        ``transforms.for_config(cfg.data, train=...)`` builds them from a config). Needed for data sets
        of variable image size (ImageNet).
    Returns:
      A ``Pipeline``: iterable of ``{"image": (N, H, W, C) uint8 (float32 with ``augment``),
      "label": (N,) int32, "index": (N,) int64}``.
    Raises:
      TypeError / ValueError: bad arguments (named with their value), unknown data set or split,
      batch larger than the (shard of the) split, variable-size images without a transform.
    """
    batch_size = _check_int(batch_size, "batch_size", minimum=1)
    seed = _check_int(seed, "seed", minimum=0)
    worker_count = _check_int(worker_count, "worker_count", minimum=0)
    if num_epochs is not None:
        num_epochs = _check_int(num_epochs, "num_epochs", minimum=1)
    shard = check_shard(shard)
    if augment is not None:
        augment_lib.build(augment)  # fail now, in Python, on a bad spec
    if transform is not None and not isinstance(transform, (transforms.RandomResizedCrop, transforms.CenterCrop)):
        raise TypeError(f"pipeline: transform={transform!r} must be None, jcnn.data.transforms.RandomResizedCrop "
                        f"or jcnn.data.transforms.CenterCrop")
    info = sources.info(name, data_dir)
    if transform is None and None in info.image_shape:
        raise ValueError(f"pipeline: data set {name!r} has variable image sizes {info.image_shape}; pass "
                         f"transform=jcnn.data.transforms.RandomResizedCrop(224) (or CenterCrop) to decode each "
                         f"image to one size (config: data.image_size)")
    src = sources.source(name, split, data_dir)
    if transform is not None and not hasattr(src, "get_items"):
        raise TypeError(f"pipeline: the source of {name!r} ({type(src).__name__}) has no get_items() for "
                        f"per-example transforms")
    n = len(src)
    if n // shard[1] == 0:
        raise ValueError(f"pipeline: shard={shard} leaves no examples of the {n} in {name!r} split {split!r}")
    table = StepTable(n, shard=shard, batch_size=batch_size, seed=seed, shuffle=bool(shuffle),
                      drop_remainder=bool(drop_remainder), num_epochs=num_epochs)
    if table.steps_per_epoch == 0:
        raise ValueError(f"pipeline: batch_size={batch_size} is larger than the {table.shard_size} examples of "
                         f"{name!r} split {split!r}" + (f" on shard {shard}" if shard[1] > 1 else "")
                         + " (with drop_remainder=True)")
    return Pipeline(src, info, table, augment_spec=augment, augment_seed=seed, worker_count=worker_count,
                    transform=transform)
