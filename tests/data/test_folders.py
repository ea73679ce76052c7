"""jcnn.data.folders: the ILSVRC-2012 layout, with its validation images flat beside a labels file."""

import os

import numpy as np
import pytest
from PIL import Image

from jcnn.data import folders, image_import, sources

SYNSETS = ("n01440764", "n01443537", "n01484850")
# validation file -> synset, as ILSVRC-2012 names them (deliberately not in class order)
VAL = {"ILSVRC2012_val_00000001.JPEG": "n01484850", "ILSVRC2012_val_00000002.JPEG": "n01440764",
       "ILSVRC2012_val_00000003.JPEG": "n01443537", "ILSVRC2012_val_00000004.JPEG": "n01484850"}


def _ilsvrc(root, val_labels=None):
    rng = np.random.default_rng(0)
    for s in SYNSETS:
        os.makedirs(root / "train" / s)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)).save(
                root / "train" / s / f"{s}_{i}.JPEG", "JPEG")
    os.makedirs(root / "val")
    for k, f in enumerate(VAL):
        Image.fromarray(np.full((6, 6, 3), 40 * k, np.uint8)).save(root / "val" / f, "JPEG", quality=95)
    if val_labels is not None:
        name, text = val_labels
        (root / name).write_text(text)


LABEL_FORMS = {
    "kaggle_csv": ("LOC_val_solution.csv", "ImageId,PredictionString\n" + "".join(
        f"{f[:-5]},{s} 10 20 30 40 {s} 1 2 3 4\n" for f, s in reversed(list(VAL.items())))),
    "tfds_lines": ("imagenet2012_validation_labels.txt", "".join(f"{s}\n" for s in VAL.values())),
    "pairs": ("val_pairs.txt", "".join(f"{f} {s}\n" for f, s in VAL.items())),
}


@pytest.mark.parametrize("form", sorted(LABEL_FORMS))
def test_flat_validation_with_labels_file(tmp_path, form):
    name, text = LABEL_FORMS[form]
    _ilsvrc(tmp_path / "raw", (name, text))
    labels = str(tmp_path / "raw" / name) if form == "pairs" else None  # the other two are found by name
    image_import.import_folder("inet", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False,
                               labels=labels)
    info = sources.info("inet", str(tmp_path / "d"))
    assert info.splits == {"train": 6, "validation": 4} and info.class_names == SYNSETS
    src = sources.source("inet", "validation", str(tmp_path / "d"))
    got = {os.path.basename(src[i]["file"]): SYNSETS[int(src[i]["label"])] for i in range(len(src))}
    assert got == VAL


@pytest.mark.parametrize("text, match", [
    ("ILSVRC2012_val_00000001.JPEG 3\n", r"integer labels"),
    ("".join(f"{f} {s}\n" for f, s in VAL.items()) + "ILSVRC2012_val_00000001.JPEG n01484850\n", r"labels .* twice"),
    ("".join(f"{f} {s}\n" for f, s in list(VAL.items())[:3]), r"1 images have no label"),
    ("ILSVRC2012_val_00000001.JPEG n99999999\n", r"names class 'n99999999'"),
    ("missing.JPEG n01440764\n", r"labels 'missing.JPEG', which is not an image"),
    ("n01440764\nn01440764\n", r"has 2 labels .* but the folder holds 4 images"),
])
def test_bad_labels_file(tmp_path, text, match):
    _ilsvrc(tmp_path / "raw", ("labels.txt", text))
    with pytest.raises(ValueError, match=match):
        folders.scan(str(tmp_path / "raw"), labels=str(tmp_path / "raw" / "labels.txt"))


def test_devkit_ground_truth_refused_with_reason(tmp_path):
    _ilsvrc(tmp_path / "raw", (folders.DEVKIT_GROUND_TRUTH, "65\n970\n230\n809\n"))
    with pytest.raises(ValueError, match=r"devkit's ground truth .* meta\.mat"):
        folders.scan(str(tmp_path / "raw"))


def test_val_sorted_into_synset_folders(tmp_path):
    _ilsvrc(tmp_path / "raw")
    for f, s in VAL.items():
        os.makedirs(tmp_path / "raw" / "val" / s, exist_ok=True)
        os.rename(tmp_path / "raw" / "val" / f, tmp_path / "raw" / "val" / s / f)
    classes, splits = folders.scan(str(tmp_path / "raw"))
    assert classes == list(SYNSETS) and set(splits) == {"train", "validation"}
    assert splits["validation"].counts == {"n01440764": 1, "n01443537": 1, "n01484850": 2}


def test_split_class_mismatch(tmp_path):
    _ilsvrc(tmp_path / "raw")
    os.makedirs(tmp_path / "raw" / "val" / "n00000000")
    with pytest.raises(ValueError, match=r"split 'validation' has classes .* differ in \['n00000000'"):
        folders.scan(str(tmp_path / "raw"))
