"""torchvision's standard ImageNet input pipeline, timed: the baseline of ``input.py --case imagenet``.

ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor +
Normalize through a DataLoader (train), Resize(256) + CenterCrop(224) + ToTensor
+ Normalize (eval), as the PyTorch ImageNet example builds them. It runs in an
interpreter that has torch and torchvision but not necessarily jcnn (a separate
venv: ``pip install torch==2.13.0 torchvision==0.28.0 pillow numpy``), started by
``input.py`` as a subprocess. It reads one command per line on stdin and
answers one JSON line on stdout:

* ``cpu train|eval``: one pass over the folder with ``num_workers=0`` and one
  torch thread; ``{"cpu_s_per_image": ...}`` (process CPU time, which the other
  processes on a shared machine disturb less than wall time).
* ``wall train W``: one pass with ``num_workers=W`` worker processes;
  ``{"img_s": ...}`` (wall clock, the first batch excluded as start-up).
* ``quit``.

    python experiments/benchmarks/_input_torchvision.py FOLDER [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def import_torchvision():
    """torch and torchvision; declares torchvision's two C++ operator schemas first when its build needs them.

    torchvision 0.28.0 from PyPI is a CUDA build; beside CPU torch 2.13.0 its import fails with
    "operator torchvision::nms does not exist". Its transforms and datasets are pure Python: with the
    ``nms``/``qnms`` schemas declared (never called here) they import and run.
    """
    import torch

    try:
        import torchvision
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor qdets, Tensor qscores, float iou_threshold) -> Tensor")
        import_torchvision.keep = lib  # the schemas live as long as the library object
        import torchvision
    return torch, torchvision


def loader(folder: str, *, train: bool, batch_size: int, workers: int):
    torch, _ = import_torchvision()
    from torchvision import datasets, transforms as T

    normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    if train:
        tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
    else:
        tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), normalize])
    return torch.utils.data.DataLoader(datasets.ImageFolder(folder, tf), batch_size=batch_size, shuffle=train,
                                       num_workers=workers, drop_last=True)


def cpu_pass(folder: str, *, train: bool, batch_size: int) -> dict:
    dl = loader(folder, train=train, batch_size=batch_size, workers=0)
    start = time.process_time()
    n = sum(len(labels) for _, labels in dl)
    return {"cpu_s_per_image": (time.process_time() - start) / n, "images": n}


def wall_pass(folder: str, *, workers: int, batch_size: int) -> dict:
    it = iter(loader(folder, train=True, batch_size=batch_size, workers=workers))
    next(it)  # worker start-up
    start, n = time.perf_counter(), 0
    for _, labels in it:
        n += len(labels)
    return {"img_s": n / (time.perf_counter() - start), "images": n}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    torch, torchvision = import_torchvision()
    torch.set_num_threads(1)
    print(json.dumps({"ready": True, "torch": torch.__version__, "torchvision": torchvision.__version__}),
          flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "cpu":
            out = cpu_pass(args.folder, train=cmd[1] == "train", batch_size=args.batch_size)
        else:
            out = wall_pass(args.folder, workers=int(cmd[2]), batch_size=args.batch_size)
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
