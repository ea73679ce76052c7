"""Experiment 4 at its small setting: every figure written, ascent raises activations, byte-identical reruns."""

import json

import filters


def test_small_setting_writes_figures_and_is_deterministic(tmp_path):
    a = filters.run(tmp_path / "a", small=True)
    b = filters.run(tmp_path / "b", small=True)
    assert (a / "results.md").read_bytes() == (b / "results.md").read_bytes()
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    for png in ("classical", "filters", "feature_maps", "filter_vis", "deconvnet"):
        assert (a / f"{png}.png").stat().st_size > 0
    rows = {r["item"]: r for r in json.loads((a / "results.json").read_text())["rows"]}
    assert rows["lenet5_modern test accuracy (%)"]["value"] > 50
    vis = [r for k, r in rows.items() if k.startswith("visualize_filter")]
    assert len(vis) == 4 and all(r["value"] > float(r["detail"].split()[1].rstrip(",")) for r in vis)
    assert rows["deconvnet conv2[0] (top max): projection L1 norm"]["value"] > 0
