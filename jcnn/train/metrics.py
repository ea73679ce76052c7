"""Run records: ``metrics.jsonl``, TensorBoard events, the run manifest.

``metrics.jsonl`` holds one JSON object per line with ``step``, ``split``
(``train``/``eval``/``test``) and the metric values. Only values that are a
function of (config, seed, step) go there (no timings), so an interrupted and
resumed run writes the same file as an uninterrupted one: on resume the lines
past the restored step are dropped. Wall-clock figures (images/s, time waiting
for data vs the rest) go to ``timing.jsonl`` and TensorBoard instead.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import pathlib
import sys

import numpy as np

from jcnn import provenance


def _jsonable(v):
    if isinstance(v, (np.ndarray, list, tuple)):
        return [_jsonable(x) for x in np.asarray(v).tolist()] if isinstance(v, np.ndarray) else [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    return v


class MetricsWriter:
    """Appends metric records to ``metrics.jsonl`` and TensorBoard (only on process 0)."""

    def __init__(self, workdir, *, resume_step: int = 0, enabled: bool = True):
        self.path = pathlib.Path(workdir) / "metrics.jsonl"
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= resume_step
                and json.loads(ln)["split"] != "test"]
        self.path.write_text("".join(ln + "\n" for ln in kept))
        try:
            from tensorboardX import SummaryWriter
            self._tb = SummaryWriter(str(pathlib.Path(workdir) / "tb"), flush_secs=10)
        except Exception as e:  # noqa: BLE001 -- TensorBoard is optional output
            print(f"jcnn train: TensorBoard disabled ({e})", file=sys.stderr)

    def write(self, step: int, split: str, values: dict, *, tb_only: dict | None = None):
        if not self.enabled:
            return
        record = {"step": int(step), "split": split, **{k: _jsonable(v) for k, v in values.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in {**values, **(tb_only or {})}.items():
                if isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v)):
                    self._tb.add_scalar(f"{split}/{k}", float(v), int(step))

    def write_timing(self, step: int, values: dict):
        """Append wall-clock ``values`` (not reproducible, so not in metrics.jsonl) to ``timing.jsonl``."""
        if not self.enabled:
            return
        with (self.path.parent / "timing.jsonl").open("a") as f:
            f.write(json.dumps({"step": int(step), **{k: _jsonable(v) for k, v in values.items()}}) + "\n")

    def close(self):
        if self._tb is not None:
            self._tb.close()


def read(workdir) -> list[dict]:
    """All records of ``WORKDIR/metrics.jsonl``."""
    path = pathlib.Path(workdir) / "metrics.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


class EvalAccumulator:
    """Sums ``eval_step`` outputs over batches; ``result()`` gives loss, accuracy, top-5, per-class accuracy."""

    def __init__(self):
        self.sums = None

    def add(self, out: dict):
        out = {k: np.asarray(v, np.float64) for k, v in out.items()}
        self.sums = out if self.sums is None else {k: self.sums[k] + out[k] for k in out}

    def result(self, *, per_class=False) -> dict:
        s = self.sums
        n = max(float(s["count"]), 1.0)
        res = {"loss": float(s["loss"]) / n, "accuracy": float(s["top1"]) / n, "top5": float(s["top5"]) / n,
               "examples": int(s["count"])}
        if per_class:
            res["per_class_accuracy"] = [float(c) / max(float(t), 1.0) for c, t in
                                         zip(s["class_correct"], s["class_count"])]
        return res


def fingerprint(batch: dict) -> str:
    """SHA-256 of the first training batch (images, labels, indices): a cheap data-set identity."""
    h = hashlib.sha256()
    for k in sorted(batch):
        a = np.ascontiguousarray(np.asarray(batch[k]))
        h.update(k.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def write_manifest(workdir, *, cfg_dict: dict, experiment: str, seed: int, data: dict,
                   steps: tuple[int, int] | None = None) -> dict:
    """Add this invocation to ``WORKDIR/manifest.json``, the run's record; returns the manifest.

    The first invocation writes :func:`jcnn.provenance.manifest` (versions, devices,
    git commit) with the run's config, seed and data (its first batch's fingerprint);
    every invocation, the first included, appends to ``invocations`` a record of
    ``time``, ``command`` (a ``python -m jcnn train ...`` line that rebuilds this
    config, see :func:`jcnn.train.workdir.command`), ``steps`` ``[from, to]``,
    the jcnn/jax versions, git commit, device count, the first batch it trained on,
    and ``changed`` (``{key: [old, new]}`` against the previous invocation's config,
    e.g. a larger ``train.steps``). ``config`` is the newest invocation's.
    """
    from jcnn.train import workdir as workdir_lib

    path = pathlib.Path(workdir) / "manifest.json"
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    try:
        old = json.loads(path.read_text()) if path.exists() else None
    except ValueError:
        old = None  # unreadable: start the record again rather than fail the run
    vers = provenance.versions(("jcnn", "jax", "jaxlib"))
    import jax

    invocation = {"time": now, "command": workdir_lib.command(cfg_dict, workdir),
                  "steps": None if steps is None else [int(steps[0]), int(steps[1])], "versions": vers,
                  "git_commit": provenance.git_commit(), "devices": jax.device_count(),
                  "processes": jax.process_count(), "first_batch_sha256": data.get("first_batch_sha256"),
                  "changed": {k: list(v) for k, v in workdir_lib.differences((old or {}).get("config", {}),
                                                                             cfg_dict).items()} if old else {}}
    if old is None:
        manifest = provenance.manifest(experiment=experiment, seed=seed, config=cfg_dict, data=data, started=now)
        manifest["invocations"] = [invocation]
    else:
        manifest = {**old, "config": cfg_dict, "invocations": [*old.get("invocations", []), invocation]}
    tmp = path.with_name(".manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    tmp.replace(path)
    return manifest
