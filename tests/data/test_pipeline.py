"""jcnn.data.pipeline: batches, order as a function of (seed, epoch), sharding, exact resumption."""

import itertools

import numpy as np
import pytest
import tensorflow_datasets as tfds

import jcnn.data as data
from jcnn.data import photos, transforms


def take(iterator, k):
    return list(itertools.islice(iterator, k))


def same(a, b):
    return all(x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True))


def test_batch_contents(tiny):
    p = data.pipeline("tiny", "train", batch_size=8, seed=0, data_dir=tiny["data_dir"], num_epochs=1)
    assert (p.steps_per_epoch, len(p), p.num_examples) == (7, 7, 60)
    batches = list(p)
    images, labels = tiny["data"]["train"]
    b = batches[0]
    assert b["image"].shape == (8, 8, 6, 1) and b["image"].dtype == np.uint8  # uint8 leaves the workers
    assert b["label"].dtype == np.int32 and b["index"].dtype == np.int64 and set(b) == {"image", "label", "index"}
    np.testing.assert_array_equal(b["image"][..., 0], images[b["index"]])
    np.testing.assert_array_equal(b["label"], labels[b["index"]])
    seen = np.concatenate([b["index"] for b in batches])
    assert len(set(seen)) == 56  # one epoch, no repeats, 4 dropped


