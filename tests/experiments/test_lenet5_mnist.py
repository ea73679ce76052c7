"""Experiment 1 at its small setting: both LeNet-5 variants train, tables byte-identical on a rerun."""

import json

import lenet5_mnist


def test_small_setting_is_deterministic_and_complete(tmp_path):
    a = lenet5_mnist.run(tmp_path / "a", small=True)
    b = lenet5_mnist.run(tmp_path / "b", small=True)
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    assert (a / "metrics_modern.jsonl").read_bytes() == (b / "metrics_modern.jsonl").read_bytes()
    rows = json.loads((a / "results.json").read_text())["rows"]
    assert [r["config"] for r in rows] == ["lenet5_classic_mnist", "lenet5_mnist"]
    assert all(r["steps"] == 40 and 0 <= r["test_error_pct"] <= 100 and r["paper_error_pct"] == 0.95 for r in rows)
    assert (a / "learning_curves.png").stat().st_size > 1000
    assert "0.95" in (a / "results.md").read_text()
