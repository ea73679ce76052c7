"""What ran: package versions, devices, git commit, command line — recorded beside every result.

One home for the run manifest, used by the training loop and by the
``experiments/`` scripts, so every number in a table can be traced to the
exact code and libraries that produced it.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import platform
import subprocess
import sys

PACKAGES = ("jcnn", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "grain", "tensorflow-datasets",
            "numpy", "ml_collections")


def versions(packages=PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None if absent)."""
    out = {}
    for p in packages:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def git_commit(root=None) -> str | None:
    """The checkout's HEAD commit, with ``+dirty`` if the work tree has changes; None outside git."""
    root = pathlib.Path(root or pathlib.Path(__file__).resolve().parents[1])
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        if not head:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def manifest(**extra) -> dict:
    """A JSON-able record of the environment, plus ``extra`` (config, seed, data fingerprint, ...)."""
    import jax

    return {
        "command": " ".join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]]),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions(),
        "devices": [str(d) for d in jax.devices()],
        "process_count": jax.process_count(),
        "git_commit": git_commit(),
        **extra,
    }
