"""``jcnn train``'s exit statuses: a slip is one line and status 2 before anything is written; a run stopped
by a signal exits 130 (SIGINT) or 143 (SIGTERM)."""

import hashlib
import os
import pathlib
import signal
import threading
import time

import pytest

import jcnn.train as jt
from _helpers import cli
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


def _wait_for(capfd, text, timeout=60):
    seen, t0 = "", time.time()
    while text not in seen:
        assert time.time() - t0 < timeout, seen
        time.sleep(0.01)
        seen += capfd.readouterr().err
    return seen


def test_ctrl_c_once_says_so_at_once_twice_aborts(capfd):
    """Before: the first Ctrl-C printed nothing until the step ended; a second one was swallowed too."""
    before = signal.getsignal(signal.SIGINT), signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before[1])
    with loop._Stop() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signal == "SIGINT"
        assert _wait_for(capfd, "\n") == "\njcnn train: stopping after this step (Ctrl-C again to abort)\n"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # (the handler runs at the next bytecode: already in os.kill)
        _wait_for(capfd, "jcnn train: aborting")
    assert (signal.getsignal(signal.SIGINT), signal.set_wakeup_fd(-1)) == before  # all put back
    signal.set_wakeup_fd(before[1])
    with loop._Stop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM changes nothing: the step ends, then the save
        assert stop.signal == "SIGTERM"
        _wait_for(capfd, "stopping after this step (SIGTERM received)")


def test_the_first_ctrl_c_is_announced_while_the_main_thread_is_busy_in_c(capfd):
    """Python runs signal handlers in the main thread only, after the running C call (an XLA step) returns;
    the announcement must not wait for that."""
    data = bytes(512 << 20)
    with loop._Stop() as stop:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        hashlib.sha256(data).digest()  # one C call without the GIL, as an XLA step: ~1 s
        assert stop.signal == "SIGINT"  # handled once the call returned
        _wait_for(capfd, "stopping after this step")
    assert stop.flag_when_announced is None  # announced before the main thread could handle the signal


def test_an_aborted_run_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    def aborted(cfg, workdir, progress=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train", aborted)
    assert main([*SMOKE, "--workdir", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "aborted by Ctrl-C" in err and "Traceback" not in err, err


@pytest.mark.slow
def test_ctrl_c_twice_in_a_real_run(tmp_path):
    """A subprocess: first SIGINT -> the message while it still runs; second -> exit 130 at once, no save."""
    work = tmp_path / "run"
    p = cli("lenet5_mnist:smoke", "--set", "train.steps=100", "--set", "checkpoint.every=2", "--workdir", str(work),
            env={"JCNN_TEST_BATCH_DELAY": "4", "JCNN_DATA_DIR": str(tmp_path / "data")})
    try:
        t0 = time.time()
        while not (work / "checkpoints" / "2").is_dir():
            assert p.poll() is None and time.time() - t0 < 300, p.communicate()
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)  # early in step 3's 4 s batch wait
        lines = []
        while "stopping after this step" not in (lines[-1] if lines else ""):
            lines.append(p.stderr.readline())
            assert lines[-1], lines
        assert lines[-1].strip() == "jcnn train: stopping after this step (Ctrl-C again to abort)"
        assert p.poll() is None  # still in step 3: the message came before the step ended
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "aborted by Ctrl-C" in err and "Traceback" not in err and "stopped by" not in out, (out, err)
    saved = sorted(int(d.name) for d in (work / "checkpoints").iterdir() if d.name.isdigit())
    assert saved == [2]  # aborted in step 3: nothing saved after the last checkpoint, which reads back
    assert int(jt.load(work)["step"]) == 2
