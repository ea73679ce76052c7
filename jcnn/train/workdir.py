"""A workdir belongs to one run: its recorded config, and a lock held while a run writes there.

``WORKDIR/config.json`` is the run's full config, written by :func:`record`
before anything else; a later ``jcnn train`` in the same workdir is checked
against it by :func:`check` before anything is built, compiled or written.

``WORKDIR/run.lock`` is held with ``fcntl.flock`` (:class:`Lock`) for the whole
run: the kernel drops the lock when the process ends, however it ends (a
killed run leaves nothing stuck), and a second run is refused naming the pid
and host that hold it. The file itself stays (removing it would let a third
run lock a new file while the second still holds the old one).

Nothing here imports JAX.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import shlex
import socket
import sys
import warnings

CONFIG = "config.json"
LOCK = "run.lock"

#: Fields that may differ between invocations of one run because they change neither the
#: parameters nor ``metrics.jsonl``: how often state is saved and how many saves are kept, and
#: where the (same, by name and split) data set is read from. Everything else is refused,
#: conservatively: ``train.log_every`` and ``eval.*`` change which records ``metrics.jsonl``
#: holds (a resumed run would no longer match an uninterrupted one), ``data.worker_count`` can
#: change the data iterator's saved state, and ``train.steps`` may only grow (see :func:`check`).
MAY_DIFFER = frozenset({"checkpoint.every", "checkpoint.keep", "data.data_dir"})
#: Fields that may also differ once the run has reached ``train.steps``: a rerun then only
#: evaluates (a new ``test`` record replaces the old one), e.g. on another split.
EVAL_ONLY = frozenset({"data.eval_split", "eval.batch_size", "eval.every", "eval.max_batches"})


def flat(tree: dict, prefix: str = "") -> dict:
    """``{"optimizer.lr": 0.1, ...}`` of a nested config dict, values as JSON has them (tuples -> lists)."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.loads(json.dumps(v, default=str))
    return out


def differences(old: dict, new: dict) -> dict[str, tuple]:
    """``{key: (old value, new value)}`` of every leaf that differs; a missing leaf is ``"(absent)"``."""
    a, b = flat(old), flat(new)
    return {k: (a.get(k, "(absent)"), b.get(k, "(absent)")) for k in sorted(a.keys() | b.keys())
            if a.get(k, "(absent)") != b.get(k, "(absent)")}


def read_config(workdir) -> dict | None:
    """The config recorded in ``WORKDIR/config.json``, or None if there is none."""
    path = pathlib.Path(workdir) / CONFIG
    return json.loads(path.read_text()) if path.is_file() else None


def record(workdir, cfg_dict: dict) -> None:
    """Write ``cfg_dict`` to ``WORKDIR/config.json`` (atomically: a killed write leaves the old file)."""
    path = pathlib.Path(workdir) / CONFIG
    tmp = path.with_name(f".{CONFIG}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cfg_dict, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def check(cfg_dict: dict, workdir, recorded: dict | None, *, where: str = CONFIG, finished: bool = False) -> dict:
    """Refuse to run ``cfg_dict`` in ``workdir`` unless it continues the run ``recorded`` there.

    Args:
      cfg_dict: the new run's config (``jcnn.train.config.to_dict``).
      workdir: the workdir (for the message).
      recorded: the config of the run already in ``workdir`` (``config.json``, or the
        newest checkpoint's for workdirs written before ``config.json`` existed); None
        for a new workdir.
      where: where ``recorded`` was read, for the message.
      finished: the workdir holds a checkpoint at the new ``train.steps`` (nothing to
        train: the :data:`EVAL_ONLY` fields may differ too).
    Returns:
      ``{key: (old, new)}`` of the accepted differences (a larger ``train.steps``,
      the :data:`MAY_DIFFER` fields), for the run's history; {} for a new workdir.
    Raises:
      ValueError: one line listing every other differing key as ``key: old -> new``
        and the way out (another ``--workdir``).
    """
    if recorded is None:
        return {}
    diffs = differences(recorded, cfg_dict)
    steps = diffs.get("train.steps")
    grows = steps is not None and all(isinstance(s, int) for s in steps) and steps[1] > steps[0]
    allowed = MAY_DIFFER | (EVAL_ONLY if finished else frozenset())
    refused = {k: v for k, v in diffs.items() if k not in allowed and not (k == "train.steps" and grows)}
    if refused:
        listed = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in refused.items())
        raise ValueError(
            f"workdir {workdir} holds a run of experiment {recorded.get('experiment')!r} whose config differs "
            f"(from its {where}): {listed}; only a larger train.steps continues a run "
            f"(and {', '.join(sorted(MAY_DIFFER))} may change): use another --workdir for a new run")
    return diffs


def _arg(value) -> str:
    # jcnn.train.config takes a string field's text verbatim and parses anything else as a literal.
    return value if isinstance(value, str) else repr(value)


def command(cfg_dict: dict, workdir) -> str | None:
    """A ``python -m jcnn train NAME --workdir DIR --set key=value ...`` line that rebuilds ``cfg_dict``.

    The ``--set`` items are the fields that differ from the named experiment's
    own config, so the line can be pasted back whether the run came from the
    command line or from :func:`jcnn.train.train`. For a config that no named
    experiment rebuilds (``--config PATH``, fields added in code) it is this
    process's own command line if that was ``jcnn``'s, else None.
    """
    from jcnn.train import config as config_lib

    name = cfg_dict.get("experiment") or ""
    try:
        base = flat(config_lib.to_dict(config_lib.load(name)))
    except Exception:  # noqa: BLE001 -- a config file that is not a named experiment, or one that fails to load
        base = None
    new = flat(cfg_dict)
    if base is not None and new.keys() - {"experiment"} <= base.keys():
        sets = [f"{k}={_arg(v)}" for k, v in new.items() if k != "experiment" and base[k] != v]
        return shlex.join(["python", "-m", "jcnn", "train", name, "--workdir", str(workdir),
                           *(x for s in sets for x in ("--set", s))])
    argv0 = pathlib.Path(sys.argv[0]).name if sys.argv else ""
    if argv0 in ("jcnn", "__main__.py") and "train" in sys.argv[1:]:
        return shlex.join(["python", "-m", "jcnn", *sys.argv[1:]])
    return None


class Lock:
    """``fcntl.flock`` on ``WORKDIR/run.lock`` for one run; the file names the holder's pid and host.

    ``with Lock(workdir): ...`` or :meth:`acquire` / :meth:`release`. Advisory
    and per open file: it guards against a second ``jcnn train`` (in this or
    another process), and the kernel releases it when the holder dies.
    """

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.path = self.workdir / LOCK
        self._fd = None

    def acquire(self) -> Lock:
        """Take the lock or raise ValueError ``workdir X is in use by pid N (host H)``; never waits."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ValueError(f"workdir {self.workdir} is in use by {holder}; wait for that run to end "
                             f"(or stop it) or use another --workdir") from None
        except OSError as e:  # a file system without locks (some network mounts): run, unguarded
            os.close(fd)
            warnings.warn(f"workdir {self.workdir}: cannot lock {self.path} ({e.strerror or e}); nothing stops "
                          "a second run from writing here at the same time", RuntimeWarning, stacklevel=2)
            return self
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _holder(fd) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {int(info['pid'])} (host {info['host']})"
    except (ValueError, KeyError, TypeError, OSError):
        return "another process (it has not written its pid yet)"
