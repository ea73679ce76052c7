"""``python -m jcnn data ...``: offline import and listing of data sets.

Commands::

    python -m jcnn data import mnist --from DIR                  # the four IDX files, .gz or not
    python -m jcnn data import fashion_mnist --from DIR
    python -m jcnn data import flowers --from DIR --format folder  # DIR/<class>/<image>
    python -m jcnn data list                                     # catalogue + imported data sets
"""

from __future__ import annotations

import argparse
import sys

from jcnn.data import importers, sources, store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``import`` and ``list`` sub-commands to ``parser``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    imp = sub.add_parser("import", help="turn raw files into a data set readable by name")
    imp.add_argument("name", help="data set name, e.g. mnist, fashion_mnist, or your own")
    imp.add_argument("--from", dest="from_dir", required=True, metavar="DIR", help="folder with the raw files")
    imp.add_argument("--format", choices=("idx", "folder"), default=None,
                     help="idx: the four MNIST-style IDX files; folder: DIR/<class>/<image> "
                          "(default: idx if DIR holds IDX files, else folder)")
    imp.add_argument("--data-dir", default=None, help=f"where to write (default {store.default_data_dir()})")
    imp.add_argument("--force", action="store_true", help="replace an existing import of that name")
    lst = sub.add_parser("list", help="show known and imported data sets")
    lst.add_argument("--data-dir", default=None, help=f"where to look (default {store.default_data_dir()})")


def _guess_format(from_dir: str) -> str:
    try:
        from jcnn.data import idx

        idx.find_idx_file(from_dir, idx.IDX_FILES["train"][0])
        return "idx"
    except FileNotFoundError:
        return "folder"


def _import(args) -> int:
    fmt = args.format or _guess_format(args.from_dir)
    if fmt == "idx":
        path = importers.import_idx(args.name, args.from_dir, data_dir=args.data_dir, overwrite=args.force)
    else:
        path = importers.import_folder(args.name, args.from_dir, data_dir=args.data_dir, overwrite=args.force)
    meta = store.read_meta(args.name, args.data_dir)
    splits = ", ".join(f"{k} {v}" for k, v in meta["splits"].items())
    print(f"imported {args.name!r} -> {path} ({splits}; image {tuple(meta['image_shape'])}, "
          f"{meta['num_classes']} classes)")
    return 0


def _list(args) -> int:
    imported = store.list_imported(args.data_dir)
    print(f"data dir: {store.resolve_data_dir(args.data_dir)}")
    print(f"{'name':<16} {'where':<10} {'classes':>7}  {'image':<14} splits")
    for name in sorted(set(sources.CATALOGUE) | set(imported)):
        if name in imported:
            meta = imported[name]
            where, classes, shape, splits = "imported", meta["num_classes"], meta["image_shape"], meta["splits"]
        else:
            entry = sources.CATALOGUE[name]
            where = "embedded" if name == "mnist" else "tfds"
            classes, shape, splits = entry["num_classes"], entry["image_shape"], entry["splits"]
        shape = "x".join("?" if s is None else str(s) for s in shape)
        print(f"{name:<16} {where:<10} {classes:>7}  {shape:<14} " + ", ".join(f"{k} {v}" for k, v in splits.items()))
    print("tfds: read through tfds.data_source when prepared; "
          "embedded: prepared from the package on first use; "
          "add one with `python -m jcnn data import NAME --from DIR [--format folder]`")
    return 0


def run(args) -> int:
    """Runs the parsed command; returns the exit status (errors print one line and return 1 or 2)."""
    if args.action is None:
        print("usage: jcnn data {import,list} ...  (see `python -m jcnn data import --help`)", file=sys.stderr)
        return 2
    try:
        return _import(args) if args.action == "import" else _list(args)
    except (ValueError, OSError) as e:
        print(f"jcnn data {args.action}: error: {e}", file=sys.stderr)
        return 1
