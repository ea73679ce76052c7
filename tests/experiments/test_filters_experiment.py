"""Experiment 4 at its small setting: every figure written, ascent raises activations, byte-identical reruns.

Two conv2 channels are visualised instead of the table's four: the same code path, and gradient
ascent (about 13 s a channel here, recompiled per call and octave) is most of the run's time.
"""

import json

import filters


def test_small_setting_writes_figures_and_is_deterministic(tmp_path):
    a = filters.run(tmp_path / "a", small=True, channels=2)
    b = filters.run(tmp_path / "b", small=True, channels=2)
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    for png in ("classical", "filters", "feature_maps", "filter_vis", "deconvnet"):
        assert (a / f"{png}.png").stat().st_size > 0
    res = json.loads((a / "results.json").read_text())
    assert res["channels"] == 2
    rows = {r["item"]: r for r in res["rows"]}
    assert rows["lenet5_modern test accuracy (%)"]["value"] > 50
    vis = [r for k, r in rows.items() if k.startswith("visualize_filter")]
    assert len(vis) == 2 and all(r["value"] > float(r["detail"].split()[1].rstrip(",")) for r in vis)
    assert rows["deconvnet conv2[0] (top max): projection L1 norm"]["value"] > 0
