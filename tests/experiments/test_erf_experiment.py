"""Experiment 3 at its small setting: the uniform stack's exact sqrt(L) law, byte-identical reruns."""

import json

import numpy as np

import erf


def test_small_setting_is_deterministic_and_follows_theory(tmp_path):
    a = erf.run(tmp_path / "a", small=True)
    b = erf.run(tmp_path / "b", small=True)
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
