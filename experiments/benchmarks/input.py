"""Input pipeline throughput: MNIST batches, and ImageNet-like JPEG decoding (``imagenet`` case).

ImageNet case (``jcnn.data.transforms``): 500x375 quality-90 JPEGs cut from
scikit-image's photographs, imported as records; images/s on ONE core of the
train transform (Inception crop + flip to 224, JPEG draft decoding) and the eval
transform (shorter side 256, centre 224), beside the baseline: torchvision's
RandomResizedCrop/Resize+CenterCrop on PIL images when torchvision imports,
else the same algorithm written plainly with Pillow (full decode, crop,
bilinear resize). Then the pipeline with 1..all cores as grain worker
processes (scaling efficiency = img/s(w) / (w x img/s(1))), and the cores an
accelerator running ResNet-50 at 3,000 img/s would need at the per-core rate.

Rows: plain batches (gather + uint8 -> float32), the same with host-side jitted
augmentation (the default spec below, and a heavier one), and the jitted
batched augmentation alone on a ready batch (the cost the training loop pays if
it augments on device instead). The comparison target is the training step: a
LeNet-5 step on this 2-core CPU runs at about 5,000 img/s (shared/NOTES.md), so
the pipeline should stay well above that to never be the bottleneck. The
"train step img/s" column is filled when a callable is passed to ``run`` (or
``--train-step module:function`` returning img/s); otherwise it shows the
target. The load average is printed: other processes on 2 cores skew timings.

    python experiments/benchmarks/input.py [--case mnist|imagenet|all] [--quick] [--out FILE.json]
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


# ----------------------------------------------------------------------------- ImageNet-like case

RESNET50_IMG_S = 3000  # the accelerator rate the issue sizes the host for


def make_jpegs(folder: str, n: int, *, classes: int = 10, seed: int = 0) -> None:
    """``n`` 500x375 quality-90 JPEGs (ImageNet's typical size) in ``folder/<class>/``, from scikit-image photos."""
    from PIL import Image

    from jcnn.data import photos

    names = list(photos.PHOTOS)[:classes]
    loaded = {name: photos.photo(name) for name in names}
    for k in range(n):
        c = k % classes
        rng = np.random.default_rng([seed, k])
        im = photos.example(loaded[names[c]], rng, (500, 500)).resize((500, 375), Image.Resampling.BILINEAR)
        os.makedirs(os.path.join(folder, names[c]), exist_ok=True)
        im.save(os.path.join(folder, names[c], f"{k:05d}.JPEG"), "JPEG", quality=90)


def baseline_transforms():
    """(train, eval) callables on encoded bytes -> uint8 array: torchvision if importable, else plain Pillow."""
    import io

    from PIL import Image

    try:
        from torchvision import transforms as tv

        train = tv.Compose([tv.RandomResizedCrop(224), tv.RandomHorizontalFlip()])
        evaluate = tv.Compose([tv.Resize(256), tv.CenterCrop(224)])
        name = "torchvision"
        return name, (lambda b: np.asarray(train(Image.open(io.BytesIO(b)).convert("RGB")))), \
            (lambda b: np.asarray(evaluate(Image.open(io.BytesIO(b)).convert("RGB"))))
    except Exception:  # noqa: BLE001 -- not installed, or the CUDA build that fails to import beside CPU torch
        pass
    from jcnn.data import transforms as T

    def plain(b, box, flip=False):
        im = Image.open(io.BytesIO(b)).convert("RGB")  # full decode
        top, left, h, w = box
        out = im.crop((round(left), round(top), round(left + w), round(top + h))).resize(
            (224, 224), Image.Resampling.BILINEAR)
        return np.asarray(out.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else out)

    def train(b, rng=np.random.default_rng(0)):
        return plain(b, T.crop_box(375, 500, rng), bool(rng.random() < 0.5))

    return "plain Pillow", train, (lambda b: plain(b, T.center_box(375, 500, size=224, crop_fraction=0.875)))


def _rate(fn, items, repeat=2) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for k, item in enumerate(items):
            fn(k, item)
    return repeat * len(items) / (time.perf_counter() - start)


def run_imagenet(*, images: int = 400, batch_size: int = 32) -> dict:
    import tempfile

    from jcnn.data import transforms as T

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        make_jpegs(os.path.join(tmp, "raw"), images)
        data.import_folder("bench", os.path.join(tmp, "raw"), data_dir=os.path.join(tmp, "d"), progress=False)
        src = data.source("bench", "train", os.path.join(tmp, "d"))
        items, _ = src.get_items(np.arange(len(src)))
        name, base_train, base_eval = baseline_transforms()
        rrc, center = T.RandomResizedCrop(224), T.CenterCrop(224)
        per_core = {  # one thread: images/s per core
            "train jcnn": _rate(lambda k, b: rrc(b, channels=3, seed=0, epoch=0, index=k), items),
            f"train {name}": _rate(lambda k, b: base_train(b), items),
            "eval jcnn": _rate(lambda k, b: center(b, channels=3), items),
            f"eval {name}": _rate(lambda k, b: base_eval(b), items),
        }
        cores = os.cpu_count() or 1
        scaling = []
        for workers in sorted({1, cores}):
            it = iter(data.pipeline("bench", "train", batch_size=batch_size, seed=0, transform=rrc,
                                    data_dir=os.path.join(tmp, "d"), worker_count=workers))
            for _ in itertools.islice(it, 2 * workers):  # start-up and warm-up
                pass
            n = max(4, images // batch_size) * workers
            start = time.perf_counter()
            for _ in itertools.islice(it, n):
                pass
            scaling.append({"workers": workers, "img_s": n * batch_size / (time.perf_counter() - start)})
            del it
    one = scaling[0]["img_s"]
    for row in scaling:
        row["efficiency"] = row["img_s"] / (row["workers"] * one)
    train_rate = per_core["train jcnn"]
    return {"images": images, "baseline": name, "per_core_img_s": per_core,
            "train_speedup_vs_baseline": train_rate / per_core[f"train {name}"],
            "eval_speedup_vs_baseline": per_core["eval jcnn"] / per_core[f"eval {name}"],
            "scaling": scaling, "cores_for_resnet50_3000_img_s": RESNET50_IMG_S / train_rate,
            "cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()}


def print_imagenet(r: dict) -> None:
    print(f"ImageNet-like JPEGs (500x375 q90, {r['images']} images), 224 px; load {r['loadavg_start'][0]:.1f} -> "
          f"{r['loadavg_end'][0]:.1f} on {r['cpus']} cores")
    for row, ips in r["per_core_img_s"].items():
        print(f"  {row:<28} {ips:>8,.0f} img/s per core")
    print(f"  train speed-up vs {r['baseline']}: {r['train_speedup_vs_baseline']:.2f}x; "
          f"eval: {r['eval_speedup_vs_baseline']:.2f}x")
    for row in r["scaling"]:
        print(f"  pipeline, {row['workers']:>2} worker(s): {row['img_s']:>8,.0f} img/s, "
              f"efficiency {100 * row['efficiency']:.0f}%")
    print(f"  cores for ResNet-50 at {RESNET50_IMG_S} img/s: {r['cores_for_resnet50_3000_img_s']:.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("mnist", "imagenet", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="fewer images and batches")
    parser.add_argument("--images", type=int, default=400, help="imagenet case: JPEGs generated")
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
        result["imagenet"] = run_imagenet(images=args.images // (4 if args.quick else 1))
        print_imagenet(result["imagenet"])
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
