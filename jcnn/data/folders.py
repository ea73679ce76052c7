"""Scanning image folders: torchvision's ImageFolder and the ILSVRC-2012 layout, checked before any import.

Accepted shapes of ``DIR``:

* ``DIR/<class>/<image>`` -- one split, ``train``;
* ``DIR/<split>/<class>/<image>`` when every subfolder is a split name
  (``train``, ``val`` -> ``validation``, ``validation``, ``test``) -- ILSVRC-2012's
  ``train/n01440764/*.JPEG`` and a ``val/`` already sorted into synset folders;
* a split folder holding its images directly (ILSVRC-2012 ``val/`` as
  distributed) with a labels file: given as ``labels=`` or found as
  ``LOC_val_solution.csv`` / ``imagenet2012_validation_labels.txt`` in the split
  folder or ``DIR``. Forms read (see ``read_labels``): Kaggle's
  ``LOC_val_solution.csv`` (``ImageId,PredictionString``, the synset first), one
  class per line in sorted file-name order (TFDS's
  ``imagenet2012_validation_labels.txt``), or ``FILE CLASS`` pairs. Classes are
  class-folder names (synsets), never integers: the devkit's
  ``ILSVRC2012_validation_ground_truth.txt`` numbers classes in an order only its
  ``meta.mat`` gives, so it is refused with that reason.

Classes are the sorted class-folder names; labels their positions. Only the
class-folder listings are kept in memory while importing (one folder at a time).
"""

from __future__ import annotations

import csv
import dataclasses
import os

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLIT_FOLDERS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
LABEL_FILES = ("LOC_val_solution.csv", "imagenet2012_validation_labels.txt")
DEVKIT_GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError as e:
        raise ValueError(f"import: cannot list folder {path!r} ({e.strerror or e})") from None


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def _subfolders(path: str) -> list[str]:
    return [d for d in _listdir(path) if not d.startswith(".") and os.path.isdir(os.path.join(path, d))]


def images_in(folder: str) -> list[str]:
    """Sorted image file names directly in ``folder``."""
    return [f for f in _listdir(folder) if is_image(f) and os.path.isfile(os.path.join(folder, f))]


@dataclasses.dataclass
class Split:
    """One split: its folder, and either class folders (``labels`` None) or flat images with labels."""

    name: str
    folder: str
    counts: dict  # class -> number of images (class folders) or of labelled images (flat)
    labels: dict | None = None  # flat: file name -> class

    def files(self, classes: list[str]):
        """Yields ``(path, class)`` in class order, then file-name order; one folder listed at a time."""
        if self.labels is not None:
            by_class = {c: [] for c in classes}
            for f, c in self.labels.items():
                by_class[c].append(f)
            for c in classes:
                for f in sorted(by_class[c]):
                    yield os.path.join(self.folder, f), c
            return
        for c in classes:
            if c in self.counts:
                for f in images_in(os.path.join(self.folder, c)):
                    yield os.path.join(self.folder, c, f), c

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _class_split(name: str, folder: str, classes: list[str]) -> Split:
    lower = {}
    for c in classes:
        if c.lower() in lower:
            raise ValueError(f"import: class folders {lower[c.lower()]!r} and {c!r} in {folder!r} differ only in "
                             f"case (duplicate class names on case-insensitive file systems); rename one")
        lower[c.lower()] = c
    counts = {}
    for c in classes:
        n = len(images_in(os.path.join(folder, c)))
        if n == 0:
            raise ValueError(f"import: class folder {os.path.join(folder, c)!r} has no images "
                             f"({', '.join(IMAGE_SUFFIXES)}); remove it or add images")
        counts[c] = n
    return Split(name, folder, counts)


def find_labels_file(split_folder: str, top: str) -> str | None:
    for folder in (split_folder, top):
        for f in LABEL_FILES:
            if os.path.isfile(os.path.join(folder, f)):
                return os.path.join(folder, f)
    for folder in (split_folder, top):
        if os.path.isfile(os.path.join(folder, DEVKIT_GROUND_TRUTH)):
            return os.path.join(folder, DEVKIT_GROUND_TRUTH)
    return None


