"""The ImageNet-like cases of ``input.py``: jcnn's transforms per core vs torchvision and plain Pillow.

``run_imagenet``: 500x375 quality-90 JPEGs cut from scikit-image's photographs,
imported as records. Per core: process CPU seconds per image of one pass, for
jcnn's pipeline (uint8 batches, Inception crop + flip / centre crop at 224),
the plainest Pillow code doing the same work (full decode, convert, crop,
bilinear resize, flip, stack), that code plus the float work torchvision's
ToTensor + Normalize does on the host (jcnn does it on the device), and
torchvision's own pipeline (ImageFolder + DataLoader) when an interpreter with
torchvision is given (``_input_torchvision.py`` runs there). Repetitions are
interleaved case by case; medians are reported. Then jcnn's pipeline with 1 and
2 grain worker processes (wall clock, interleaved), the eval difference from
torchvision's order (resize the whole image, then crop), and the cores an
accelerator running ResNet-50 at 3,000 img/s would need.

``run_decoders``: the decoder and resizer candidates ``jcnn/data/codec.py``
chose from, process CPU time per image (OpenCV and pyvips when importable).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import time

import numpy as np

import jcnn.data as data
from jcnn.data import codec, photos
from jcnn.data import transforms as T

RESNET50_IMG_S = 3000  # the accelerator rate the issue sizes the host for
MEAN, STD = np.float32([0.485, 0.456, 0.406]), np.float32([0.229, 0.224, 0.225])  # torchvision's ImageNet example


def make_jpegs(folder: str, n: int, *, classes: int = 10, seed: int = 0) -> None:
    """``n`` 500x375 quality-90 JPEGs (ImageNet's typical size) in ``folder/<class>/``, from scikit-image photos."""
    from PIL import Image

    names = list(photos.PHOTOS)[:classes]
    loaded = {name: photos.photo(name) for name in names}
    for k in range(n):
        c = k % classes
        rng = np.random.default_rng([seed, k])
        im = photos.example(loaded[names[c]], rng, (500, 500)).resize((500, 375), Image.Resampling.BILINEAR)
        os.makedirs(os.path.join(folder, names[c]), exist_ok=True)
        im.save(os.path.join(folder, names[c], f"{k:05d}.JPEG"), "JPEG", quality=90)


def _plain_train(item, k):
    """The plainest Pillow code for the train crop: full decode to RGB, crop, antialiased bilinear, flip."""
    from PIL import Image

    u = T.example_uniforms(0, 0, k)
    im = Image.open(io.BytesIO(item))
    top, left, h, w = T.crop_box(im.height, im.width, u)
    out = im.convert("RGB").crop((left, top, left + w, top + h)).resize((224, 224), Image.Resampling.BILINEAR)
    return np.asarray(out.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if u[40] < 0.5 else out)


def _plain_eval(item, k=0):
    """torchvision's eval order on PIL images, written plainly: shorter side to 256 (whole image), central 224."""
    from PIL import Image

    im = Image.open(io.BytesIO(item)).convert("RGB")
    w, h = im.size
    rw, rh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    top, left = int(round((rh - 224) / 2.0)), int(round((rw - 224) / 2.0))
    return np.asarray(im.resize((rw, rh), Image.Resampling.BILINEAR))[top:top + 224, left:left + 224]


def _to_float(batch):
    """ToTensor + Normalize as torchvision does them on the host: (N, 3, H, W) float32."""
    return ((batch.astype(np.float32) * np.float32(1 / 255) - MEAN) / STD).transpose(0, 3, 1, 2).copy()


class _Bench:
    """One imported folder and its per-core cases; ``torch_python`` runs ``_input_torchvision.py``."""

    def __init__(self, folder, data_dir, *, batch_size, torch_python=None):
        self.folder, self.data_dir, self.batch_size = folder, data_dir, batch_size
        src = data.source("bench", "train", data_dir)
        self.items, _ = src.get_items(np.arange(len(src)))
        self.tv, self.tv_versions = None, None
        if torch_python:
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_input_torchvision.py")
            self.tv = subprocess.Popen([torch_python, script, os.path.join(folder, "raw"), "--batch-size",
                                        str(batch_size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.tv_versions = json.loads(self.tv.stdout.readline())

    def ask(self, command: str) -> dict:
        self.tv.stdin.write(command + "\n")
        self.tv.stdin.flush()
        return json.loads(self.tv.stdout.readline())

    def close(self):
        if self.tv is not None:
            self.tv.communicate("quit\n", timeout=60)

    def jcnn_cpu(self, train: bool) -> float:
        """CPU s/image of jcnn's pipeline (grain reader threads included) over one epoch's worth of batches,
        after two warm-up batches: set-up is a one-off cost, as a DataLoader's worker start-up is."""
        t = T.RandomResizedCrop(224) if train else T.CenterCrop(224)
        it = iter(data.pipeline("bench", "train", batch_size=self.batch_size, seed=0, transform=t,
                                shuffle=train, data_dir=self.data_dir))
        next(it), next(it)
        steps = len(self.items) // self.batch_size
        start = time.process_time()
        n = sum(len(next(it)["label"]) for _ in range(steps))
        cpu = time.process_time() - start
        del it
        return cpu / n

    def plain_cpu(self, train: bool, to_float: bool) -> float:
        start, n, b = time.process_time(), 0, self.batch_size
        f = _plain_train if train else _plain_eval
        for i in range(0, len(self.items) - b + 1, b):
            batch = np.stack([f(self.items[k], k) for k in range(i, i + b)])
            if to_float:
                _to_float(batch)
            n += b
        return (time.process_time() - start) / n

    def cases(self, train: bool) -> dict:
        kind = "train" if train else "eval"
        cases = {f"{kind}: jcnn pipeline, uint8 batches": lambda: self.jcnn_cpu(train),
                 f"{kind}: plain Pillow, uint8": lambda: self.plain_cpu(train, False),
                 f"{kind}: plain Pillow + ToTensor/Normalize float work": lambda: self.plain_cpu(train, True)}
        if self.tv is not None:
            cases[f"{kind}: torchvision ImageFolder + DataLoader"] = lambda: self.ask(f"cpu {kind}")["cpu_s_per_image"]
        return cases

    def wall(self, workers: int, batches: int) -> dict:
        """Wall-clock img/s of jcnn's pipeline with ``workers`` grain processes, and img per CPU-second of this
        process and its workers together (what a shared machine disturbs less: scaling costs no extra CPU)."""
        it = iter(data.pipeline("bench", "train", batch_size=self.batch_size, seed=0, data_dir=self.data_dir,
                                transform=T.RandomResizedCrop(224), worker_count=workers))
        for _ in range(2 * workers):  # worker start-up
            next(it)
        cpu, start = _tree_cpu_s(), time.perf_counter()
        for _ in range(batches):
            next(it)
        n = batches * self.batch_size
        out = {"img_s": n / (time.perf_counter() - start), "img_per_cpu_s": n / (_tree_cpu_s() - cpu)}
        del it
        return out


def _tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and its live child processes, from /proc (Linux)."""
    me, total = os.getpid(), time.process_time()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # fields[1] is the parent pid; utime, stime are fields 11, 12 (clock ticks)
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _interleaved(cases: dict, reps: int) -> dict:
    """Each case once per repetition, in rotating order; name -> list of results."""
    out, names = {k: [] for k in cases}, list(cases)
    for r in range(reps):
        for k in names[r % len(names):] + names[:r % len(names)]:
            out[k].append(cases[k]())
    return out


def eval_order_difference(items) -> dict:
    """jcnn's centre crop (crop box mapped back, only it resized) vs resizing the whole image, then cropping."""
    diffs = [np.abs(T.CenterCrop(224)(item, channels=3).astype(int) - _plain_eval(item)) for item in items]
    d = np.stack(diffs)
    return {"mean_abs": float(d.mean()), "max_abs": int(d.max()), "share_differing": float((d > 0).mean())}


def run_imagenet(*, images: int = 400, batch_size: int = 32, reps: int = 5, torch_python=None,
                 scaling_batches: int = 12) -> dict:
    import tempfile

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        make_jpegs(os.path.join(tmp, "raw"), images)
        data.import_folder("bench", os.path.join(tmp, "raw"), data_dir=os.path.join(tmp, "d"), progress=False)
        bench = _Bench(tmp, os.path.join(tmp, "d"), batch_size=batch_size, torch_python=torch_python)
        try:
            per_core = _interleaved({**bench.cases(True), **bench.cases(False)}, reps)
            scaling_cases = {f"jcnn, {w} worker(s)": (lambda w=w: bench.wall(w, scaling_batches * w)) for w in (1, 2)}
            if bench.tv is not None:
                scaling_cases |= {f"torchvision, {w} worker(s)": (lambda w=w: bench.ask(f"wall train {w}"))
                                  for w in (1, 2)}
            scaling = _interleaved(scaling_cases, max(2, reps // 2))
            order = eval_order_difference(bench.items)
            sizes = [len(x) for x in bench.items]
        finally:
            bench.close()
    rows = {k: 1 / statistics.median(v) for k, v in per_core.items()}  # img/s per core
    paired = {}  # jcnn's speed-up over each row, repetition by repetition (side by side), then the median
    for k, v in per_core.items():
        jcnn = per_core[f"{k.split(':')[0]}: jcnn pipeline, uint8 batches"]
        paired[k] = statistics.median(other / mine for other, mine in zip(v, jcnn))
    wall = {k: statistics.median(x["img_s"] for x in v) for k, v in scaling.items()}
    cpu = {k: statistics.median(x["img_per_cpu_s"] for x in v) for k, v in scaling.items() if "jcnn" in k}
    train = rows["train: jcnn pipeline, uint8 batches"]
    efficiency = wall["jcnn, 2 worker(s)"] / (2 * wall["jcnn, 1 worker(s)"])
    cpu_efficiency = cpu["jcnn, 2 worker(s)"] / cpu["jcnn, 1 worker(s)"]
    return {"images": images, "mean_jpeg_bytes": float(np.mean(sizes)), "reps": reps, "batch_size": batch_size,
            "per_core_img_s": rows, "jcnn_speedup_paired_median": paired, "per_core_runs_cpu_s_per_image": per_core, "torchvision": bench.tv_versions,
            "scaling_img_s": wall, "scaling_img_per_cpu_s": cpu, "scaling_runs": scaling,
            "jcnn_2_worker_efficiency": efficiency, "jcnn_2_worker_cpu_efficiency": cpu_efficiency,
            "eval_vs_resize_then_crop": order,
            "cores_for_resnet50_3000_img_s": {"linear": RESNET50_IMG_S / train,
                                              "at_measured_efficiency": RESNET50_IMG_S / train / min(1.0, efficiency)},
            "cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()}


def print_imagenet(r: dict) -> None:
    tv = r["torchvision"]
    print(f"ImageNet-like JPEGs ({r['images']} of 500x375, q90, mean {r['mean_jpeg_bytes'] / 1e3:.0f} kB), 224 px, "
          f"batch {r['batch_size']}; load {r['loadavg_start'][0]:.1f} -> {r['loadavg_end'][0]:.1f} on {r['cpus']} "
          f"cores; {'torch ' + tv['torch'] + ', torchvision ' + tv['torchvision'] if tv else 'no torchvision'}")
    rows, paired = r["per_core_img_s"], r["jcnn_speedup_paired_median"]
    print(f"  {'per core (process CPU time), median of ' + str(r['reps']) + ' interleaved passes':<52} {'img/s':>7}"
          f"   jcnn's speed-up: ratio of medians, median of paired ratios")
    for kind in ("train", "eval"):
        jcnn = rows[f"{kind}: jcnn pipeline, uint8 batches"]
        for name, ips in rows.items():
            if name.startswith(kind):
                print(f"  {name:<52} {ips:>7,.0f}   {jcnn / ips:5.2f}x  {paired[name]:5.2f}x")
    for name, ips in r["scaling_img_s"].items():
        print(f"  pipeline wall clock, {name:<26} {ips:>7,.0f} img/s")
    for name, ips in r["scaling_img_per_cpu_s"].items():
        print(f"  pipeline CPU cost, {name:<29} {ips:>7,.0f} img per CPU-second (main process + workers)")
    print(f"  jcnn 1 -> 2 workers: {100 * r['jcnn_2_worker_efficiency']:.0f}% of linear (wall clock), "
          f"{100 * r['jcnn_2_worker_cpu_efficiency']:.0f}% (img per CPU-second, 2 vs 1 worker)")
    o = r["eval_vs_resize_then_crop"]
    print(f"  eval crop-first vs resize-then-crop: mean |diff| {o['mean_abs']:.3f}, max {o['max_abs']}, "
          f"{100 * o['share_differing']:.1f}% of values differ")
    c = r["cores_for_resnet50_3000_img_s"]
    print(f"  cores for ResNet-50 at {RESNET50_IMG_S} img/s: {c['linear']:.1f} (linear scaling), "
          f"{c['at_measured_efficiency']:.1f} (at the measured 2-worker efficiency, capped at 100%)")


def _float_reference(full, box, size=224):
    """Pillow's antialiased bilinear in float32 ("F" images, no rounding) of ``box`` of a full decode."""
    from PIL import Image

    top, left, h, w = box
    return np.stack([np.asarray(Image.fromarray(full[..., c].astype(np.float32), "F").resize(
        (size, size), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h))) for c in range(3)], -1)


def _resizers():
    """name -> f(full (H, W, 3) uint8, PIL image of it, box) -> (224, 224, 3) uint8."""
    from PIL import Image

    def pillow(full, pil, box):
        top, left, h, w = box
        return np.asarray(pil.resize((224, 224), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h)))

    out = {"Pillow bilinear (antialiased)": pillow}
    try:
        import cv2
    except ImportError:
        return out
    cv2.setNumThreads(1)

    def crop(full, box):
        top, left, h, w = box
        return full[top:top + h, left:left + w]

    def by_axis(full, pil, box):
        a = crop(full, box)
        a = cv2.resize(a, (224, a.shape[0]), interpolation=cv2.INTER_AREA if a.shape[1] > 224 else cv2.INTER_LINEAR)
        return cv2.resize(a, (224, 224), interpolation=cv2.INTER_AREA if a.shape[0] > 224 else cv2.INTER_LINEAR)

    out["OpenCV INTER_AREA"] = lambda full, pil, box: cv2.resize(crop(full, box), (224, 224),
                                                                  interpolation=cv2.INTER_AREA)
    out["OpenCV INTER_LINEAR (no antialiasing)"] = lambda full, pil, box: cv2.resize(crop(full, box), (224, 224),
                                                                                     interpolation=cv2.INTER_LINEAR)
    out["OpenCV AREA shrinking / LINEAR enlarging, by axis"] = by_axis
    return out


def _decoders():
    """name -> f(jpeg bytes) -> (H, W, 3) uint8 RGB, full size."""
    import simplejpeg
    from PIL import Image

    def pillow(b):
        with Image.open(io.BytesIO(b)) as im:
            return np.asarray(im)

    out = {"Pillow": pillow, "simplejpeg": lambda b: simplejpeg.decode_jpeg(b, "RGB")}
    try:
        import cv2

        out["OpenCV imdecode"] = lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR_RGB)
    except ImportError:
        pass
    return out


def _whole():
    """name -> f(jpeg bytes, k) -> the train crop: jcnn's transform, and pyvips (libvips) when importable."""
    out = {"jcnn RandomResizedCrop (simplejpeg + Pillow)":
           lambda b, k: T.RandomResizedCrop(224)(b, channels=3, seed=0, epoch=0, index=k),
           "plain Pillow": _plain_train}
    try:
        os.environ.setdefault("VIPS_CONCURRENCY", "1")
        import pyvips

        pyvips.cache_set_max(0)

        def vips(b, k):
            im = pyvips.Image.jpegload_buffer(b)
            top, left, h, w = T.crop_box(im.height, im.width, T.example_uniforms(0, 0, k))
            im = im.crop(left, top, w, h).resize(224 / w, vscale=224 / h, kernel="linear")
            return np.ndarray(buffer=im.write_to_memory(), dtype=np.uint8, shape=(224, 224, 3))

        out["pyvips (libvips)"] = vips
    except (ImportError, OSError):
        pass
    return out


def _cpu_ms(cases: dict, args: list, reps: int) -> dict:
    """Median over repetitions of process CPU ms per call (libvips works in threads of its own); cases
    interleaved call by call."""
    totals = {k: [0] * reps for k in cases}
    for r in range(reps):
        for a in args:
            for k in (list(cases) if r % 2 else list(cases)[::-1]):
                start = time.process_time_ns()
                cases[k](*a)
                totals[k][r] += time.process_time_ns() - start
    return {k: statistics.median(v) / len(args) / 1e6 for k, v in totals.items()}


def run_decoders(*, images: int = 100, reps: int = 5) -> dict:
    """Process CPU ms per image: full decodes, resizes of the train crop (with error vs a float
    reference), and whole train crops; optional libraries measured when importable."""
    import tempfile

    from PIL import Image

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        make_jpegs(tmp, images)
        paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(tmp) for f in fs)
        blobs = [open(p, "rb").read() for p in paths]
    fulls = [_decoders()["Pillow"](b) for b in blobs]
    boxes = [T.crop_box(f.shape[0], f.shape[1], T.example_uniforms(0, 0, k)) for k, f in enumerate(fulls)]
    pils = [Image.fromarray(f) for f in fulls]
    resizers = _resizers()
    errors = {}
    for name, f in resizers.items():
        e = [np.abs(f(full, pil, box) - _float_reference(full, box)) for full, pil, box in zip(fulls, pils, boxes)]
        errors[name] = {"mean_abs": float(np.mean([x.mean() for x in e])), "max_abs": float(max(x.max() for x in e))}
    return {"images": images, "reps": reps,
            "decode_ms": _cpu_ms(_decoders(), [(b,) for b in blobs], reps),
            "resize_ms": _cpu_ms(resizers, list(zip(fulls, pils, boxes)), reps), "resize_error": errors,
            "whole_train_crop_ms": _cpu_ms(_whole(), [(b, k) for k, b in enumerate(blobs)], reps),
            "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "cpus": os.cpu_count()}


def print_decoders(r: dict) -> None:
    print(f"Decoders and resizers, {r['images']} JPEGs 500x375 q90, train crops to 224; process CPU ms per image, "
          f"one thread, median of {r['reps']}; load {r['loadavg_start'][0]:.1f} -> {r['loadavg_end'][0]:.1f}")
    for name, ms in r["decode_ms"].items():
        print(f"  decode  {name:<52} {ms:6.3f} ms")
    for name, ms in r["resize_ms"].items():
        e = r["resize_error"][name]
        print(f"  resize  {name:<52} {ms:6.3f} ms   vs float reference: mean {e['mean_abs']:.2f}, "
              f"max {e['max_abs']:.1f} grey levels")
    for name, ms in r["whole_train_crop_ms"].items():
        print(f"  whole   {name:<52} {ms:6.3f} ms")
