"""Experiment 10 at its small setting on mock data (CIFAR-10 is not here)."""

import json

import resnet20_cifar10


def test_small_setting_on_mock_data(tmp_path):
    out = resnet20_cifar10.run(tmp_path, small=True)
    (row,) = json.loads((out / "results.json").read_text())["rows"]
    assert row["config"] == "resnet20_cifar10:smoke" and row["steps"] == 6
    assert row["compilations"] == 1
    assert row["paper_error_pct"] == 8.75
