"""Experiment 9 at its small setting: staged training, sample grids and losses."""

import json

import numpy as np

import dcgan_mnist


def test_small_setting_grids_and_losses(tmp_path):
    out = dcgan_mnist.run(tmp_path, small=True)
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["step"] for r in rows] == list(dcgan_mnist.SMALL_STAGES)
    assert all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in rows)
    grids = np.load(out / "samples.npz")
    assert sorted(grids) == ["step_0", "step_2", "step_4"]
    assert grids["step_0"].shape == (8 * 30 + 2, 8 * 30 + 2)
    assert not np.array_equal(grids["step_0"], grids["step_4"])  # the generator moved
    assert (out / "samples.png").stat().st_size > 1000 and (out / "losses.png").stat().st_size > 1000
