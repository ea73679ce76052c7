"""Two ``jcnn train`` processes on localhost (``jax.distributed``, gloo collectives), 4 CPU devices each."""

import socket

import jax
import numpy as np

import jcnn.train as jt
from _helpers import cli

EIGHT = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
FOUR = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def two_hosts(*args, workdir, env=None):
    """Start the two processes of one run (process 0 is the coordinator); returns their Popen objects."""
    port = free_port()
    return [cli(*args, "--workdir", str(workdir), "--coordinator", f"localhost:{port}", "--num-processes", "2",
                "--process-id", str(i), env={**FOUR, **(env or {})}) for i in range(2)]


def finish(procs, timeout=150):
    """``[(returncode, stdout, stderr)]`` of each process once all have exited."""
    out = []
    try:
        for p in procs:
            o, e = p.communicate(timeout=timeout)
            out.append((p.returncode, o, e))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return out


def params(workdir, step=None):
    """The saved parameters of ``workdir`` read in this (one-device) process, as NumPy arrays."""
    return [np.asarray(x) for x in jax.tree.leaves(jt.load(workdir, step)["params"])]