def read_labels(path: str, files: list[str], classes: list[str]) -> dict:
    """File name -> class for the ``files`` (sorted names) of a flat split, from a labels file.

    Raises:
      ValueError: unreadable or unrecognised file, integer labels, unknown classes, a file listed
        twice, or images without a label / labels without an image (each named).
    """
    try:
        with open(path, newline="") as f:
            lines = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"import: cannot read labels file {path!r} ({e})") from None
    if os.path.basename(path) == DEVKIT_GROUND_TRUTH:
        raise ValueError(f"import: {path!r} is the ILSVRC-2012 devkit's ground truth (class IDs 1-1000 in the order "
                         f"of the devkit's meta.mat, not of the synset folders); use LOC_val_solution.csv, "
                         f"TFDS's imagenet2012_validation_labels.txt or 'FILE SYNSET' lines (--labels FILE)")
    stems = {os.path.splitext(f)[0]: f for f in files}
    pairs = []
    if lines and lines[0].lower().startswith("imageid,"):  # Kaggle LOC_val_solution.csv
        for row in csv.reader(lines[1:]):
            if len(row) < 2 or not row[1].split():
                raise ValueError(f"import: {path!r}: bad row {row!r}; expected ImageId,'SYNSET x y x y ...'")
            pairs.append((row[0], row[1].split()[0]))
    elif all(len(line.replace(",", " ").split()) == 1 for line in lines):  # one class per line, file order
        if len(lines) != len(files):
            raise ValueError(f"import: {path!r} has {len(lines)} labels (one per line, in sorted file-name order) "
                             f"but the folder holds {len(files)} images")
        pairs = list(zip(files, lines))
    else:
        for i, line in enumerate(lines):
            parts = line.replace(",", " ").split()
            if len(parts) != 2:
                raise ValueError(f"import: {path!r} line {i + 1}: {line!r}; expected 'FILE CLASS'")
            pairs.append((parts[0], parts[1]))
    known = set(classes)
    mapping = {}
    for file, cls in pairs:
        if cls.lstrip("-").isdigit() and cls not in known:
            raise ValueError(f"import: {path!r} uses integer labels ({cls!r}); write class-folder names (synsets) "
                             f"instead: an integer's class depends on an order the file does not state")
        if cls not in known:
            raise ValueError(f"import: {path!r} names class {cls!r} for {file!r}, not one of the {len(known)} "
                             f"class folders (e.g. {sorted(known)[:3]})")
        name = file if file in files else stems.get(os.path.splitext(file)[0] if "." in file else file)
        if name is None:
            raise ValueError(f"import: {path!r} labels {file!r}, which is not an image in the folder")
        if name in mapping:
            raise ValueError(f"import: {path!r} labels {file!r} twice (duplicate name)")
        mapping[name] = cls
    missing = [f for f in files if f not in mapping]
    if missing:
        raise ValueError(f"import: {len(missing)} images have no label in {path!r}, e.g. {missing[0]!r}")
    return mapping


def scan(from_dir: str, *, labels: str | None = None) -> tuple[list[str], dict[str, Split]]:
    """Checks the layout of ``from_dir`` without opening any image.

    Returns:
      (classes, {split name: Split}).
    Raises:
      FileNotFoundError: ``from_dir`` missing. ValueError: one line per problem (no classes, empty class
        folder, case-duplicate classes, splits with different classes, flat split without labels, no images).
    """
    if not os.path.isdir(from_dir):
        raise FileNotFoundError(f"import: from_dir={from_dir!r} is not a directory")
    top = _subfolders(from_dir)
    if top and all(d.lower() in SPLIT_FOLDERS for d in top):
        folders = {SPLIT_FOLDERS[d.lower()]: os.path.join(from_dir, d) for d in top}
        if len(folders) != len(top):
            raise ValueError(f"import: {from_dir!r} has both 'val' and 'validation' folders; keep one")
    elif top:
        folders = {"train": from_dir}
    else:
        if images_in(from_dir):
            raise ValueError(f"import: {from_dir!r} holds images but no class subfolders; expected "
                             f"DIR/<class>/<image> (or DIR/val/ with --labels FILE)")
        raise ValueError(f"import: no class subfolders and no images in {from_dir!r}; expected DIR/<class>/<image>")
    class_folders = {s: _subfolders(f) for s, f in folders.items()}
    with_classes = [s for s in folders if class_folders[s]]
    if not with_classes:
        raise ValueError(f"import: no class subfolders under {from_dir!r}; a flat split folder needs the class "
                         f"folders of another split (ILSVRC-2012: train/<synset>/) to name its classes")
    first = "train" if "train" in with_classes else with_classes[0]
    classes = class_folders[first]
    splits = {}
    for s, folder in folders.items():
        if class_folders[s]:
            if class_folders[s] != classes:
                extra = sorted(set(class_folders[s]) ^ set(classes))
                raise ValueError(f"import: split {s!r} has classes {class_folders[s][:5]}... ({len(class_folders[s])}), "
                                 f"split {first!r} has {len(classes)}; they differ in {extra[:5]}")
            splits[s] = _class_split(s, folder, classes)
            continue
        files = images_in(folder)
        if not files:
            raise ValueError(f"import: split folder {folder!r} has no class subfolders and no images")
        path = labels or find_labels_file(folder, from_dir)
        if path is None:
            raise ValueError(f"import: split folder {folder!r} holds {len(files)} images without class folders; "
                             f"pass --labels FILE ({' or '.join(LABEL_FILES)} or 'FILE CLASS' lines)")
        mapping = read_labels(path, files, classes)
        counts = {}
        for c in mapping.values():
            counts[c] = counts.get(c, 0) + 1
        splits[s] = Split(s, folder, counts, mapping)
    if not any(sp.total for sp in splits.values()):
        raise ValueError(f"import: no images ({', '.join(IMAGE_SUFFIXES)}) under {from_dir!r}")
    return classes, splits
