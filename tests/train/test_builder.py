"""build(cfg, mesh): the one place that makes a task's state and steps; the loop step equals the bare step."""

import jax
import numpy as np
import pytest

from jcnn.train import builder, config
from jcnn.train.step import interval_zeros


def _batch(n=8):
    rng = np.random.default_rng(0)
    return {"image": rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
            "label": rng.integers(0, 10, (n,)).astype(np.int32), "index": np.arange(n)}


def test_loop_step_is_the_train_step_plus_device_sums():
    cfg = config.load("lenet5_mnist:smoke")
    a, b = builder.build(cfg), builder.build(cfg)
    batch = a.put_batch(_batch())
    interval = b.interval_zeros(b.state, batch)
    s_a, s_b = a.state, b.state
    per_step = []
    for i in range(3):
        s_a, m = a.jit_train(s_a, batch, jax.numpy.asarray(i, jax.numpy.int32))
        per_step.append(jax.device_get(m))
        s_b, interval = b.jit_loop_step(s_b, interval, batch)
    for x, y in zip(jax.tree.leaves(s_a["params"]), jax.tree.leaves(s_b["params"]), strict=True):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
    iv = jax.device_get(interval)
    assert int(iv["count"]) == 3 and bool(iv["finite"]) and int(iv["first_bad"]) == -1
    for k, v in iv["sums"].items():
        assert v == np.float32(np.float32(per_step[0][k] + per_step[1][k]) + per_step[2][k])
    assert b.loop_traces == 1  # three steps, one compilation


def test_first_bad_step_is_kept():
    cfg = config.load("lenet5_mnist:smoke", overrides=["optimizer.name=sgd", "optimizer.lr=1e30",
                                                         "schedule.warmup_steps=0"])
    b = builder.build(cfg)
    batch = b.put_batch(_batch())
    state, interval = b.state, b.interval_zeros(b.state, batch)
    flags = []
    for _ in range(6):
        state, interval = b.jit_loop_step(state, interval, batch)
        flags.append((bool(interval["finite"]), int(interval["first_bad"])))
    first = next(i for i, (ok, _) in enumerate(flags) if not ok) + 1
    assert all(f == (True, -1) for f in flags[:first - 1])
    assert all(f == (False, first) for f in flags[first - 1:])  # later bad steps do not move it


def test_gan_has_no_eval_step():
    b = builder.build(config.load("dcgan_mnist:smoke"))
    assert b.eval_step is None and b.jit_eval is None and set(b.nets) == {"g", "d"}
    assert set(b.tx) == {"g", "d"}


def test_interval_zeros_shapes():
    z = interval_zeros({"loss": jax.ShapeDtypeStruct((), np.float32)})
    assert z["sums"]["loss"].dtype == np.float32 and z["count"] == 0 and z["finite"] and z["first_bad"] == -1


def test_mesh_is_used():
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("data",))
    b = builder.build(config.load("lenet5_mnist:smoke"), mesh)
    assert b.mesh is mesh and b.data.spec == jax.sharding.PartitionSpec("data")
    with pytest.raises(KeyError):
        b.put_batch({"label": np.zeros(8, np.int32)})["image"]
