"""``python -m jcnn data ...``: offline import and listing of data sets.

Commands::

    python -m jcnn data import mnist --from DIR                      # the four IDX files, .gz or not
    python -m jcnn data import cifar10 --from cifar-10-python.tar.gz # official python archives, or extracted
    python -m jcnn data import flowers --from DIR                    # DIR/<class>/<image>
    python -m jcnn data import imagenet2012 --from ILSVRC2012/       # train/<synset>/, val/ (see --help)
    python -m jcnn data sample DIR                                   # a generated ImageNet-like folder
    python -m jcnn data list                                         # what is ready here, and what is known
"""

from __future__ import annotations

import argparse
import os
import sys

from jcnn.data import cifar, folders, importers, sources, store

_FOLDER_HELP = (
    "folder: DIR/<class>/<image> (one split, 'train'), or DIR/{train,val,validation,test}/<class>/<image> "
    "(ILSVRC-2012: train/n01440764/*.JPEG; val/ sorted into synset folders). A split folder holding its "
    "images directly (ILSVRC-2012 val/ as distributed) needs a labels file: --labels FILE, or found by name "
    f"({', '.join(folders.LABEL_FILES)}) in it or in DIR. Labels-file forms: Kaggle's LOC_val_solution.csv "
    "(ImageId,PredictionString with the synset first); one synset per line in sorted file-name order (TFDS's "
    "imagenet2012_validation_labels.txt); or 'FILE SYNSET' lines. The devkit's "
    "ILSVRC2012_validation_ground_truth.txt (integer IDs) is not accepted. Images are stored as they are "
    "(JPEG/PNG bytes), any size; decoding and resizing happen while training (data.image_size).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``import`` and ``list`` sub-commands to ``parser``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    imp = sub.add_parser("import", help="turn raw files into a data set readable by name",
                         description="Import raw files as a data set readable by name. " + _FOLDER_HELP)
    imp.add_argument("name", help="data set name (letters, digits, _ - .), e.g. mnist, cifar10, imagenet2012")
    imp.add_argument("--from", dest="from_dir", required=True, metavar="PATH",
                     help="folder with the raw files, or a CIFAR .tar.gz archive")
    imp.add_argument("--format", choices=("idx", "folder", "cifar"), default=None,
                     help="idx: the four MNIST-style IDX files; cifar: cifar-10-python.tar.gz / "
                          "cifar-100-python.tar.gz or their extracted folder; folder: image folders (below). "
                          "Default: guessed from PATH")
    imp.add_argument("--labels", default=None, metavar="FILE", help="labels file of a flat split folder (folder)")
    imp.add_argument("--skip-bad", action="store_true",
                     help="leave out unreadable/undecodable images (count and list in skipped.txt beside the "
                          "data set) instead of failing (folder)")
    imp.add_argument("--data-dir", default=None, help=f"where to write (default {store.default_data_dir()})")
    imp.add_argument("--force", action="store_true", help="replace an existing import of that name")
    smp = sub.add_parser("sample", help="write an ImageNet-like folder generated from scikit-image's photographs",
                         description="Write DIR/{train,val}/<class>/<image>: random crops of scikit-image's bundled "
                                     "photographs (one per class) at varied sizes, JPEG q75-95 with some PNG, grey "
                                     "and CMYK files. For smoke runs and benchmarks; no download.")
    smp.add_argument("dir", help="output folder")
    smp.add_argument("--classes", type=int, default=10, help="number of classes (at most 12)")
    smp.add_argument("--train", type=int, default=20, help="training images per class")
    smp.add_argument("--val", type=int, default=5, help="validation images per class")
    smp.add_argument("--seed", type=int, default=0)
    lst = sub.add_parser("list", help="show which data sets are ready here, and the known names")
    lst.add_argument("--data-dir", default=None, help=f"where to look (default {store.default_data_dir()})")


