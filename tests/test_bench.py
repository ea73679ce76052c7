"""The benchmark scripts: ``jcnn bench --list`` finds them; train_step.py's core runs and compares like with like."""

from __future__ import annotations

import math
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"


@pytest.fixture(scope="module")
def ts():
    sys.path.insert(0, str(BENCH))
    try:
        import train_step
        yield train_step
    finally:
        sys.path.remove(str(BENCH))


def test_bench_list_names_the_scripts():
    out = subprocess.run([sys.executable, "-m", "jcnn", "bench", "--list"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert {"train_step", "scaling", "conv_cpu"} <= set(out)
    assert not any(name.startswith("_") for name in out)  # _timing is a helper, not a benchmark


def test_pure_jax_step_matches_jcnn_step(ts):
    # Same params, same batch, no augmentation: the same loss and the same updated params, so the
    # images/s comparison is between two implementations of one computation.
    j_loss, p_loss, param_diff = ts.same_step_check("lenet5", batch=8)
    assert math.isfinite(j_loss) and j_loss == pytest.approx(p_loss, rel=1e-5)
    assert param_diff < 1e-5


def test_train_step_smoke(ts):
    res = ts.run(models=("lenet5",), batch=8, repeats=2, warmup=1, use_torch=False, pipeline=False,
                 log=lambda *a: None)
    assert res["matmul_peak_gflops"] > 0
    r = res["models"]["lenet5"]
    for name in ("jcnn_auto", "jcnn_xla", "pure_jax"):
        for key in ("images_per_s", "compile_s", "ms", "flops", "model_gflops"):
            assert math.isfinite(r[name][key]) and r[name][key] > 0, (name, key, r[name][key])
        assert math.isfinite(r[name]["first_loss"])
    assert "lenet5 |" in ts.markdown(res)


def test_bench_without_a_checkout_says_what_to_do_in_one_line(monkeypatch, capsys):
    """An installed wheel has no experiments/benchmarks: one line and status 2, not a FileNotFoundError."""
    from jcnn import bench
    from jcnn.__main__ import main

    monkeypatch.setattr(bench, "benchmarks_dir", lambda: None)
    assert main(["bench", "--list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e ." in err and "Traceback" not in err
