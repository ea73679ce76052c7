"""Experiment 8: augmentation on small MNIST training sets, tested on clean, shifted and rotated digits.

    python experiments/augmentation.py --out experiments/results/augmentation [--small]

LeNet-5 (modern, the ``lenet5_mnist`` recipe: SGD Nesterov, cosine lr 0.05,
weight decay 5e-4, batch 128) trained on the first class-balanced 1,000 and
5,000 MNIST training examples, with and without the augmentation
``crop(28, pad=2)|rotate(10)`` (a random shift of up to 2 pixels, then a
random rotation in [-10, 10] degrees, applied per example in the training
step, ``jcnn.data.augment``). Every run takes the same number of steps (full:
1,000; small: 15 at batch 32 on 256 examples). Test sets: the 10,000 MNIST
test digits as they are, shifted by 2 pixels down and 2 right (zero fill),
and rotated by 15 degrees counter-clockwise (bilinear), both made with
``jcnn.data.augment.translate_image`` / ``rotate_image``. The subsets are
written as their own data sets (jcnn's imported MNIST has no
``train[:1000]`` slicing) in a scratch ``data_dir``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import jax
import numpy as np

import jcnn.data
import jcnn.train
from jcnn.data import augment, store

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402
import _subsets  # noqa: E402

SPEC = "crop(28, pad=2)|rotate(10)"
TESTS = {"clean": "test", "shift 2px": "test_shift2", "rotate 15deg": "test_rot15"}


def _transform(images: np.ndarray, fn) -> np.ndarray:
    x = jax.vmap(fn)(jax.numpy.asarray(images, jax.numpy.float32) / 255.0)
    return np.asarray(np.clip(np.round(np.asarray(x) * 255.0), 0, 255), np.uint8)


def write_subset(data_dir, n_train: int, n_test: int | None) -> str:
    """``augstudy_<n>``: n balanced training digits; test, test_shift2 and test_rot15 splits."""
    name = f"augstudy_{n_train}" + (f"_{n_test}" if n_test else "")
    if store.read_meta(name, data_dir) is not None:
        return name
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        src = jcnn.data.source("mnist", split)
        images, labels = src.get_batch(np.arange(len(src)))
        idx = np.arange(len(labels)) if n is None else _subsets.balanced(np.asarray(labels), n, 0)
        splits[split] = (np.asarray(images[idx], np.uint8), np.asarray(labels[idx], np.int64))
    test_x, test_y = splits["test"]
    splits["test_shift2"] = (_transform(test_x, lambda im: augment.translate_image(im, 2, 2)), test_y)
    splits["test_rot15"] = (_transform(test_x, lambda im: augment.rotate_image(im, 15.0)), test_y)
    store.write_dataset(name, splits, num_classes=10, data_dir=str(data_dir),
                        source=f"jcnn embedded MNIST: {n_train} balanced train digits; test shifted/rotated copies")
    return name


def run(out, *, small=False):
    sizes = (256,) if small else (1000, 5000)
    rows = []
    with tempfile.TemporaryDirectory(prefix="jcnn_augment_") as tmp:
        tmp = pathlib.Path(tmp)
        data_dir = tmp / "data"
        for n in sizes:
            name = write_subset(data_dir, n, 128 if small else None)
            for aug in ("", SPEC):
                overrides = [f"data.name={name}", f"data.data_dir={data_dir}", f"data.augment={aug}",
                             "eval.every=0", "checkpoint.every=0", "checkpoint.keep=1"]
                overrides += (["train.steps=15", "train.batch_size=32", "train.log_every=5", "eval.batch_size=128",
                               "schedule.warmup_steps=0"] if small else
                              ["train.steps=1000", "train.log_every=100", "schedule.warmup_steps=50"])
                workdir = tmp / f"{n}_{'aug' if aug else 'plain'}"
                row = {"train_examples": n, "augment": aug or "none"}
                for label, split in TESTS.items():
                    cfg = jcnn.train.load_config("lenet5_mnist", overrides=overrides + [f"data.eval_split={split}"])
                    # The first call trains; later calls resume at the last step and only test on `split`.
                    s = jcnn.train.train(cfg, workdir, progress=False, log=lambda msg: None)
                    row["steps"] = s["step"]
                    row[label] = round(100 * s["test_accuracy"], 2)
                rows.append(row)
    return _report.write(out, title="Augmentation on small MNIST training sets (test accuracy %)", rows=rows,
                         columns=["train_examples", "augment", "steps", *TESTS], notes=__doc__.split("\n\n", 2)[2],
                         small=small, augment_spec=SPEC)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/augmentation")
    ap.add_argument("--small", action="store_true", help="15 steps on 256 examples (the test setting)")
    args = ap.parse_args(argv)
    out = run(args.out, small=args.small)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
