"""Many devices (8 forced CPU devices) and two processes on localhost: same numbers, portable checkpoints.

Tolerances: 1 vs 8 devices (or 2 processes x 4) differ only in reduction order; after 4 LeNet-5 steps the
parameters agree to about 7e-7 (measured), so ``rtol=1e-5, atol=1e-5`` below has ample margin while
a different data order or a lost gradient shard moves them by orders of magnitude more.
"""

import shutil

import jax
import numpy as np
import pytest

import jcnn.train as jt
from _helpers import cli_run
from _hosts import EIGHT, finish, params, two_hosts

ARGS = ["lenet5_mnist:smoke", "--set", "train.steps=4", "--set", "checkpoint.every=0"]
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _close(a, b, tol=1e-4):
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for x, y in zip(a, b):
        for k in ("loss", "accuracy"):
            assert x[k] == pytest.approx(y[k], rel=tol, abs=tol), (x, y)


def _all_close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, **TOL)


@pytest.mark.slow
def test_eight_devices_match_one(tmp_path):
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "one"))
    assert rc == 0, err
    rc, out, err = cli_run(*ARGS, "--workdir", str(tmp_path / "eight"), env=EIGHT)
    assert rc == 0, err
    assert "8 device(s)" in err and "per device 1" in err
    _close(jt.read_metrics(tmp_path / "one"), jt.read_metrics(tmp_path / "eight"))
    _all_close(params(tmp_path / "one"), params(tmp_path / "eight"))
    rc, out, err = cli_run(*ARGS, "--set", "train.batch_size=12", "--workdir", str(tmp_path / "bad"), env=EIGHT)
    assert rc == 2 and "not divisible by the device count 8" in err


# Checkpoints at steps 2 and 4; no eval in between (an eval would save its best step too).
RESUMABLE = ["lenet5_mnist:smoke", "--set", "train.steps=4", "--set", "checkpoint.every=2", "--set", "eval.every=0"]


def _cut_at_step_2(src, dst):
    """A copy of the run ``src`` as if it had stopped right after saving step 2."""
    shutil.copytree(src, dst)
    for d in (dst / "checkpoints").iterdir():
        if d.name.isdigit() and int(d.name) > 2:
            shutil.rmtree(d)


@pytest.fixture(scope="module")
def eight_device_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("eight") / "run"
    rc, out, err = cli_run(*RESUMABLE, "--workdir", str(work), env=EIGHT)
    assert rc == 0, err
    assert "8 device(s)" in err
    return work


def test_a_checkpoint_saved_on_eight_devices_loads_on_one(eight_device_run):
    """Before: "Topology mismatch detected" -- orbax read the writer's 8-device shardings."""
    if jax.device_count() == 8:
        pytest.skip("this process has 8 devices itself")
    saved = jt.load(eight_device_run)
    assert int(saved["step"]) == 4 and saved["meta"]["step"] == 4
    leaves = jax.tree.leaves(saved["params"])
    assert all(x.sharding.device_set == {jax.local_devices()[0]} for x in leaves)
    model = jt.load_model(eight_device_run)
    from flax import nnx
    got = jax.tree.leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
    assert len(got) == len(leaves) and all(np.array_equal(a, b) for a, b in zip(got, leaves))
    logits = model(np.zeros((2, 28, 28, 1), np.float32))
    assert logits.shape == (2, 10) and np.all(np.isfinite(logits))
    assert int(jt.load(eight_device_run, 2)["step"]) == 2


def test_a_run_saved_on_eight_devices_resumes_on_one(eight_device_run, tmp_path):
    _cut_at_step_2(eight_device_run, tmp_path / "cut")
    rc, out, err = cli_run(*RESUMABLE, "--workdir", str(tmp_path / "cut"))
    assert rc == 0, err
    assert "1 device(s)" in err and "resuming from step 2" in err
    _all_close(params(eight_device_run), params(tmp_path / "cut"))
    _close(jt.read_metrics(eight_device_run), jt.read_metrics(tmp_path / "cut"))


@pytest.mark.slow
@pytest.mark.parametrize("devices", [8, 4])
def test_a_run_saved_on_eight_devices_resumes_on_eight_or_four(eight_device_run, tmp_path, devices):
    _cut_at_step_2(eight_device_run, tmp_path / "cut")
    env = {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    rc, out, err = cli_run(*RESUMABLE, "--workdir", str(tmp_path / "cut"), env=env)
    assert rc == 0, err
    assert f"{devices} device(s)" in err and "resuming from step 2" in err
    a, b = params(eight_device_run), params(tmp_path / "cut")
    if devices == 8:  # same layout: bit-exact
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
        assert (eight_device_run / "metrics.jsonl").read_text() == (tmp_path / "cut" / "metrics.jsonl").read_text()
    else:
        _all_close(a, b)


@pytest.mark.slow  # 45 s alone, 90 s on a loaded 2-core machine; cheap default: the data and stop tests
def test_two_processes_match_one(tmp_path):
    """2 processes x 4 devices vs 1 process x 8: same global batches, so the same parameters after 4 steps
    (within TOL); the two-process checkpoint (each process wrote its part) loads in this one process and
    resumes in one process of one device (the data position does not depend on the process count)."""
    results = finish(two_hosts(*RESUMABLE, workdir=tmp_path / "two"))
    for rc, out, err in results:
        assert rc == 0, err[-3000:]
    assert "8 device(s) (cpu), 2 process(es)" in results[0][2]
    rc, out, err = cli_run(*RESUMABLE, "--workdir", str(tmp_path / "one"), env=EIGHT)
    assert rc == 0, err
    _all_close(params(tmp_path / "one"), params(tmp_path / "two"))
    _close(jt.read_metrics(tmp_path / "one"), jt.read_metrics(tmp_path / "two"))
    images = np.random.default_rng(0).uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(jt.load_model(tmp_path / "two")(images), jt.load_model(tmp_path / "one")(images),
                               rtol=1e-4, atol=1e-4)
    _cut_at_step_2(tmp_path / "two", tmp_path / "cut")
    rc, out, err = cli_run(*RESUMABLE, "--workdir", str(tmp_path / "cut"))
    assert rc == 0, err
    assert "1 process(es)" in err and "resuming from step 2" in err
    _all_close(params(tmp_path / "two"), params(tmp_path / "cut"))
