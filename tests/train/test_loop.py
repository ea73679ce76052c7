"""In-process runs at the smoke size: every config, determinism, compile once, bad input, NaN, fallback."""

import json
import os
import sys
import warnings

import jax
import numpy as np
import pytest

import jcnn.nn.capture
import jcnn.train as jt
from _helpers import cli_run
from jcnn.train import config

FAST = ["lenet5_mnist", "lenet5_classic_mnist", "resnet20_cifar10", "dcgan_mnist"]
SLOW = ["vgg16_cifar10", "resnet50_imagenet2012", "mobilenet_v2_imagenet2012"]
SKIP = {"alexnet_imagenet2012": "needs 227x227x3 input (fully connected head); too large for CI",
        "vgg16_imagenet2012": "needs 224x224x3 input (fully connected head); too large for CI"}


def run(name, workdir, *overrides):
    cfg = config.load(name, overrides=overrides)
    return jt.train(cfg, workdir, progress=False, log=lambda m: None)


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW]
                         + [pytest.param(n, marks=pytest.mark.skip(reason=r)) for n, r in SKIP.items()])
def test_smoke(name, tmp_path):
    s = run(f"{name}:smoke", tmp_path)
    recs = jt.read_metrics(tmp_path)
    assert all({"step", "split", "loss", "accuracy"} <= r.keys() for r in recs)
    assert {r["split"] for r in recs} >= {"train"}
    assert s["train_step_compilations"] == 1  # no recompilation after the first step
    if name != "dcgan_mnist":
        test = [r for r in recs if r["split"] == "test"]
        assert len(test) == 1 and len(test[0]["per_class_accuracy"]) == 10
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for k in ("config", "seed", "versions", "devices", "git_commit", "data"):
        assert k in manifest
    assert list((tmp_path / "tb").iterdir())
    saved = jt.load(tmp_path)
    assert int(saved["step"]) == s["step"]
    assert {"params", "batch_stats", "opt_state", "meta"} <= saved.keys()


def test_load_model_rebuilds_the_trained_network(tmp_path):
    run("resnet20_cifar10:smoke", tmp_path)  # BatchNorm: parameters and statistics
    saved = jt.load(tmp_path)
    model = jt.load_model(tmp_path)
    from flax import nnx

    for kind, key in ((nnx.Param, "params"), (nnx.BatchStat, "batch_stats")):
        got = jax.tree.leaves(nnx.state(model, kind).to_pure_dict())
        want = jax.tree.leaves(saved[key])
        assert len(got) == len(want) > 0
        assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert model.stem.bn.use_running_average  # eval mode
    assert [p for p, _ in jcnn.nn.capture.layers(model)][:2] == ["stem", "stem.conv"]  # definition order kept
    with pytest.raises(ValueError, match="net='g' is for GAN runs"):
        jt.load_model(tmp_path, net="g")


def test_load_model_of_a_gan_picks_the_generator_or_discriminator(tmp_path):
    run("dcgan_mnist:smoke", tmp_path)
    saved = jt.load(tmp_path)
    from flax import nnx

    for net in ("g", "d"):
        model = jt.load_model(tmp_path, net=net)
        got = jax.tree.leaves(nnx.state(model, nnx.Param).to_pure_dict())
        assert all(np.array_equal(a, b) for a, b in zip(got, jax.tree.leaves(saved["params"][net])))
    assert jt.load_model(tmp_path)(np.zeros((2, 100), np.float32)).shape == (2, 28, 28, 1)  # the generator, from z
    with pytest.raises(ValueError, match="net='x' must be 'g' or 'd'"):
        jt.load_model(tmp_path, net="x")


def _param_bytes(workdir):
    return b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(jt.load(workdir)["params"]))


def test_determinism(tmp_path):
    run("lenet5_mnist:smoke", tmp_path / "a")
    run("lenet5_mnist:smoke", tmp_path / "b")
    assert _param_bytes(tmp_path / "a") == _param_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()


def test_resume_in_process_is_exact(tmp_path):
    # Train 6 steps; train 3 then (same workdir, steps=6) 3 more: identical params and metrics.
    run("resnet20_cifar10:smoke", tmp_path / "a", "train.steps=6")
    run("resnet20_cifar10:smoke", tmp_path / "b", "train.steps=3")
    s = run("resnet20_cifar10:smoke", tmp_path / "b", "train.steps=6")
    assert s["start_step"] == 3
    assert _param_bytes(tmp_path / "a") == _param_bytes(tmp_path / "b")
    # (the first leg's own end-of-run records differ: it was a 3-step config)
    assert [r for r in jt.read_metrics(tmp_path / "a") if r["step"] > 3] == \
        [r for r in jt.read_metrics(tmp_path / "b") if r["step"] > 3]


def test_keep_last_and_best(tmp_path):
    run("lenet5_mnist:smoke", tmp_path, "train.steps=12", "checkpoint.every=1", "checkpoint.keep=2",
        "eval.every=4")
    steps = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert steps[-2:] == [11, 12] and len(steps) <= 3


def _damage(workdir, step):
    for f in (workdir / "checkpoints" / str(step) / "state").rglob("*"):
        if f.is_file() and f.stat().st_size and "manifest" in f.name or f.parent.name == "d":
            f.unlink()


