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
# The ImageNet configs' smoke runs (AlexNet and VGG-16 included) run end to end, with a kill-and-resume,
# in tests/experiments/test_imagenet_configs.py.
SLOW = ["vgg16_cifar10"]


def run(name, workdir, *overrides):
    cfg = config.load(name, overrides=overrides)
    return jt.train(cfg, workdir, progress=False, log=lambda m: None)


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW])
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


NAN_RUN = ("optimizer.name=sgd", "optimizer.lr=1e30", "schedule.warmup_steps=0", "train.steps=20", "eval.every=0")


def test_nonfinite_loss_stops(tmp_path):
    # Checked at every step (checkpoint.every=1): stops at the first bad step, every checkpoint before it is good.
    with pytest.raises(jt.NonFiniteLossError, match=r"first at step (\d+) \(checked at step \1\)") as err:
        run("lenet5_mnist:smoke", tmp_path, *NAN_RUN, "checkpoint.every=1", "train.log_every=1")
    bad = list(tmp_path.glob("nonfinite_step_*.json"))
    assert len(bad) == 1
    rec = json.loads(bad[0].read_text())
    step = int(bad[0].stem.rsplit("_", 1)[1])
    assert rec["step"] == rec["detected_at_step"] == step and f"first at step {step} " in str(err.value)
    assert len(rec["indices"]) == 8
    good = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert good == list(range(1, step))  # the last good checkpoint is kept, nothing after
    assert np.isfinite(np.concatenate([np.ravel(x) for x in jax.tree.leaves(jt.load(tmp_path)["params"])])).all()


def test_nonfinite_found_later_names_the_first_bad_step_and_batch(tmp_path):
    # The flag lives on the device and is read only at log/checkpoint steps; the step and batch it names are
    # the first bad ones all the same (the host keeps the last log_every batches' indices).
    with pytest.raises(jt.NonFiniteLossError):
        run("lenet5_mnist:smoke", tmp_path / "ref", *NAN_RUN, "checkpoint.every=1", "train.log_every=1")
    (ref,) = [json.loads(p.read_text()) for p in (tmp_path / "ref").glob("nonfinite_step_*.json")]
    with pytest.raises(jt.NonFiniteLossError, match=f"first at step {ref['step']} \\(checked at step 6\\)"):
        run("lenet5_mnist:smoke", tmp_path / "late", *NAN_RUN, "checkpoint.every=0", "train.log_every=6")
    assert ref["step"] < 6
    (late,) = [json.loads(p.read_text()) for p in (tmp_path / "late").glob("nonfinite_step_*.json")]
    assert late == {**ref, "detected_at_step": 6}
    assert not [p for p in (tmp_path / "late" / "checkpoints").iterdir() if p.name.isdigit()]  # none saved
    assert [r["step"] for r in jt.read_metrics(tmp_path / "late")] == []  # no log step was reached


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


def test_interrupted_async_save_is_ignored(tmp_path):
    # A process killed while orbax writes step 9 leaves "9.orbax-checkpoint-tmp*" behind (the rename never came):
    # restore and resume use the newest complete step.
    run("lenet5_mnist:smoke", tmp_path)  # checkpoints at 3 and 6
    import shutil

    tmp = tmp_path / "checkpoints" / "9.orbax-checkpoint-tmp-1764680000"
    shutil.copytree(tmp_path / "checkpoints" / "6", tmp)
    for f in sorted(tmp.rglob("*"))[::2]:
        if f.is_file():
            f.unlink()  # half written
    assert int(jt.load(tmp_path)["step"]) == 6
    s = run("lenet5_mnist:smoke", tmp_path, "train.steps=8")
    assert s["start_step"] == 6 and int(jt.load(tmp_path)["step"]) == 8


class DeviceRead(AssertionError):
    pass


def _guarded(monkeypatch):
    """Run every ``loop.run_steps`` call where no value may cross between host and devices.

    ``jax.transfer_guard("disallow")`` rejects implicit host-to-device copies everywhere and device-to-host ones
    on accelerators; on CPU, where arrays already live in host memory, it lets reads through, so every read of
    an array's value (``float``, ``np.asarray``, ``jax.device_get``, ``.item()``: all go through
    ``ArrayImpl._value``) is made to fail here as well.
    """
    from jcnn.train import loop

    real, spans, inside = loop.run_steps, [], [False]
    cls = type(jax.numpy.zeros(()))
    value = cls.__dict__["_value"]

    def checked_value(self):
        if inside[0]:
            raise DeviceRead("a device array was read inside run_steps")
        return value.fget(self)

    monkeypatch.setattr(cls, "_value", property(checked_value))

    def guarded(loop_step, state, interval, batches, step, until, **kw):
        with jax.transfer_guard("disallow"):
            inside[0] = True
            try:
                out = real(loop_step, state, interval, batches, step, until, **kw)
                with pytest.raises(DeviceRead):  # the check is live: reading a metric fails
                    float(out[1]["sums"]["loss"])
                with pytest.raises(Exception, match="Disallowed host-to-device"):  # and so does a host value
                    loop_step(out[0], out[1], {k: np.asarray(v) for k, v in batches.peek()[0].items()})
            finally:
                inside[0] = False
        spans.append((step, out[2]))
        return out

    monkeypatch.setattr(loop, "run_steps", guarded)
    return spans


