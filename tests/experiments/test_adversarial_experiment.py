"""Experiment 6 at a shortened small setting: complete table, eps 0 is clean accuracy, byte-identical reruns.

The determinism check runs a shorter setting (10 steps, 64 digits, two radii) twice: the
same code paths as ``--small`` (both trainings, FGSM and PGD at eps 0 and eps > 0).
"""

import json

import adversarial

EPS = (0.0, 0.25)


def test_short_setting_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "data"))
    a = adversarial.run(tmp_path / "a", small=True, steps=10, n_test=64, eps=EPS)
    b = adversarial.run(tmp_path / "b", small=True, steps=10, n_test=64, eps=EPS)
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    res = json.loads((a / "results.json").read_text())
    assert (res["steps"], res["n_test"], res["eps"]) == (10, 64, list(EPS))
    rows = res["rows"]
    assert [(r["model"].split()[0], r["eps"]) for r in rows] == [
        ("standard", 0.0), ("standard", 0.25), ("adversarially", 0.0), ("adversarially", 0.25)]
    for r in rows:
        if r["eps"] == 0:
            assert r["fgsm_accuracy_pct"] == r["pgd5_accuracy_pct"]
