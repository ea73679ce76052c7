"""Experiment 7 at its small setting: parameter counts follow 49C^2 / 27C^2, 1x1 conv equals dense."""

import json

import factorisation


def test_small_setting_counts_and_pointwise_identity(tmp_path):
    out = factorisation.run(tmp_path, small=True)
    res = json.loads((out / "results.json").read_text())
    rows = {r["model"]: r for r in res["rows"]}
    c7, cb = factorisation.C7, factorisation.CB
    # Block parameters = weights (formula) + biases.
    assert rows["exp_factor_conv7x7"]["block_params"] == 49 * c7 * c7 + c7
    assert rows["exp_factor_conv3x3x3"]["block_params"] == 27 * c7 * c7 + 3 * c7
    assert rows["exp_factor_plain3x3"]["block_params"] == 9 * cb * cb + cb
    assert rows["exp_factor_bottleneck"]["block_params"] == rows["exp_factor_bottleneck"]["weights_formula"] + cb // 2 + cb
    assert rows["exp_factor_conv3x3x3"]["block_flops"] < rows["exp_factor_conv7x7"]["block_flops"]
    assert rows["exp_factor_bottleneck"]["block_flops"] < rows["exp_factor_plain3x3"]["block_flops"] / 8
    assert all(r["steps"] == 20 for r in rows.values())
    assert res["pointwise_vs_dense_max_abs_diff"] < 1e-5
