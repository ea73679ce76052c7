"""``import jcnn`` leaves XLA-CPU convolutions to XLA's own kernels (jcnn/_xla_cpu.py), in fresh processes."""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, sys
if sys.argv[1] == "jax-first":
    import jax.numpy as jnp
    jnp.ones(2).block_until_ready()
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import jcnn
import jax, jax.numpy as jnp
from jax import lax
x, w = jnp.ones((2, 8, 8, 32)), jnp.ones((3, 3, 32, 32))
conv = jax.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
hlo = conv.lower(x, w).compile().as_text()
dot = jax.jit(lambda a: a @ a).lower(jnp.ones((64, 64))).compile().as_text()
print(json.dumps({"status": jcnn._xla_cpu.status, "active": jcnn._xla_cpu.active(), "flags": os.environ.get("XLA_FLAGS", ""),
                  "conv_ynn": "ynn" in hlo, "dot_ynn": "ynn" in dot,
                  "warnings": [type(w.message).__name__ for w in caught]}))
"""


def _probe(mode="plain", **env):
    full = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JCNN_XLA_CPU_DEFAULTS")}
    full.update(env, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env=full, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="subprocess env handling")


def test_import_moves_convolutions_off_ynnpack_and_keeps_its_dots():
    r = _probe()
    assert r["status"] == "applied" and r["active"]
    assert "--xla_cpu_experimental_ynn_fusion_type=" in r["flags"]
    assert not r["conv_ynn"] and r["dot_ynn"]
    assert r["warnings"] == []


def test_opt_out_keeps_xla_defaults():
    r = _probe(JCNN_XLA_CPU_DEFAULTS="0")
    assert r["status"] == "opted-out" and not r["active"]
    assert r["conv_ynn"]  # jax 0.10.2's default: a 32-channel conv goes to YNNPACK


def test_the_users_own_flag_wins():
    flag = "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"
    r = _probe(XLA_FLAGS=flag)
    assert r["status"] == "user" and r["flags"] == flag
    assert r["conv_ynn"] and not r["active"]


def test_a_backend_started_before_import_is_reported():
    r = _probe("jax-first")
    assert r["status"] == "too-late" and not r["active"]
    assert r["warnings"] == ["SlowConvWarning"]
    assert r["conv_ynn"]