def test_corrupted_latest_falls_back(tmp_path):
    """Before: the rerun retrained 3 -> 6 but kept the damaged step 6 (save skips an existing step), so load
    returned step 3 and every rerun repeated the work."""
    run("lenet5_mnist:smoke", tmp_path)  # checkpoints at 3 and 6
    want = _param_bytes(tmp_path)
    _damage(tmp_path, 6)
    with pytest.warns(RuntimeWarning, match="step 6"):
        saved = jt.load(tmp_path)
    assert int(saved["step"]) == 3
    assert (tmp_path / "checkpoints" / "6").is_dir()  # a reader never changes the workdir
    with pytest.warns(RuntimeWarning, match="step 6 .* moved to .*damaged"):
        s = run("lenet5_mnist:smoke", tmp_path)
    assert s["start_step"] == 3
    (aside,) = (tmp_path / "checkpoints" / "damaged").iterdir()
    assert aside.name.startswith("6-") and (aside / "meta").is_dir()  # kept for inspection
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # step 6 is whole again: no fallback
        saved = jt.load(tmp_path)
    assert int(saved["step"]) == 6
    assert _param_bytes(tmp_path) == want  # resumed from 3: the same step 6 as the first run


@pytest.mark.slow
def test_corrupted_latest_cli_run_prints_no_event_loop_noise(tmp_path):
    """Before: the fallback run's stderr held dozens of asyncio "Event loop is closed" tracebacks."""
    run("lenet5_mnist:smoke", tmp_path)
    _damage(tmp_path, 6)
    rc, out, err = cli_run("lenet5_mnist:smoke", "--workdir", str(tmp_path), env={"JCNN_DATA_DIR": os.environ[
        "JCNN_DATA_DIR"]})
    assert rc == 0, err
    assert "resuming from step 3" in err and "moved to" in err
    assert "Event loop is closed" not in err and "Traceback" not in err, err
    assert int(jt.load(tmp_path)["step"]) == 6


def test_closed_event_loop_noise_is_dropped_and_nothing_else(monkeypatch):
    from jcnn.train import checkpoint

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    checkpoint._quiet_closed_loop_noise()
    hook = sys.unraisablehook
    checkpoint._quiet_closed_loop_noise()  # installed once
    assert sys.unraisablehook is hook is not seen.append

    class U:
        def __init__(self, e):
            self.exc_value = e

    for e in (RuntimeError("Event loop is closed"), RuntimeError("something else"), ValueError("Event loop is closed")):
        hook(U(e))
    assert [str(u.exc_value) for u in seen] == ["something else", "Event loop is closed"]
    assert isinstance(seen[1].exc_value, ValueError)


def test_nonfinite_loss_stops(tmp_path):
    with pytest.raises(jt.NonFiniteLossError, match=r"at step \d+"):
        run("lenet5_mnist:smoke", tmp_path, "optimizer.name=sgd", "optimizer.lr=1e30", "checkpoint.every=1",
            "schedule.warmup_steps=0", "train.steps=20")
    bad = list(tmp_path.glob("nonfinite_step_*.json"))
    assert len(bad) == 1 and len(json.loads(bad[0].read_text())["indices"]) == 8
    step = int(bad[0].stem.rsplit("_", 1)[1])
    good = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert good and max(good) < step  # the last good checkpoint is kept, nothing after
    assert np.isfinite(np.concatenate([np.ravel(x) for x in jax.tree.leaves(jt.load(tmp_path)["params"])])).all()


def test_other_experiment_workdir_rejected(tmp_path):
    run("lenet5_mnist:smoke", tmp_path)
    with pytest.raises(ValueError, match="holds a run of experiment 'lenet5_mnist:smoke'"):
        run("lenet5_classic_mnist:smoke", tmp_path)


def test_bad_batch_size_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(jax, "device_count", lambda: 3)
    with pytest.raises(ValueError, match="not divisible by the device count 3"):
        run("lenet5_mnist:smoke", tmp_path)


def test_bf16_and_label_smoothing(tmp_path):
    s = run("lenet5_mnist:smoke", tmp_path, "train.precision=bfloat16", "train.label_smoothing=0.1",
            "optimizer.name=adamw", "optimizer.weight_decay=1e-4", "train.grad_clip=1.0")
    assert np.isfinite(s["test_loss"])
    assert all(x.dtype == np.float32 for x in jax.tree.leaves(jt.load(tmp_path)["params"]))


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_adversarial_training_option(tmp_path, method):
    # Half of each batch replaced by attacks on the current model: a different, still deterministic run.
    plain = run("lenet5_mnist:smoke", tmp_path / "plain")
    adv = ("train.adversarial.fraction=0.5", f"train.adversarial.method={method}", "train.adversarial.eps=0.2",
           "train.adversarial.steps=2")
    s1 = run("lenet5_mnist:smoke", tmp_path / "a", *adv)
    s2 = run("lenet5_mnist:smoke", tmp_path / "b", *adv)
    assert s1["train_step_compilations"] == 1 and plain["step"] == s1["step"]
    assert _param_bytes(tmp_path / "a") == _param_bytes(tmp_path / "b")
    assert _param_bytes(tmp_path / "a") != _param_bytes(tmp_path / "plain")


def test_adversarial_method_is_checked(tmp_path):
    with pytest.raises(ValueError, match="method"):
        run("lenet5_mnist:smoke", tmp_path, "train.adversarial.fraction=0.5", "train.adversarial.method=fgm")
