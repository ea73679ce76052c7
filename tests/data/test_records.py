"""jcnn.data.records: record encoding, sharded ArrayRecord files, random access across shards."""

import pickle

import numpy as np

from jcnn.data import records, store


def test_encode_decode_round_trip():
    rec = records.encode(b"\xff\xd8jpeg", label=7, class_name="n0144", height=375, width=500, file="a/b.JPEG")
    header, data = records.decode(rec)
    assert data == b"\xff\xd8jpeg"
    assert header == {"label": 7, "class": "n0144", "height": 375, "width": 500, "file": "a/b.JPEG"}


def test_shards_and_random_access(tmp_path):
    d, name = tmp_path, "toy"
    folder = d / name
    folder.mkdir()
    writer = records.SplitWriter(str(folder), "train", shard_bytes=200)  # a new file every ~3 records
    payloads = [bytes([i]) * (30 + i) for i in range(10)]
    for i, p in enumerate(payloads):
        writer.write(records.encode(p, label=i % 3, class_name=f"c{i % 3}", height=1, width=1, file=f"{i}"))
    files = writer.close()
    assert len(files) > 2 and files[0] == "train-00000.array_record"
    store.write_meta(str(folder), {"format": store.RECORDS_FORMAT, "name": name, "num_classes": 3,
                                   "image_shape": [None, None, 3], "splits": {"train": 10}, "files": {"train": files},
                                   "class_names": ["c0", "c1", "c2"]})
    src = pickle.loads(pickle.dumps(records.RecordSource(name, "train", str(d))))  # as grain workers get it
    items, labels = src.get_items(np.array([9, 0, 4, 4]))
    assert items == [payloads[9], payloads[0], payloads[4], payloads[4]]
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
