"""A workdir belongs to one run: its recorded config, the history of invocations, and the lock."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

import jcnn.train as jt
from jcnn.__main__ import main
from jcnn.train import config, workdir

SMOKE = ["train", "lenet5_mnist:smoke", "--no-progress"]


def _run(workdir_, *overrides):
    return jt.train(config.load("lenet5_mnist:smoke", overrides=overrides), workdir_, progress=False,
                    log=lambda m: None)


def _snapshot(root):
    """Every file under ``root`` with its bytes (the lock file's holder line aside)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != workdir.LOCK}


def test_differences_and_check_name_every_key():
    old = {"experiment": "e", "optimizer": {"lr": 0.1, "name": "sgd"}, "train": {"steps": 6, "log_every": 2},
           "checkpoint": {"keep": 2}, "data": {"mean": [0.5]}}
    new = {"experiment": "e", "optimizer": {"lr": 0.5, "name": "sgd"}, "train": {"steps": 6, "log_every": 3},
           "checkpoint": {"keep": 5}, "data": {"mean": (0.5,)}, "model": {"kwargs": {"width": 2}}}
    assert workdir.differences(old, new) == {"checkpoint.keep": (2, 5), "model.kwargs.width": ("(absent)", 2),
                                             "optimizer.lr": (0.1, 0.5), "train.log_every": (2, 3)}
    with pytest.raises(ValueError) as info:
        workdir.check(new, "/w", old)
    msg = str(info.value)
    assert "\n" not in msg and "--workdir" in msg
    for part in ("optimizer.lr: 0.1 -> 0.5", "train.log_every: 2 -> 3", "model.kwargs.width: '(absent)' -> 2"):
        assert part in msg, msg
    assert "checkpoint.keep: 2" not in msg  # may differ: it changes no result
    # A larger train.steps continues the run; a smaller one is refused.
    grown = json.loads(json.dumps(old))
    grown["train"]["steps"], grown["checkpoint"]["keep"] = 10, 3
    assert workdir.check(grown, "/w", old) == {"checkpoint.keep": (2, 3), "train.steps": (6, 10)}
    grown["train"]["steps"] = 4
    with pytest.raises(ValueError, match=r"train.steps: 6 -> 4"):
        workdir.check(grown, "/w", old)
    assert workdir.check(new, "/w", None) == {}  # a new workdir
    # A finished run may be evaluated again with other evaluation settings (nothing trains).
    split = json.loads(json.dumps(old)) | {"data": {"mean": [0.5], "eval_split": "train"}}
    with pytest.raises(ValueError, match="data.eval_split: '.absent.' -> 'train'"):
        workdir.check(split, "/w", old)
    assert workdir.check(split, "/w", old, finished=True) == {"data.eval_split": ("(absent)", "train")}


def test_rerun_with_another_config_is_refused_before_writing(tmp_path, capsys):
    """Before: optimizer.lr and log_every changes were taken silently; the run went on with the new values."""
    _run(tmp_path)
    recorded = json.loads((tmp_path / "config.json").read_text())
    assert workdir.flat(recorded) == workdir.flat(config.to_dict(config.load("lenet5_mnist:smoke")))
    before = _snapshot(tmp_path)
    assert main([*SMOKE, "--workdir", str(tmp_path), "--set", "optimizer.lr=0.5", "--set", "train.log_every=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jcnn train: error: workdir "), err
    assert "optimizer.lr: 0.05 -> 0.5" in err and "train.log_every: 2 -> 3" in err and "another --workdir" in err
    assert _snapshot(tmp_path) == before


def test_extending_steps_continues_and_the_manifest_keeps_the_history(tmp_path):
    _run(tmp_path, "train.steps=3")
    s = _run(tmp_path, "train.steps=8", "checkpoint.keep=3")  # a larger steps and a field that may differ
    assert s["start_step"] == 3 and s["step"] == 8
    cfg = config.load("lenet5_mnist:smoke", overrides=["train.steps=8", "checkpoint.keep=3"])
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 8
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    runs = manifest["invocations"]
    assert [r["steps"] for r in runs] == [[0, 3], [3, 8]]
    assert runs[0]["changed"] == {} and runs[1]["changed"] == {"checkpoint.keep": [2, 3], "train.steps": [3, 8]}
    assert all(r["versions"]["jax"] and r["versions"]["jcnn"] and r["time"] for r in runs)
    assert manifest["config"]["train"]["steps"] == 8
    # The command line rebuilds the config when pasted back.
    argv = shlex.split(runs[1]["command"])
    assert argv[:5] == ["python", "-m", "jcnn", "train", "lenet5_mnist:smoke"]
    assert argv[argv.index("--workdir") + 1] == str(tmp_path)
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert sorted(sets) == ["checkpoint.keep=3", "train.steps=8"]
    assert config.to_dict(config.load(argv[4], overrides=sets)) == config.to_dict(cfg)


HOLD = textwrap.dedent("""
    import sys, time
    from jcnn.train import workdir
    workdir.Lock(sys.argv[1]).acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def test_a_second_run_in_a_workdir_is_refused_and_a_killed_holder_frees_it(tmp_path, capsys):
    """Before: two runs wrote the same checkpoints and metrics.jsonl at once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=rf"workdir {tmp_path} is in use by pid {holder.pid} "
                                             rf"\(host {socket.gethostname()}\)"):
            _run(tmp_path)
        assert main([*SMOKE, "--workdir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"in use by pid {holder.pid}" in err, err
        assert sorted(p.name for p in tmp_path.iterdir()) == [workdir.LOCK]  # nothing else written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with workdir.Lock(tmp_path):  # the kernel released the dead holder's lock: nothing stuck
        with pytest.raises(ValueError, match=f"in use by pid {os.getpid()}"):
            workdir.Lock(tmp_path).acquire()  # and it also guards against a second run in one process
    workdir.Lock(tmp_path).acquire().release()
