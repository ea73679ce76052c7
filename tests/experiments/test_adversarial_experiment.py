"""Experiment 6 at its small setting: complete table, eps 0 is clean accuracy, byte-identical reruns."""

import json

import pytest

import adversarial


@pytest.mark.slow
def test_small_setting_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "data"))
    a = adversarial.run(tmp_path / "a", small=True)
    b = adversarial.run(tmp_path / "b", small=True)
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    rows = json.loads((a / "results.json").read_text())["rows"]
    assert len(rows) == 2 * len(adversarial.EPS)
    for r in rows:
        if r["eps"] == 0:
            assert r["fgsm_accuracy_pct"] == r["pgd5_accuracy_pct"]
