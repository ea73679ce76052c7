"""Input pipeline throughput: MNIST batches, and ImageNet-like JPEG decoding (``imagenet`` case).

ImageNet case (``_input_imagenet.py``): 500x375 quality-90 JPEGs through jcnn's
train and eval transforms at 224, per core (process CPU time per image, which
the other processes of a shared machine disturb less than wall time), beside
the plainest Pillow code doing the same work, that code plus the float work of
ToTensor + Normalize, and torchvision's standard pipeline (ImageFolder +
RandomResizedCrop + DataLoader) run by ``--torch-python`` (an interpreter with
torch and torchvision, e.g. a separate venv; ``_input_torchvision.py``). Then
the scaling from 1 to 2 grain worker processes, the eval difference from
resizing the whole image first, and the cores for ResNet-50 at 3,000 img/s.
``--case decoders``: the decoder/resizer candidates behind ``jcnn/data/codec.py``.

Rows: plain batches (gather + uint8 -> float32), the same with host-side jitted
augmentation (the default spec below, and a heavier one), and the jitted
batched augmentation alone on a ready batch (the cost the training loop pays if
it augments on device instead). The comparison target is the training step: a
LeNet-5 step on this 2-core CPU runs at about 5,000 img/s (shared/NOTES.md), so
the pipeline should stay well above that to never be the bottleneck. The
"train step img/s" column is filled when a callable is passed to ``run`` (or
``--train-step module:function`` returning img/s); otherwise it shows the
target. The load average is printed: other processes on 2 cores skew timings.

    python experiments/benchmarks/input.py [--case mnist|imagenet|decoders|all] [--quick] [--out FILE.json]
        [--torch-python /path/to/venv/bin/python] [--images 400] [--reps 5]
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import itertools
import json
import os
import platform
import sys
import time

import jax
import numpy as np

import _input_imagenet as imagenet  # beside this script, which Python puts on sys.path
import jcnn.data as data

LENET5_STEP_IMG_S = 5000  # shared/NOTES.md: hand-written JAX LeNet-5 step, batch 128, this CPU
SPECS = {
    "none": None,
    "default": "flip_lr|crop(28, pad=2)|rotate(15)|brightness(0.2)|normalize(0.1307, 0.3081)",
    "heavy": "crop(28, pad=2)|rotate(15)|scale(0.9, 1.1)|translate(0.1)|brightness(0.2)|contrast(0.2)|"
             "sharpness(0.5)|noise(0.02)|cutout(8)|normalize(0.1307, 0.3081)",
}


def pipeline_img_s(spec, *, batches: int, batch_size: int, data_dir, worker_count: int = 0) -> float:
    """Images/s of ``batches`` batches after 5 warm-up batches (jit compilation excluded)."""
    it = iter(data.pipeline("mnist", "train", batch_size=batch_size, seed=0, augment=spec, data_dir=data_dir,
                            worker_count=worker_count))
    for _ in itertools.islice(it, 5):
        pass
    start = time.perf_counter()
    for _ in itertools.islice(it, batches):
        pass
    return batches * batch_size / (time.perf_counter() - start)


def augment_only_img_s(spec, *, batches: int, batch_size: int, data_dir) -> float:
    """Images/s of the jitted batched augmentation alone on one ready batch."""
    batch = next(iter(data.pipeline("mnist", "train", batch_size=batch_size, seed=0, data_dir=data_dir)))
    f = data.augment.batch_augmenter(spec, seed=0)
    images, index = jax.device_put(batch["image"]), jax.device_put(batch["index"].astype(np.uint32))
    jax.block_until_ready(f(0, images, index))
    start = time.perf_counter()
    for step in range(batches):
        out = f(step, images, index)
    jax.block_until_ready(out)
    return batches * batch_size / (time.perf_counter() - start)


def run(*, batches: int = 200, batch_size: int = 128, data_dir=None, train_step_img_s=None) -> dict:
    """Times every row; returns the JSON-able results. ``train_step_img_s``: optional callable -> img/s."""
    load_start = os.getloadavg()
    data.source("mnist", "train", data_dir)  # prepare the embedded MNIST outside the timing
    rows = []
    for name, spec in SPECS.items():
        rows.append({"row": f"pipeline, augment={name}", "spec": spec,
                     "img_s": pipeline_img_s(spec, batches=batches, batch_size=batch_size, data_dir=data_dir)})
    for name in ("default", "heavy"):
        rows.append({"row": f"augment only (jit), {name}", "spec": SPECS[name],
                     "img_s": augment_only_img_s(SPECS[name], batches=batches, batch_size=batch_size,
                                                 data_dir=data_dir)})
    step = train_step_img_s() if train_step_img_s is not None else None
    return {"benchmark": "input", "date": datetime.date.today().isoformat(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "jax": jax.__version__, "batch_size": batch_size, "batches": batches,
            "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "rows": rows,
            "train_step_img_s": step, "train_step_target_img_s": LENET5_STEP_IMG_S}


def print_table(result: dict) -> None:
    step = result["train_step_img_s"]
    target = step if step is not None else result["train_step_target_img_s"]
    label = "train step img/s" if step is not None else "LeNet-5 step target"
    print(f"MNIST input pipeline, batch {result['batch_size']}, {result['batches']} batches; "
          f"load {result['loadavg_start'][0]:.1f} -> {result['loadavg_end'][0]:.1f}")
    print(f"{'row':<32} {'img/s':>10} {label:>22} {'ratio':>7}")
    for row in result["rows"]:
        print(f"{row['row']:<32} {row['img_s']:>10,.0f} {target:>22,.0f} {row['img_s'] / target:>7.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("mnist", "imagenet", "decoders", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="fewer images and batches")
    parser.add_argument("--images", type=int, default=400, help="imagenet case: JPEGs generated")
    parser.add_argument("--reps", type=int, default=5, help="imagenet/decoders: interleaved repetitions")
    parser.add_argument("--torch-python", default=os.environ.get("JCNN_TORCH_PYTHON"),
                        help="imagenet: interpreter with torch + torchvision for the baseline "
                             "(default $JCNN_TORCH_PYTHON; without it the plain-Pillow rows are the baseline)")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir", default=None, help="jcnn data dir (default $JCNN_DATA_DIR or ~/.cache)")
    parser.add_argument("--train-step", default=None, metavar="MODULE:FUNCTION",
                        help="a callable returning training-step img/s, to fill that column")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    step = None
    if args.train_step:
        module, _, fn = args.train_step.partition(":")
        step = getattr(importlib.import_module(module), fn)
    result = {}
    if args.case in ("mnist", "all"):
        result = run(batches=args.batches // (4 if args.quick else 1), batch_size=args.batch_size,
                     data_dir=args.data_dir, train_step_img_s=step)
        print_table(result)
    if args.case in ("imagenet", "all"):
        result["imagenet"] = imagenet.run_imagenet(images=args.images // (4 if args.quick else 1),
                                                   reps=2 if args.quick else args.reps,
                                                   torch_python=args.torch_python)
        imagenet.print_imagenet(result["imagenet"])
    if args.case in ("decoders", "all"):
        result["decoders"] = imagenet.run_decoders(images=args.images // (16 if args.quick else 4),
                                                   reps=2 if args.quick else args.reps)
        imagenet.print_decoders(result["decoders"])
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
