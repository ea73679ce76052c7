"""Real subprocesses: SIGKILL mid-epoch then resume is bit-exact; SIGTERM saves and exits cleanly."""

import signal
import time

import jax
import numpy as np
import pytest

import jcnn.train as jt
from _helpers import cli, cli_run

ARGS = ["lenet5_mnist:smoke", "--set", "train.steps=16", "--set", "checkpoint.every=4", "--set", "eval.every=4"]


def _wait_for_checkpoint(workdir, step, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if (workdir / "checkpoints" / str(step)).is_dir():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError(f"no checkpoint {step} in {workdir}")


def _params(workdir):
    return [np.asarray(x) for x in jax.tree.leaves(jt.load(workdir)["params"])]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_run_matches_uninterrupted(tmp_path, sig):
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "ref"))
    assert rc == 0, err
    p = cli(*ARGS, "--workdir", str(tmp_path / "cut"), env={"JCNN_TEST_BATCH_DELAY": "0.25"})
    _wait_for_checkpoint(tmp_path / "cut", 8, p)
    time.sleep(0.4)  # a step or two past the checkpoint: mid-epoch, between saves
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert p.returncode == 143, err  # 128 + SIGTERM: the run was interrupted (its state is saved)
        assert "SIGTERM received" in err and "stopped by SIGTERM" in out
        stopped = max(int(d.name) for d in (tmp_path / "cut" / "checkpoints").iterdir() if d.name.isdigit())
        assert 8 <= stopped < 16
    else:
        assert p.returncode == -signal.SIGKILL
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "cut"))
    assert rc == 0, err
    assert "resuming from step" in err
    for a, b in zip(_params(tmp_path / "ref"), _params(tmp_path / "cut"), strict=True):
        assert a.tobytes() == b.tobytes()
    assert (tmp_path / "ref" / "metrics.jsonl").read_text() == (tmp_path / "cut" / "metrics.jsonl").read_text()