def test_order_is_function_of_seed_and_epoch(tiny):
    def indices(seed):
        p = data.pipeline("tiny", "train", batch_size=10, seed=seed, data_dir=tiny["data_dir"], num_epochs=3)
        return np.stack([b["index"] for b in p]).reshape(3, 60)
    a, b, c = indices(1), indices(1), indices(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    for epoch in range(3):  # the documented oracle
        np.testing.assert_array_equal(a[epoch], np.random.default_rng([1, epoch]).permutation(60))
    assert not np.array_equal(a[0], a[1])


def test_no_shuffle_remainder_kept(tiny):
    p = data.pipeline("tiny", "test", batch_size=8, seed=0, data_dir=tiny["data_dir"], num_epochs=1,
                      shuffle=False, drop_remainder=False)
    sizes = [len(b["index"]) for b in p]
    assert sizes == [8, 8, 4]
    np.testing.assert_array_equal(np.concatenate([b["index"] for b in p]), np.arange(20))


@pytest.mark.parametrize("count", [2, 3, 7])
def test_shards_disjoint_and_cover(tiny, count):
    per_shard = []
    for i in range(count):
        p = data.pipeline("tiny", "train", batch_size=2, seed=5, data_dir=tiny["data_dir"], num_epochs=1,
                          shard=(i, count))
        per_shard.append(np.concatenate([b["index"] for b in p]))
    assert len({len(s) for s in per_shard}) == 1  # same number of steps everywhere
    union = np.concatenate(per_shard)
    assert len(union) == len(set(union))  # disjoint
    assert len(union) >= 60 - count - 2 * count  # covers all but the remainders


@pytest.mark.parametrize("count", [2, 3])
def test_shards_split_each_global_batch(tiny, count):
    """k processes with batch b read, step by step, the batches one process with batch k*b reads (multi-host
    training then sees the same data order on any number of hosts)."""
    kw = dict(seed=5, data_dir=tiny["data_dir"], num_epochs=2)
    whole = [b["index"] for b in data.pipeline("tiny", "train", batch_size=4 * count, **kw)]
    parts = [[b["index"] for b in data.pipeline("tiny", "train", batch_size=4, shard=(i, count), **kw)]
             for i in range(count)]
    assert all(len(p) == len(whole) == 2 * (60 // (4 * count)) for p in parts)
    for step, expected in enumerate(whole):
        np.testing.assert_array_equal(np.concatenate([p[step] for p in parts]), expected)
    # Without drop_remainder the leftover examples are split too (60 = 2 * 24 + 12 at k=2, b=12).
    tail = [np.concatenate([b["index"] for b in data.pipeline("tiny", "train", batch_size=12, shard=(i, 2), seed=5,
                                                              data_dir=tiny["data_dir"], num_epochs=1,
                                                              drop_remainder=False)]) for i in range(2)]
    order = np.random.default_rng([5, 0]).permutation(60)
    np.testing.assert_array_equal(tail[0], np.concatenate([order[0:12], order[24:36], order[48:54]]))
    np.testing.assert_array_equal(tail[1], np.concatenate([order[12:24], order[36:48], order[54:60]]))


@pytest.mark.parametrize("augment", [None, "flip_lr|crop(8, pad=1)|rotate(10)|brightness(0.2)"])
def test_resume_bit_exact(tiny, augment):
    kw = dict(batch_size=16, seed=3, data_dir=tiny["data_dir"], augment=augment)
    it = iter(data.pipeline("tiny", "train", **kw))
    take(it, 5)  # crosses an epoch boundary (3 steps per epoch)
    state = it.get_state()
    expected = take(it, 4)
    fresh = iter(data.pipeline("tiny", "train", **kw))
    fresh.set_state(state)
    assert same(take(fresh, 4), expected)


def test_augment_applied_and_keyed_by_step_and_index(tiny):
    spec = "brightness(0.3)"
    plain = take(iter(data.pipeline("tiny", "train", batch_size=8, seed=0, data_dir=tiny["data_dir"])), 2)
    aug = take(iter(data.pipeline("tiny", "train", batch_size=8, seed=0, data_dir=tiny["data_dir"], augment=spec)), 2)
    f = data.augment.batch_augmenter(spec, seed=0)
    for step in range(2):
        np.testing.assert_array_equal(aug[step]["index"], plain[step]["index"])
        ref = np.asarray(f(step, plain[step]["image"] / np.float32(255), plain[step]["index"]))
        np.testing.assert_allclose(aug[step]["image"], ref, atol=1e-6)
        assert not np.allclose(aug[step]["image"], plain[step]["image"])


def test_tfds_mock_pipeline(tmp_path):
    with tfds.testing.mock_data(num_examples=24):
        p = data.pipeline("cifar10", "train", batch_size=8, seed=0, data_dir=str(tmp_path), num_epochs=1)
        batches = list(p)
    assert len(batches) == 3 and batches[0]["image"].shape == (8, 32, 32, 3)
    assert batches[0]["image"].dtype == np.uint8 and batches[0]["image"].max() > 1


def test_mnist_first_use(mnist_dir):
    p = data.pipeline("mnist", "test", batch_size=128, seed=0, data_dir=mnist_dir, shuffle=False, num_epochs=1)
    b = next(iter(p))
    assert b["image"].shape == (128, 28, 28, 1) and b["label"][0] == 7 and len(p) == 78


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 61}, ValueError, r"batch_size=61 is larger than the 60 examples of 'tiny' split 'train'"),
    ({"batch_size": 20, "shard": (0, 4)}, ValueError, r"batch_size=20 is larger than the 15 .* on shard \(0, 4\)"),
    ({"batch_size": 0}, ValueError, r"batch_size=0 must be an int >= 1"),
    ({"batch_size": 2.0}, TypeError, r"batch_size=2.0 must be an int"),
    ({"seed": -1}, ValueError, r"seed=-1"),
    ({"num_epochs": 0}, ValueError, r"num_epochs=0"),
    ({"shard": (2, 2)}, ValueError, r"shard=\(2, 2\) must satisfy 0 <= index < count"),
    ({"shard": 3}, TypeError, r"shard=3 must be None or a pair"),
    ({"shard": (0, 61)}, ValueError, r"leaves no examples"),
    ({"augment": "blur"}, ValueError, r"unknown op 'blur'"),
])
def test_bad_arguments(tiny, kwargs, error, match):
    args = {"batch_size": 4, "seed": 0} | kwargs
    with pytest.raises(error, match=match):
        data.pipeline("tiny", "train", data_dir=tiny["data_dir"], **args)


def test_bad_split_and_name(tiny):
    with pytest.raises(ValueError, match="split='dev'"):
        data.pipeline("tiny", "dev", batch_size=4, seed=0, data_dir=tiny["data_dir"])
    with pytest.raises(ValueError, match="unknown data set name='tinny'.*'tiny'"):
        data.pipeline("tinny", "train", batch_size=4, seed=0, data_dir=tiny["data_dir"])


