"""Shared bits of the train tests: run the CLI in a subprocess."""

import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parents[1]


def cli(*args, env=None, **kw):
    e = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.Popen([sys.executable, str(HERE / "run_train.py"), *args, "--no-progress"], cwd=ROOT, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def cli_run(*args, env=None, timeout=120):
    p = cli(*args, env=env)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err
