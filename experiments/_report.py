"""Write an experiment's results: a Markdown table, the same rows as JSON, and the run manifest.

Tables hold only values computed by the run (no timestamps), so two runs with
the same seed give byte-identical ``results.md`` and ``results.json``; the
manifest (which records the commit and environment) is kept beside them.
"""

from __future__ import annotations

import json
import pathlib

from jcnn.provenance import manifest


def _cell(v):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")  # a pipe inside a cell would end it


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write(out_dir, *, title: str, rows: list[dict], columns: list[str], notes: str = "", **meta) -> pathlib.Path:
    """Write ``results.md``, ``results.json`` and ``manifest.json`` into ``out_dir``; return it."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = f"# {title}\n\n" + markdown_table(rows, columns) + (f"\n{notes.strip()}\n" if notes else "")
    (out / "results.md").write_text(md)
    (out / "results.json").write_text(json.dumps({"title": title, "rows": rows, **meta}, indent=1, sort_keys=True,
                                                 default=str) + "\n")
    (out / "manifest.json").write_text(json.dumps(manifest(experiment=title, **meta), indent=1, default=str) + "\n")
    return out
