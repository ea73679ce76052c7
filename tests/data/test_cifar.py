"""jcnn.data.cifar: the official python archives (tar.gz or extracted), pixel layout, bad archives."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from jcnn.__main__ import main
from jcnn.data import cifar, sources


def _batch(rng, n, labels_key, classes):
    return {b"batch_label": b"x", labels_key: [int(v) for v in rng.integers(0, classes, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"f.png"] * n}


def _write_archive(path, variant, *, n=6, extracted=False):
    """A CIFAR archive in the official format (pickled dicts, protocol 2, as numpy pickles arrays)."""
    rng = np.random.default_rng(0)
    if variant == "cifar10":
        top, key, classes = "cifar-10-batches-py", b"labels", 10
        files = {f"data_batch_{i}": _batch(rng, n, key, classes) for i in range(1, 6)}
        files["test_batch"] = _batch(rng, n, key, classes)
        files["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)], b"num_vis": 3072}
        train = [files[f"data_batch_{i}"] for i in range(1, 6)]
    else:
        top, key, classes = "cifar-100-python", b"fine_labels", 100
        files = {"train": _batch(rng, n, key, classes), "test": _batch(rng, n, key, classes)}
        files["meta"] = {b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                         b"coarse_label_names": [b"x"] * 20}
        train = [files["train"]]
    test = [files["test_batch" if variant == "cifar10" else "test"]]
    if extracted:
        os.makedirs(path / top)
        for name, obj in files.items():
            (path / top / name).write_bytes(pickle.dumps(obj, protocol=2))
    else:
        with tarfile.open(path, "w:gz") as tar:
            for name, obj in files.items():
                raw = pickle.dumps(obj, protocol=2)
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
    return train, test, key


def _hwc(row):
    """The documented layout: 1024 red, then green, then blue values, each row-major 32x32."""
    image = np.zeros((32, 32, 3), np.uint8)
    for c in range(3):
        for y in range(32):
            for x in range(32):
                image[y, x, c] = row[c * 1024 + y * 32 + x]
    return image


@pytest.mark.parametrize("variant, extracted", [("cifar10", False), ("cifar10", True), ("cifar100", False)])
def test_import_pixels_labels_names(tmp_path, variant, extracted):
    src_path = tmp_path / ("raw" if extracted else f"{variant}.tar.gz")
    train, test, key = _write_archive(src_path, variant, extracted=extracted)
    assert cifar.looks_like_cifar(str(src_path))
    d = str(tmp_path / "d")
    assert main(["data", "import", variant, "--from", str(src_path), "--data-dir", d]) == 0
    info = sources.info(variant, d)
    assert info.image_shape == (32, 32, 3) and info.num_classes == (10 if variant == "cifar10" else 100)
    assert info.class_names[3] == ("c3" if variant == "cifar10" else "f3")
    src = sources.source(variant, "train", d)
    assert len(src) == 6 * len(train) and len(sources.source(variant, "test", d)) == 6
    for i in (0, 7 if variant == "cifar10" else 5):
        batch, row = divmod(i, 6)
        np.testing.assert_array_equal(src[i]["image"], _hwc(train[batch][b"data"][row]))
        assert src[i]["label"] == train[batch][key][row]


def test_corrupt_gzip_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "cifar-10-python.tar.gz"
    _write_archive(path, "cifar10")
    raw = bytearray(path.read_bytes())
    raw[200:260] = b"\x00" * 60
    path.write_bytes(bytes(raw))
    assert main(["data", "import", "cifar10", "--from", str(path), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cifar-10-python.tar.gz" in err and "not a readable archive" in err
    assert not os.path.exists(tmp_path / "d" / "cifar10")


def test_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    folder = tmp_path / "cifar-10-batches-py"
    _write_archive(tmp_path, "cifar10", extracted=True)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_1 is not a CIFAR batch .*refusing to load posix.system"):
        cifar.read_cifar(str(tmp_path))


def test_missing_batch_named(tmp_path):
    _write_archive(tmp_path, "cifar10", extracted=True)
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_4")
    with pytest.raises(ValueError, match=r"lacks data_batch_4"):
        cifar.read_cifar(str(tmp_path / "cifar-10-batches-py"))