def guess_format(path: str) -> str:
    from jcnn.data import idx

    if cifar.looks_like_cifar(path):
        return "cifar"
    try:
        idx.find_idx_file(path, idx.IDX_FILES["train"][0])
        return "idx"
    except (FileNotFoundError, OSError):
        return "folder"


def _import(args) -> int:
    store.check_free(args.name, args.data_dir, args.force)  # before reading any file
    if not os.path.exists(args.from_dir):
        raise FileNotFoundError(f"--from {args.from_dir!r} does not exist")
    fmt = args.format or guess_format(args.from_dir)
    if fmt == "idx":
        path = importers.import_idx(args.name, args.from_dir, data_dir=args.data_dir, overwrite=args.force)
    elif fmt == "cifar":
        path = cifar.import_cifar(args.name, args.from_dir, data_dir=args.data_dir, overwrite=args.force)
    else:
        from jcnn.data import image_import

        path = image_import.import_folder(args.name, args.from_dir, data_dir=args.data_dir, overwrite=args.force,
                                          skip_bad=args.skip_bad, labels=args.labels)
    from jcnn.data import image_import

    print(f"imported {args.name!r} -> {path} ({image_import.describe(store.read_meta(args.name, args.data_dir))})")
    return 0


def _status(name: str, data_dir) -> tuple[str, str, tuple, dict]:
    """(ready, where, image shape, splits) of a catalogue name that is not imported."""
    entry = sources.CATALOGUE[name]
    if name in sources.BUILTIN or name == "photos10":
        return "yes", "built-in", entry["image_shape"], entry["splits"]
    if name == "mnist":
        return "yes", "embedded", entry["image_shape"], entry["splits"]
    builder = sources.tfds_builder(name, data_dir)
    if sources.tfds_prepared(builder):
        info = sources.info(name, data_dir)
        return "yes", "tfds", info.image_shape, info.splits
    return "no", "-", entry["image_shape"], entry["splits"]


def _list(args) -> int:
    imported = store.list_imported(args.data_dir)
    print(f"data dir: {store.resolve_data_dir(args.data_dir)}")
    print(f"{'name':<16} {'ready':<6} {'where':<9} {'classes':>7}  {'image':<12} splits")
    for name in sorted(set(sources.CATALOGUE) | set(imported)):
        if name in imported:
            meta = imported[name]
            ready, where, classes, shape, splits = "yes", "imported", meta["num_classes"], meta["image_shape"], \
                meta["splits"]
        else:
            ready, where, shape, splits = _status(name, args.data_dir)
            classes = sources.CATALOGUE[name]["num_classes"]
        shape = "x".join("?" if s is None else str(s) for s in shape)
        print(f"{name:<16} {ready:<6} {where:<9} {classes:>7}  {shape:<12} "
              + ", ".join(f"{k} {v}" for k, v in splits.items()))
    print("ready: usable by name now. imported: `jcnn data import`; built-in: generated; embedded: shipped "
          "MNIST, prepared on first use; tfds: a prepared TFDS data set. Not ready: import it with "
          "`python -m jcnn data import NAME --from PATH` (see `jcnn data import --help`)")
    return 0


def _sample(args) -> int:
    from jcnn.data import photos

    written = photos.make_folder(args.dir, num_classes=args.classes, per_class={"train": args.train, "val": args.val},
                                 seed=args.seed)
    print(f"wrote {sum(map(len, written.values()))} images to {args.dir} ({args.classes} classes); import with "
          f"`python -m jcnn data import photos{args.classes} --from {args.dir}`")
    return 0


def run(args) -> int:
    """Runs the parsed command; returns the exit status (an error prints one line and returns 2)."""
    if args.action is None:
        print("usage: jcnn data {import,sample,list} ...  (see `python -m jcnn data import --help`)", file=sys.stderr)
        return 2
    try:
        return {"import": _import, "list": _list, "sample": _sample}[args.action](args)
    except (ValueError, OSError) as e:
        print(f"jcnn data {args.action}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jcnn data {args.action}: interrupted; nothing was written under the name", file=sys.stderr)
        return 130
