"""``jcnn train``'s exit statuses: a slip is one line and status 2 before anything is written; a run stopped
by a signal exits 130 (SIGINT) or 143 (SIGTERM)."""

import os
import pathlib

import pytest

from jcnn.__main__ import main
from jcnn.train import experiment_files, loop

SMOKE = ["train", "lenet5_mnist:smoke", "--no-progress"]


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jcnn train: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_a_bad_value_exits_2_before_compiling_or_writing(tmp_path, capsys):
    """Before: train.log_every=0 crashed with ZeroDivisionError after compiling; checkpoint.every=-2 was taken."""
    work = tmp_path / "run"
    assert main([*SMOKE, "--set", "train.log_every=0", "--set", "checkpoint.every=-2", "--workdir", str(work)]) == 2
    _one_line_error(capsys, "train.log_every=0: must be an int >= 1", "checkpoint.every=-2: must be an int >= 0")
    assert not work.exists()


def test_a_workdir_that_is_a_file_or_under_a_file_exits_2(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("not a folder")
    assert main([*SMOKE, "--workdir", str(f)]) == 2
    _one_line_error(capsys, str(f), "is a file")
    assert main([*SMOKE, "--workdir", str(f / "run" / "a")]) == 2
    _one_line_error(capsys, "sits under the file", str(f))
    assert f.read_text() == "not a folder"


def test_a_workdir_that_cannot_be_written_exits_2(tmp_path, capsys):
    if os.geteuid() == 0:  # root may write anywhere os.access can see: use a file system that refuses folders
        if not pathlib.Path("/proc/self").is_dir():
            pytest.skip("needs /proc")
        target = "/proc/jcnn-test/run"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = str(locked / "run")
    assert main([*SMOKE, "--workdir", target]) == 2
    _one_line_error(capsys, target)
    assert not pathlib.Path(target).exists()


@pytest.mark.parametrize("signal_name, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_run_stopped_by_a_signal_exits_128_plus_its_number(tmp_path, monkeypatch, capsys, signal_name, status):
    """The loop's summary says what stopped it; `jcnn train ... && next` must not go on."""
    seen = {}

    def stopped(cfg, workdir, progress=True):
        seen["workdir"] = workdir
        return {"experiment": cfg.experiment, "step": 3, "stopped_by": signal_name}

    monkeypatch.setattr(loop, "train", stopped)
    assert main([*SMOKE, "--workdir", str(tmp_path / "run")]) == status
    assert f"stopped by {signal_name} at step 3" in capsys.readouterr().out
    assert seen["workdir"] == tmp_path / "run"


def test_no_experiments_folder_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(experiment_files, "SEARCH_PATH", (tmp_path / "checkout", tmp_path / "installed"))
    assert main(["train", "--list"]) == 2
    _one_line_error(capsys, "no named experiments found", "pip install .")
    assert main([*SMOKE, "--workdir", str(tmp_path / "run")]) == 2
    _one_line_error(capsys, "--config PATH")


def test_unknown_experiment_and_missing_workdir_are_one_line(capsys):
    assert main(["train", "lenet5_mnst", "--workdir", "x"]) == 2
    _one_line_error(capsys, "unknown experiment 'lenet5_mnst'", "lenet5_mnist")
    assert main(["train", "lenet5_mnist:smoke"]) == 2
    _one_line_error(capsys, "--workdir is required")


def test_print_config_needs_no_workdir(capsys):
    assert main(["train", "lenet5_mnist:smoke", "--print-config"]) == 0
    assert '"log_every": 2' in capsys.readouterr().out


def test_a_malformed_process_count_variable_is_argparses_one_line(monkeypatch, capsys):
    monkeypatch.setenv("JCNN_NUM_PROCESSES", "two")
    with pytest.raises(SystemExit) as info:
        main([*SMOKE, "--workdir", "x"])
    assert info.value.code == 2
    assert "invalid int value: 'two'" in capsys.readouterr().err