def test_steps_between_logs_transfer_nothing(tmp_path, monkeypatch):
    spans = _guarded(monkeypatch)
    s = run("lenet5_mnist:smoke", tmp_path, "train.steps=8", "train.log_every=4", "eval.every=0",
            "checkpoint.every=0")
    assert spans == [(0, 4), (4, 8)] and s["step"] == 8  # every step ran inside the guard
    assert [r["step"] for r in jt.read_metrics(tmp_path) if r["split"] == "train"] == [4, 8]


def _f32_mean(xs):
    acc = np.float32(0)
    for x in xs:  # the device sums float32 losses one step after another
        acc = np.float32(acc + np.float32(x))
    return float(acc) / len(xs)


def test_logged_metrics_are_interval_means(tmp_path):
    over = ("train.steps=8", "eval.every=0", "checkpoint.every=0")
    run("lenet5_mnist:smoke", tmp_path / "each", *over, "train.log_every=1")
    run("lenet5_mnist:smoke", tmp_path / "avg", *over, "train.log_every=3")
    each = {r["step"]: r for r in jt.read_metrics(tmp_path / "each") if r["split"] == "train"}
    avg = [r for r in jt.read_metrics(tmp_path / "avg") if r["split"] == "train"]
    assert sorted(each) == list(range(1, 9)) and all(r["steps_averaged"] == 1 for r in each.values())
    assert [(r["step"], r["steps_averaged"]) for r in avg] == [(3, 3), (6, 3), (8, 2)]
    for r in avg:
        steps = range(r["step"] - r["steps_averaged"] + 1, r["step"] + 1)
        for k in ("loss", "accuracy", "grad_norm", "lr"):
            assert r[k] == _f32_mean([each[i][k] for i in steps]), (r["step"], k)
        assert r["loss"] != each[r["step"]]["loss"]  # an average, not the last step's value


def test_timing_fields(tmp_path):
    run("lenet5_mnist:smoke", tmp_path, "train.steps=8", "train.log_every=4")
    recs = [json.loads(ln) for ln in (tmp_path / "timing.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [4, 8]
    for r in recs:
        assert r["data_wait_s"] >= 0 and r["step_s"] >= 0 and r["images_per_sec"] > 0 and r["steps"] == 4
        wall = r["steps"] * 8 / r["images_per_sec"]
        assert r["data_wait_s"] + r["step_s"] == pytest.approx(wall, rel=1e-6)
        assert r["data_wait_fraction"] == pytest.approx(r["data_wait_s"] / wall, rel=1e-6)
    assert not any("data_wait" in k for r in jt.read_metrics(tmp_path) for k in r)  # not reproducible: kept out


def test_resume_mid_interval_is_exact(tmp_path, monkeypatch):
    # Stopped (SIGTERM) at step 5, inside the logging interval 5..8 and with batches 6.. already prefetched:
    # the checkpoint holds the data position of step 5 and the interval's partial sums.
    import os
    import signal

    from jcnn.train import loop

    over = ("train.steps=8", "train.log_every=4", "eval.every=0", "checkpoint.every=0")
    run("lenet5_mnist:smoke", tmp_path / "ref", *over)
    real = loop.run_steps

    def stop_at_5(*a, tick=None, **kw):
        def tick_and_stop(n, done=[a[4]]):
            done[0] += n
            if done[0] == 5:
                os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, tick=tick_and_stop, **kw)

    monkeypatch.setattr(loop, "run_steps", stop_at_5)
    s = run("lenet5_mnist:smoke", tmp_path / "cut", *over)
    assert s["stopped_by"] == "SIGTERM" and s["step"] == 5
    monkeypatch.setattr(loop, "run_steps", real)
    s = run("lenet5_mnist:smoke", tmp_path / "cut", *over)
    assert s["start_step"] == 5
    assert _param_bytes(tmp_path / "ref") == _param_bytes(tmp_path / "cut")
    assert (tmp_path / "ref" / "metrics.jsonl").read_text() == (tmp_path / "cut" / "metrics.jsonl").read_text()
