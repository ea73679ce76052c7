"""``import jcnn`` makes glibc's malloc reuse the buffers XLA-CPU frees (jcnn/_xla_cpu.py), in fresh processes.

The measured quantity is the process's minor page faults per call of a jitted
function whose 64 MiB output is allocated afresh on every call: with glibc's
defaults the block is ``mmap``-ed and unmapped each time, so every call faults
in all 16,384 of its pages; with jcnn's setting freed blocks are reused (after
about ten calls, while the heap's free blocks coalesce: the process keeps
that memory, the setting's price).
"""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource
import jcnn
import jax, jax.numpy as jnp
f = jax.jit(lambda x: x * 2.0 + 1.0)
x = jnp.ones((16, 1024, 1024), jnp.float32)  # 64 MiB in, 64 MiB out
for _ in range(20):  # glibc settles on reusing freed blocks after about 10 calls
    f(x).block_until_ready()
faults = []
for _ in range(15):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    y = f(x)
    y.block_until_ready()
    assert float(y[3, 5, 7]) == 3.0
    del y
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
# The median call: on a loaded machine JAX may free a result late, and the call that then needs one
# more block grows the heap once (16,384 faults); that is growth, not a per-call cost.
faults = sorted(faults)[len(faults) // 2]
print(json.dumps({"status": jcnn._xla_cpu.malloc_status, "faults": faults}))
"""

PAGES = 64 * 2**20 // 4096

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"),
                                reason="the setting is glibc's")


def _probe(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "JCNN_CPU_MALLOC"))}
    full.update(env, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_makes_large_xla_buffers_reuse_freed_memory():
    r = _probe()
    assert r["status"] == "applied"
    assert r["faults"] < PAGES / 20, r  # measured: 0 for the median call


def test_opt_out_keeps_glibcs_mmap_per_buffer():
    r = _probe(JCNN_CPU_MALLOC="0")
    assert r["status"] == "opted-out"
    assert r["faults"] >= PAGES, r  # every call (the median one too) faults in its whole fresh 64 MiB output


def test_accelerator_processes_are_left_alone(monkeypatch):
    from jcnn import _xla_cpu

    monkeypatch.setenv("JAX_PLATFORMS", "cuda,cpu")
    monkeypatch.delenv("JCNN_CPU_MALLOC", raising=False)
    assert not _xla_cpu._cpu_backend_expected()
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert _xla_cpu._cpu_backend_expected()
