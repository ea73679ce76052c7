"""Many devices (8 forced CPU devices) and two processes on localhost."""

import socket

import numpy as np
import pytest

import jcnn.train as jt
from _helpers import cli, cli_run

EIGHT = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
ARGS = ["lenet5_mnist:smoke", "--set", "train.steps=4", "--set", "checkpoint.every=0"]


def _close(a, b, tol=1e-4):
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for x, y in zip(a, b):
        for k in ("loss", "accuracy"):
            assert x[k] == pytest.approx(y[k], rel=tol, abs=tol), (x, y)


@pytest.mark.slow
def test_eight_devices_match_one(tmp_path):
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "one"))
    assert rc == 0, err
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "eight"), env=EIGHT)
    assert rc == 0, err
    assert "8 device(s)" in err and "per device 1" in err
    _close(jt.read_metrics(tmp_path / "one"), jt.read_metrics(tmp_path / "eight"))
    rc, out, err = cli_run(*ARGS, "--set", "train.batch_size=12", "--workdir", str(tmp_path / "bad"), env=EIGHT)
    assert rc == 2 and "not divisible by the device count 8" in err


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    procs = [cli(*ARGS, "--workdir", str(tmp_path / "two"), "--coordinator", f"localhost:{port}",
                 "--num-processes", "2", "--process-id", str(i)) for i in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "one"))
    assert rc == 0, err
    # Each process reads its own shard, so the examples differ from the one-process order only through
    # sharding: compare the loss scale, and exact agreement of the global batch layout.
    assert "2 process(es)" in results[0][1]
    a, b = jt.read_metrics(tmp_path / "one"), jt.read_metrics(tmp_path / "two")
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    assert all(np.isfinite(r["loss"]) for r in b)
