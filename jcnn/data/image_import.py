"""Streaming import of an image folder (ImageFolder, ILSVRC-2012) into encoded records.

Each file is read once and checked by decoding it (JPEGs at 1/8 scale through
libjpeg's DCT scaling: every byte of the entropy-coded data is still read, so a
truncated file fails, at a fraction of a full decode's cost). JPEG and PNG bytes
are stored as they are; other formats (BMP, GIF, TIFF, WebP) and 16-bit or odd
modes are re-encoded losslessly as 8-bit PNG. Files are checked by a thread
pool (Pillow releases the GIL while decoding) with a bounded window of results
written in order, so memory stays bounded and the output order (class, then
file name) does not depend on timing.
"""

from __future__ import annotations

import io
import itertools
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from jcnn.data import folders, records, store

_KEEP_FORMATS = {"JPEG", "PNG"}
_KEEP_MODES = {"L", "RGB", "CMYK", "YCbCr", "P", "RGBA", "LA", "1"}
_GREY_MODES = {"L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F"}


class BadImageError(ValueError):
    """An image that cannot be read or decoded (named by path)."""


def check_image(path: str) -> dict:
    """Reads and decodes one file: ``{"data", "height", "width", "grey"}``; raises BadImageError naming the path."""
    from PIL import Image

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadImageError(f"cannot read {path!r} ({e.strerror or e})") from None
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height, mode, fmt = im.width, im.height, im.mode, im.format
            if fmt == "JPEG":
                im.draft(mode, (1, 1))  # 1/8-scale decode: reads the whole stream, skips most of the maths
            im.load()
            if fmt not in _KEEP_FORMATS or mode not in _KEEP_MODES:
                out = io.BytesIO()
                im.convert("L" if mode in _GREY_MODES else "RGB").save(out, "PNG")
                data = out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:  # PIL's decoders raise these
        raise BadImageError(f"cannot decode image {path!r} ({e})") from None
    return {"data": data, "height": height, "width": width, "grey": mode in _GREY_MODES}


def _checked(paths, threads: int):
    """Yields ``(path, class, result or BadImageError)`` in input order, at most ``4 * threads`` in flight."""
    def run(path):
        try:
            return check_image(path)
        except BadImageError as e:
            return e

    with ThreadPoolExecutor(max_workers=threads) as pool:
        window = deque()
        it = iter(paths)
        for path, cls in itertools.islice(it, 4 * threads):
            window.append((path, cls, pool.submit(run, path)))
        while window:
            path, cls, future = window.popleft()
            for nxt in itertools.islice(it, 1):
                window.append((nxt[0], nxt[1], pool.submit(run, nxt[0])))
            yield path, cls, future.result()


def import_folder(name: str, from_dir: str, *, data_dir: str | None = None, overwrite: bool = False,
                  progress: bool = True, skip_bad: bool = False, labels: str | None = None,
                  threads: int | None = None) -> str:
    """Imports an image folder as data set ``name`` (encoded records, any image sizes).

    Layouts (``jcnn.data.folders``): ``DIR/<class>/<image>`` (split ``train``), or
    ``DIR/{train,val,validation,test}/<class>/<image>``; a flat split folder (ILSVRC-2012
    ``val/``) with a labels file. Classes are the sorted class-folder names.

    Args:
      name: data set name (checked before anything is read).
      from_dir: the folder described above.
      data_dir: where to write; default ``store.default_data_dir()``.
      overwrite: replace an existing import (only once the new one is complete).
      progress: show a tqdm bar (images/s).
      skip_bad: leave out unreadable or undecodable images, counted in ``meta.json`` and listed
        (path and reason) in ``skipped.txt`` beside the data set; default: fail on the first one.
      labels: labels file of a flat split folder (found automatically under its usual names).
      threads: decode-check threads (default: the CPU count, at most 16).
    Returns:
      The data set's folder. ``jcnn.data.source(name, split)`` gives ``{"image": (H, W, C) uint8, ...}``
      with C = 3 if any image has colour, else 1.
    Raises:
      FileNotFoundError: ``from_dir`` missing. ValueError: bad name, layout problems (one line each),
        an unreadable or undecodable image named by path (without ``skip_bad``), nothing left to import.
    """
    store.check_free(name, data_dir, overwrite)
    classes, splits = folders.scan(from_dir, labels=labels)
    threads = threads or min(16, os.cpu_count() or 1)
    total = sum(sp.total for sp in splits.values())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"importing {name}", unit="img", smoothing=0.05)
    label_of = {c: i for i, c in enumerate(classes)}
    skipped, sizes, grey = [], set(), True
    try:
        with store.staging(name, data_dir, overwrite=overwrite) as tmp:
            files, counts = {}, {}
            for split in splits.values():
                writer = records.SplitWriter(tmp, split.name)
                try:
                    for path, cls, result in _checked(split.files(classes), threads):
                        if bar is not None:
                            bar.update(1)
                        if isinstance(result, BadImageError):
                            if not skip_bad:
                                raise BadImageError(f"import: {result}; pass --skip-bad (skip_bad=True) to leave "
                                                    f"bad images out")
                            skipped.append(f"{path}\t{result}")
                            continue
                        sizes.add((result["height"], result["width"]))
                        grey = grey and result["grey"]
                        writer.write(records.encode(result["data"], label=label_of[cls], class_name=cls,
                                                    height=result["height"], width=result["width"],
                                                    file=os.path.relpath(path, from_dir)))
                finally:
                    files[split.name] = writer.close()
                counts[split.name] = writer.count
            if not any(counts.values()):
                raise ValueError(f"import: every image under {from_dir!r} was bad ({len(skipped)} skipped); "
                                 f"nothing to import")
            if skipped:
                with open(os.path.join(tmp, "skipped.txt"), "w") as f:
                    f.write("\n".join(skipped) + "\n")
            shape = [*sizes.pop(), 0] if len(sizes) == 1 else [None, None, 0]
            shape[2] = 1 if grey else 3
            store.write_meta(tmp, {"format": store.RECORDS_FORMAT, "name": name, "num_classes": len(classes),
                                   "image_shape": shape, "splits": counts, "files": files,
                                   "class_names": classes, "skipped": len(skipped),
                                   "source": os.path.abspath(from_dir)})
    finally:
        if bar is not None:
            bar.close()
    return os.path.join(store.resolve_data_dir(data_dir), name)


def skipped_list(name: str, data_dir=None) -> list[str]:
    """Lines ``path<TAB>reason`` of the images an import with ``skip_bad`` left out."""
    path = os.path.join(store.resolve_data_dir(data_dir), name, "skipped.txt")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def describe(meta: dict) -> str:
    """One line about an imported data set, for the CLI."""
    splits = ", ".join(f"{k} {v}" for k, v in meta["splits"].items())
    shape = "x".join("?" if s is None else str(s) for s in meta["image_shape"])
    skipped = f"; {meta['skipped']} bad images skipped (see skipped.txt)" if meta.get("skipped") else ""
    return f"{splits}; image {shape}, {meta['num_classes']} classes{skipped}"

