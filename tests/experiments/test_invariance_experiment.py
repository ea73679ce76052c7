"""Experiment 5 at its small setting: shifts hurt, the zero shift changes nothing, byte-identical reruns."""

import json

import invariance


def test_small_setting_is_consistent_and_deterministic(tmp_path):
    a = invariance.run(tmp_path / "a", small=True)
    b = invariance.run(tmp_path / "b", small=True)
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    assert (a / "invariance.png").stat().st_size > 0
    rows = json.loads((a / "results.json").read_text())["rows"]
    assert len(rows) == len(invariance.MODELS) * len(invariance.SHIFTS)
    for label, _ in invariance.MODELS:
        r = {x["shift_px"]: x for x in rows if x["model"] == label}
        assert r[0]["agreement_pct"] == 100 and r[0]["logit_change"] == 0
        assert r[0]["accuracy_pct"] > 50  # 60 steps already learn something
        assert r[4]["logit_change"] > r[1]["logit_change"] > 0
        assert r[4]["accuracy_pct"] < r[0]["accuracy_pct"]