def test_worker_processes_match_and_resume(tiny):
    kw = dict(batch_size=8, seed=4, data_dir=tiny["data_dir"], augment="flip_lr")
    expected = take(iter(data.pipeline("tiny", "train", **kw)), 6)
    it = iter(data.pipeline("tiny", "train", worker_count=2, **kw))
    got = take(it, 4)
    state = it.get_state()
    resumed = iter(data.pipeline("tiny", "train", worker_count=2, **kw))
    resumed.set_state(state)
    got += take(resumed, 2)
    result = same(got, expected)
    del it, resumed, got  # release grain's shared memory before the workers go
    assert result


def test_worker_processes_need_no_absl_set_up_in_a_fresh_process():
    """Regression: outside absl.app.run, grain's workers raised UnparsedFlagAccessError (every ImageNet config)."""
    import subprocess
    import sys

    code = ("import numpy as np, jcnn.data as d\n"
            "if __name__ == '__main__':\n"
            "    it = iter(d.pipeline('synthetic', 'train', batch_size=4, seed=0, worker_count=2))\n"
            "    b = next(it)\n"
            "    print('ok', np.asarray(b['image']).shape[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-2:] == ["ok", "4"]


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    """A small ImageNet-like set (variable sizes, JPEG/PNG/grey/CMYK), imported once."""
    root = tmp_path_factory.mktemp("photos")
    photos.make_folder(str(root / "raw"), num_classes=3, per_class={"train": 8, "val": 3}, size_range=(60, 140))
    data.import_folder("photos", str(root / "raw"), data_dir=str(root / "d"), progress=False)
    return str(root / "d")


def test_variable_size_needs_a_transform(photo_set):
    with pytest.raises(ValueError, match=r"'photos' has variable image sizes \(None, None, 3\); pass transform="):
        data.pipeline("photos", "train", batch_size=4, seed=0, data_dir=photo_set)
    with pytest.raises(TypeError, match=r"transform='crop' must be None"):
        data.pipeline("photos", "train", batch_size=4, seed=0, data_dir=photo_set, transform="crop")


def test_transform_batches_are_a_function_of_seed_epoch_index(photo_set):
    t = transforms.RandomResizedCrop(40)
    p = data.pipeline("photos", "train", batch_size=6, seed=3, data_dir=photo_set, transform=t, num_epochs=2)
    assert p.image_shape == (40, 40, 3) and p.steps_per_epoch == 4
    batches = list(p)
    src = data.source("photos", "train", photo_set)
    for step in (0, 5):
        b = batches[step]
        assert b["image"].shape == (6, 40, 40, 3) and b["image"].dtype == np.uint8
        items, labels = src.get_items(b["index"])
        for k, i in enumerate(b["index"]):  # the documented oracle: the transform of (seed, epoch, index)
            np.testing.assert_array_equal(b["image"][k], t(items[k], channels=3, seed=3, epoch=step // 4, index=i))
        np.testing.assert_array_equal(b["label"], labels)
    ev = list(data.pipeline("photos", "validation", batch_size=4, seed=0, data_dir=photo_set, num_epochs=1,
                            shuffle=False, drop_remainder=False, transform=transforms.CenterCrop(40)))
    assert [len(b["index"]) for b in ev] == [4, 4, 1] and ev[0]["image"].shape == (4, 40, 40, 3)


def test_transform_resume_mid_epoch(photo_set):
    kw = dict(batch_size=4, seed=1, data_dir=photo_set, transform=transforms.RandomResizedCrop(32))
    it = iter(data.pipeline("photos", "train", **kw))
    take(it, 7)  # mid-epoch 1 (6 steps per epoch)
    state = it.get_state()
    expected = take(it, 3)
    fresh = iter(data.pipeline("photos", "train", **kw))
    fresh.set_state(state)
    assert same(take(fresh, 3), expected)


def test_transform_worker_processes_match_threads(photo_set):
    kw = dict(batch_size=4, seed=2, data_dir=photo_set, transform=transforms.RandomResizedCrop(48))
    expected = take(iter(data.pipeline("photos", "train", **kw)), 8)
    it = iter(data.pipeline("photos", "train", worker_count=2, **kw))
    got = take(it, 5)
    state = it.get_state()
    resumed = iter(data.pipeline("photos", "train", worker_count=2, **kw))
    resumed.set_state(state)
    got += take(resumed, 3)
    result = same(got, expected)
    del it, resumed, got
    assert result
