"""Experiment 3 at its small setting: the uniform stack's exact sqrt(L) law, byte-identical reruns."""

import json

import numpy as np

import erf


def test_small_setting_is_deterministic_and_follows_theory(tmp_path):
    a = erf.run(tmp_path / "a", small=True, with_training=False)
    b = erf.run(tmp_path / "b", small=True, with_training=False)
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    rows = json.loads((a / "results.json").read_text())["rows"]
    uniform = [r for r in rows if r["setting"] == "uniform, linear"]
    # Sum of L uniform{-1, 0, 1} offsets: variance 2L/3 per axis, so sigma = sqrt(2L/3) and exponent 1/2.
    for r in uniform:
        np.testing.assert_allclose(r["erf_sigma"], np.sqrt(2 * r["depth"] / 3), atol=1e-3)
        assert r["theoretical_rf"] == 2 * r["depth"] + 1
    assert uniform[0]["fitted_exponent"] == 0.5
    dil = {r["depth"]: r["theoretical_rf"] for r in rows if r["setting"] == "random, dilation 2"}
    assert dil == {1: 5, 2: 9, 4: 17}
    assert (a / "erf_relu_deepest.png").stat().st_size > 0


def test_erf_before_and_after_training_small(tmp_path):
    rows = erf.trained(tmp_path, small=True)
    assert [(r["model"], r["when"], r["steps"]) for r in rows] == [
        ("LeNet-5", "init", 0), ("LeNet-5", "trained", 20), ("ResNet-20", "init", 0), ("ResNet-20", "trained", 20)]
    # Theoretical RFs of the measured units at 28x28: LeNet-5 conv2 5 + 4 * 2 + 1 = 14; ResNet-20's last block 81.
    assert [r["theoretical_rf"] for r in rows] == [14, 14, 81, 81]
    for r in rows:
        assert 0 < r["erf_sigma"] < r["theoretical_rf"]
        assert (r["test_accuracy"] is None) == (r["when"] == "init")
    # Training moved the weights: the ERF changed.
    assert rows[0]["erf_sigma"] != rows[1]["erf_sigma"] and rows[2]["erf_sigma"] != rows[3]["erf_sigma"]
    assert (tmp_path / "trained" / "results.md").exists()
    assert (tmp_path / "trained" / "erf_resnet20_trained.png").stat().st_size > 0
