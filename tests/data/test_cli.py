"""``python -m jcnn data``: import and list, with clean errors."""

import os

from jcnn.__main__ import main
from jcnn.data import sources
from tests.data.conftest import write_idx_dir


def test_import_then_by_name(tmp_path, capsys):
    write_idx_dir(tmp_path / "raw", n_train=30, n_test=10)
    out = str(tmp_path / "d")
    assert main(["data", "import", "fashion_mnist", "--from", str(tmp_path / "raw"), "--data-dir", out]) == 0
    assert "train 30, test 10" in capsys.readouterr().out
    assert len(sources.source("fashion_mnist", "test", out)) == 10
    assert main(["data", "list", "--data-dir", out]) == 0
    listing = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:3] for line in listing.splitlines()[2:-1]}
    assert rows["fashion_mnist"] == ["yes", "imported"] and rows["synthetic"] == ["yes", "built-in"]
    assert rows["cifar10"] == ["no", "-"] and rows["mnist"] == ["yes", "embedded"]


def test_env_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "env"))
    write_idx_dir(tmp_path / "raw", n_train=5, n_test=5)
    assert main(["data", "import", "digits", "--from", str(tmp_path / "raw")]) == 0
    assert os.path.isfile(tmp_path / "env" / "digits" / "meta.json")


def test_errors(tmp_path, capsys):
    write_idx_dir(tmp_path / "raw", n_train=5, n_test=5)
    out = str(tmp_path / "d")
    assert main(["data", "import", "x", "--from", str(tmp_path / "raw"), "--data-dir", out]) == 0
    assert main(["data", "import", "x", "--from", str(tmp_path / "raw"), "--data-dir", out]) == 2
    assert "already imported" in capsys.readouterr().err
    assert main(["data", "import", "x", "--from", str(tmp_path / "raw"), "--data-dir", out, "--force"]) == 0
    (tmp_path / "raw" / "train-labels-idx1-ubyte.gz").unlink()
    assert main(["data", "import", "y", "--from", str(tmp_path / "raw"), "--data-dir", out, "--format", "idx"]) == 2
    assert "train-labels-idx1-ubyte" in capsys.readouterr().err
    assert main(["data"]) == 2


def test_slips_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    write_idx_dir(tmp_path / "raw", n_train=5, n_test=5)
    cases = [
        (["data", "import", "bad name", "--from", str(tmp_path / "nowhere")], "name='bad name' must be ASCII"),
        (["data", "import", "x", "--from", str(tmp_path / "nowhere")], "does not exist"),
    ]
    for argv, expected in cases:
        assert main(argv + ["--data-dir", str(tmp_path / "d")]) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "file"))
    for argv in (["data", "list"], ["data", "import", "x", "--from", str(tmp_path / "raw")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "is a file, not a folder" in err and err.count("\n") == 1


def test_corrupt_gz_exit_2(tmp_path, capsys):
    write_idx_dir(tmp_path / "raw", n_train=5, n_test=5)
    path = tmp_path / "raw" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[12:] = b"\x00" * (len(raw) - 12)
    path.write_bytes(bytes(raw))
    assert main(["data", "import", "x", "--from", str(tmp_path / "raw"), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte.gz" in err and err.count("\n") == 1


def test_import_help_names_the_validation_forms(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["data", "import", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "LOC_val_solution.csv" in out and "imagenet2012_validation_labels.txt" in out and "--skip-bad" in out
