"""Real subprocesses: SIGKILL mid-epoch then resume is bit-exact; SIGTERM saves and exits cleanly, also when
only one of two processes gets it."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import jcnn.train as jt
from _helpers import ROOT, cli, cli_run
from _hosts import finish, free_port, two_hosts
from jcnn.train import loop

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


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference run, shared by both signals (one run fewer per signal)."""
    work = tmp_path_factory.mktemp("ref") / "ref"
    rc, out, err = cli_run(*ARGS, "--workdir", str(work), env={"JCNN_DATA_DIR": str(work.parent / "data")})
    assert rc == 0, err
    return work


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_run_matches_uninterrupted(uninterrupted, tmp_path, sig):
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
    for a, b in zip(_params(uninterrupted), _params(tmp_path / "cut"), strict=True):
        assert a.tobytes() == b.tobytes()
    assert (uninterrupted / "metrics.jsonl").read_text() == (tmp_path / "cut" / "metrics.jsonl").read_text()


def test_one_process_agrees_with_itself_without_any_collective(monkeypatch):
    from jax.experimental import multihost_utils

    def no_collective(*a, **kw):
        raise AssertionError("a one-process run must not pay a cross-process sync")

    monkeypatch.setattr(multihost_utils, "process_allgather", no_collective)
    assert loop._agree_stop(None) is None and loop._agree_stop("SIGTERM") == "SIGTERM"
    assert loop._stop_every(jt.load_config("lenet5_mnist:smoke")) == 1


_AGREE = """
import json, sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
from jcnn.train import loop
pid = jax.process_index()
cases = [(None, None), (None, "SIGTERM"), ("SIGINT", "SIGTERM"), ("SIGINT", None)]  # (process 0, process 1)
print(json.dumps([loop._agree_stop(case[pid]) for case in cases]))
"""


def test_two_processes_agree_on_one_processs_signal():
    """Each process contributes its own flag; both get the same answer; SIGTERM wins over SIGINT."""
    address = f"localhost:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | {"JAX_PLATFORMS": "cpu"}
    procs = [subprocess.Popen([sys.executable, "-c", _AGREE, address, str(i)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for rc, out, err in finish(procs, timeout=60):
        assert rc == 0, err[-3000:]
        assert json.loads(out.splitlines()[-1]) == [None, "SIGTERM", "SIGTERM", "SIGINT"]


TWO = ["lenet5_mnist:smoke", "--set", "train.steps=12", "--set", "checkpoint.every=4", "--set", "eval.every=4"]


@pytest.mark.slow  # three two-process runs: about 90 s
def test_sigterm_to_one_of_two_processes_stops_both_at_one_step_and_resumes_bit_exact(tmp_path):
    for rc, out, err in finish(two_hosts(*TWO, workdir=tmp_path / "ref")):
        assert rc == 0, err[-3000:]
    procs = two_hosts(*TWO, workdir=tmp_path / "cut", env={"JCNN_TEST_BATCH_DELAY": "0.25"})
    try:
        _wait_for_checkpoint(tmp_path / "cut", 4, procs[0], timeout=120)
    except BaseException:
        finish(procs, timeout=1)
        raise
    time.sleep(0.4)
    procs[1].send_signal(signal.SIGTERM)  # a preempted host: process 0 gets nothing
    results = finish(procs)
    for rc, out, err in results:
        assert rc == 143, err[-3000:]
        assert "stopped by SIGTERM" in out
    assert "SIGTERM received by another process" in results[0][2]
    assert "SIGTERM received; saved step" in results[1][2]
    stops = [int(re.search(r"saved step (\d+) and stopped", err).group(1)) for _, _, err in results]
    assert stops[0] == stops[1] and 4 <= stops[0] < 12 and stops[0] % 2 == 0  # checked every log_every=2 steps
    saved = max(int(d.name) for d in (tmp_path / "cut" / "checkpoints").iterdir() if d.name.isdigit())
    assert saved == stops[0]
    results = finish(two_hosts(*TWO, workdir=tmp_path / "cut"))
    for rc, out, err in results:
        assert rc == 0, err[-3000:]
        assert f"resuming from step {saved}" in err
    for a, b in zip(_params(tmp_path / "ref"), _params(tmp_path / "cut"), strict=True):
        assert a.tobytes() == b.tobytes()
    assert (tmp_path / "ref" / "metrics.jsonl").read_text() == (tmp_path / "cut" / "metrics.jsonl").read_text()
