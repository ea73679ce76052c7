"""Experiment 2 at its small setting: published receptive fields reproduced, byte-identical reruns."""

import json

import receptive_fields


def test_small_setting_matches_published_values_and_is_deterministic(tmp_path):
    a = receptive_fields.run(tmp_path / "a", small=True)
    b = receptive_fields.run(tmp_path / "b", small=True)
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    rows = {r["model"]: r for r in json.loads((a / "results.json").read_text())["rows"]}
    assert rows["AlexNet"]["rf"] == 195 and rows["VGG-16 (D)"]["rf"] == 212 and rows["MobileNet v1"]["rf"] == 315
    assert all(r["match"] for r in rows.values())
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["versions"]["jax"] and "devices" in manifest
