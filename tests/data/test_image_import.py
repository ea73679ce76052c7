"""jcnn.data.image_import: image folders and ILSVRC-2012 into encoded records; bad input; atomicity."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from jcnn.data import image_import, records, sources, store


def _write(path, array, fmt="PNG", **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, fmt, **kw)
    return path


def _folder(root, sizes=((5, 7), (6, 4), (9, 9)), classes=("cat", "dog"), splits=("train", "test"), seed=0):
    rng = np.random.default_rng(seed)
    expected = {}
    for split in splits:
        for cls in classes:
            for i, (h, w) in enumerate(sizes):
                array = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                _write(str(root / split / cls / f"{i}.png"), array)
                expected[(split, cls, i)] = array
    return expected


def test_splits_classes_and_pixels(tmp_path):
    expected = _folder(tmp_path / "raw")
    image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    meta = store.read_meta("pets", str(tmp_path / "d"))
    assert meta["splits"] == {"test": 6, "train": 6} and meta["class_names"] == ["cat", "dog"]
    assert meta["image_shape"] == [None, None, 3] and meta["format"] == store.RECORDS_FORMAT
    src = sources.source("pets", "train", str(tmp_path / "d"))
    assert isinstance(src, records.RecordSource)
    for k, (cls, i) in enumerate((c, i) for c in ("cat", "dog") for i in range(3)):  # sorted class, file order
        ex = src[k]
        np.testing.assert_array_equal(ex["image"], expected[("train", cls, i)])  # PNG: lossless
        assert ex["label"] == ("cat", "dog").index(cls) and ex["file"] == os.path.join("train", cls, f"{i}.png")
    assert sources.info("pets", str(tmp_path / "d")).image_shape == (None, None, 3)


def test_jpeg_bytes_kept_and_sizes_recorded(tmp_path):
    rng = np.random.default_rng(1)
    path = _write(str(tmp_path / "raw" / "a" / "x.JPEG"), rng.integers(0, 256, (30, 40, 3), dtype=np.uint8),
                  "JPEG", quality=83)
    image_import.import_folder("j", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    (header, data), = records.RecordSource("j", "train", str(tmp_path / "d")).records([0])
    with open(path, "rb") as f:
        assert data == f.read()  # stored as it is, no re-encode
    assert (header["height"], header["width"], header["class"], header["label"]) == (30, 40, "a", 0)
    assert store.read_meta("j", str(tmp_path / "d"))["image_shape"] == [30, 40, 3]  # one size: known


def test_grey_only_gives_one_channel_and_bmp_is_reencoded_losslessly(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 7
    _write(str(tmp_path / "raw" / "a" / "x.bmp"), grey, "BMP")
    _write(str(tmp_path / "raw" / "b" / "y.png"), grey[::-1], "PNG")
    image_import.import_folder("g", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    src = sources.source("g", "train", str(tmp_path / "d"))
    np.testing.assert_array_equal(src[0]["image"][..., 0], grey)
    np.testing.assert_array_equal(src[1]["image"][..., 0], grey[::-1])
    assert src[0]["image"].shape == (4, 5, 1)
    assert src.records([0])[0][1][:8] == b"\x89PNG\r\n\x1a\n"  # BMP stored as PNG


def _truncated_jpeg(path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])


def test_bad_image_fails_by_path_and_keeps_the_earlier_data_set(tmp_path):
    _folder(tmp_path / "raw", splits=("train",))
    d = str(tmp_path / "d")
    image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=d, progress=False)
    _truncated_jpeg(str(tmp_path / "raw" / "train" / "dog" / "broken.jpg"))
    with pytest.raises(ValueError, match=r"broken\.jpg.*truncated.*--skip-bad"):
        image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=d, progress=False, overwrite=True)
    assert sorted(os.listdir(d)) == ["pets"] and store.read_meta("pets", d)["splits"] == {"train": 6}


def test_skip_bad_counts_and_lists(tmp_path):
    _folder(tmp_path / "raw", splits=("train",))
    _truncated_jpeg(str(tmp_path / "raw" / "train" / "dog" / "broken.jpg"))
    (tmp_path / "raw" / "train" / "cat" / "empty.png").write_bytes(b"")
    d = str(tmp_path / "d")
    image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=d, progress=False, skip_bad=True)
    meta = store.read_meta("pets", d)
    assert meta["splits"] == {"train": 6} and meta["skipped"] == 2
    listed = image_import.skipped_list("pets", d)
    assert [line.split("\t")[0] for line in listed] == [str(tmp_path / "raw" / "train" / "cat" / "empty.png"),
                                                        str(tmp_path / "raw" / "train" / "dog" / "broken.jpg")]


@pytest.mark.parametrize("make, match", [
    (lambda r: (r / "a").mkdir(parents=True) or _write(str(r / "b" / "1.png"), np.zeros((2, 2), np.uint8)),
     r"class folder '.*/a' has no images"),
    (lambda r: [_write(str(r / c / "1.png"), np.zeros((2, 2), np.uint8)) for c in ("Cat", "cat")],
     r"'Cat' and 'cat' .* differ only in case"),
    (lambda r: r.mkdir(), r"no class subfolders and no images"),
    (lambda r: _write(str(r / "1.png"), np.zeros((2, 2), np.uint8)), r"holds images but no class subfolders"),
    (lambda r: [_write(str(r / "train" / "a" / "1.png"), np.zeros((2, 2), np.uint8)),
                _write(str(r / "val" / "1.png"), np.zeros((2, 2), np.uint8))], r"val'.*without class folders.*--labels"),
])
def test_layout_problems_one_line_each(tmp_path, make, match):
    make(tmp_path / "raw")
    with pytest.raises(ValueError, match=match) as e:
        image_import.import_folder("m", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)
    assert "\n" not in str(e.value)
    assert not os.path.exists(tmp_path / "d" / "m")


def test_unreadable_file_named(tmp_path, monkeypatch):
    _folder(tmp_path / "raw", splits=("train",))
    real_open = open

    def deny(path, *a, **k):
        if str(path).endswith(os.path.join("dog", "1.png")):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)
    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(ValueError, match=r"cannot read '.*dog/1\.png' \(Permission denied\)"):
        image_import.import_folder("m", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)


def test_invalid_name_refused_before_any_image_is_read(tmp_path, monkeypatch):
    _folder(tmp_path / "raw", splits=("train",))
    monkeypatch.setattr(image_import, "check_image", lambda path: pytest.fail(f"read {path}"))
    with pytest.raises(ValueError, match=r"name='my set' must be ASCII letters"):
        image_import.import_folder("my set", str(tmp_path / "raw"), data_dir=str(tmp_path / "d"), progress=False)


def test_interrupted_import_leaves_nothing_visible(tmp_path, monkeypatch):
    _folder(tmp_path / "raw", splits=("train",))
    d = tmp_path / "d"
    image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=str(d), progress=False)
    calls = []
    real = image_import.check_image

    def interrupt(path):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(path)
    monkeypatch.setattr(image_import, "check_image", interrupt)
    with pytest.raises(KeyboardInterrupt):
        image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=str(d), progress=False, overwrite=True,
                                   threads=1)
    assert sorted(os.listdir(d)) == ["pets"] and len(sources.source("pets", "train", str(d))) == 6
    # A staging folder of a killed process (its pid gone) is removed by the next import.
    stale = d / ".pets.tmp-999999999-abc"
    stale.mkdir()
    monkeypatch.setattr(image_import, "check_image", real)
    image_import.import_folder("other", str(tmp_path / "raw"), data_dir=str(d), progress=False)
    assert stale.exists()  # another name's import leaves it
    image_import.import_folder("pets", str(tmp_path / "raw"), data_dir=str(d), progress=False, overwrite=True)
    assert not stale.exists() and sorted(os.listdir(d)) == ["other", "pets"]
