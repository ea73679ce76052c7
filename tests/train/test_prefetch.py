"""The prefetcher: order, read-ahead, the consumed position it reports, errors, uint8 on the device."""

import time

import jax
import numpy as np
import pytest

from jcnn.train import builder
from jcnn.train.prefetch import Prefetcher


class Counter:
    """Batches 0, 1, 2, ... with a resumable position; counts what was read."""

    def __init__(self, stop=None, fail_at=None):
        self.pos, self.stop, self.fail_at = 0, stop, fail_at

    def __next__(self):
        if self.pos == self.fail_at:
            raise OSError(f"bad record {self.pos}")
        if self.pos == self.stop:
            raise StopIteration
        self.pos += 1
        return {"index": np.array([self.pos - 1])}

    def get_state(self):
        return {"pos": self.pos}


def _wait_for(cond, timeout=10.0):
    t = time.time()
    while not cond():
        assert time.time() - t < timeout
        time.sleep(0.01)


def test_reads_ahead_and_reports_the_consumed_position():
    it = Counter()
    with Prefetcher(it, lambda b: b["index"] * 10, depth=2) as p:
        assert p.state == {"pos": 0}
        _wait_for(lambda: it.pos == 3)  # two queued, one more made while the queue is full
        time.sleep(0.1)
        assert it.pos == 3
        host, dev = p.peek()
        assert p.state == {"pos": 0} and int(host["index"][0]) == 0  # peek takes nothing
        for i in range(5):
            host, dev = next(p)
            assert int(host["index"][0]) == i and int(dev[0]) == 10 * i
            assert p.state == {"pos": i + 1}  # not the iterator's own (further) position
        _wait_for(lambda: it.pos == 8)
        assert p.wait_s >= 0


@pytest.mark.parametrize("kw, exc", [({"stop": 2}, StopIteration), ({"fail_at": 2}, OSError)])
def test_end_and_errors_reach_the_loop(kw, exc):
    with Prefetcher(Counter(**kw), lambda b: b) as p:
        next(p), next(p)
        for _ in range(2):  # and stay raised
            with pytest.raises(exc):
                next(p)


def test_depth_is_checked():
    with pytest.raises(ValueError, match="depth=0"):
        Prefetcher(Counter(), lambda b: b, depth=0)


def test_images_go_to_the_device_as_uint8():
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))
    sh = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    host = {"image": np.full((8, 4, 4, 1), 200, np.uint8), "label": np.arange(8, dtype=np.int32),
            "index": np.arange(8), "other": np.zeros(8)}
    dev = builder.global_batch(host, sh)
    assert set(dev) == {"image", "label", "index"}
    assert dev["image"].dtype == np.uint8 and dev["image"].sharding == sh  # normalised inside the step
    assert np.array_equal(np.asarray(dev["image"]), host["image"])
