"""Experiment 8 at its small setting: one row per (size, augmentation), accuracies on three test sets."""

import json

import augmentation


def test_small_setting_table(tmp_path):
    out = augmentation.run(tmp_path, small=True)
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["train_examples"], r["augment"]) for r in rows] == [(256, "none"), (256, augmentation.SPEC)]
    for r in rows:
        assert r["steps"] == 15
        assert all(0 <= r[k] <= 100 for k in augmentation.TESTS)
    assert "rotate 15deg" in (out / "results.md").read_text()
