"""XLA-CPU settings jcnn applies when it is imported (before JAX starts its CPU backend).

jax 0.10.2's XLA-CPU hands convolutions with more than 16 channels to YNNPACK
by default (``--xla_cpu_experimental_ynn_fusion_type`` contains
``INDIVIDUAL_CONVOLUTION``). On 2-core machines that path runs 2-3x slower
than XLA's own (Eigen) convolution, and slower on two threads than on one
(VGG 56x56x64, batch 16, forward: 53 ms on 2 threads, 35 ms on 1, 17 ms with
Eigen; ``experiments/benchmarks/results/conv_cpu_*.md``). jcnn keeps
YNNPACK's other default fusions (dots and reductions) and leaves convolutions
to Eigen.

The setting is an XLA flag, read once, when the CPU backend starts: so it is
appended to ``XLA_FLAGS`` on ``import jcnn`` only if no backend is running yet
and the user has not set that flag. Opt out with ``JCNN_XLA_CPU_DEFAULTS=0``.
GPU and TPU ignore ``xla_cpu_*`` flags.
"""

from __future__ import annotations

import os
import sys

YNN_FLAG = "xla_cpu_experimental_ynn_fusion_type"
# XLA's defaults minus INDIVIDUAL_CONVOLUTION.
YNN_VALUE = "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
OPT_OUT = "JCNN_XLA_CPU_DEFAULTS"

# What configure() found: "applied", "user" (XLA_FLAGS already sets the flag),
# "opted-out", or "too-late" (a JAX backend was already running).
status = "not-run"


def _backends_started() -> bool:
    if "jax" not in sys.modules:  # no JAX yet, so no backend; and importing it here would cost seconds
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - private module moved
        return False
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if callable(started) else bool(getattr(xla_bridge, "_backends", None))


class SlowConvWarning(UserWarning):
    """A JAX CPU backend started before ``import jcnn``: its convolutions keep YNNPACK."""


def _warn_if_cpu():
    import warnings

    import jax

    if jax.default_backend() == "cpu":
        warnings.warn(f"jcnn: JAX's CPU backend started before `import jcnn`, so its convolutions stay on YNNPACK "
                      f"(2-3x slower on small CPUs); import jcnn first, or set XLA_FLAGS=--{YNN_FLAG}={YNN_VALUE}",
                      SlowConvWarning, stacklevel=4)


def configure() -> str:
    """Append jcnn's XLA-CPU flag to ``XLA_FLAGS`` if it can still take effect; return the status."""
    global status
    flags = os.environ.get("XLA_FLAGS", "")
    if os.environ.get(OPT_OUT, "1").strip().lower() in ("0", "false", "no", "off"):
        status = "opted-out"
    elif YNN_FLAG in flags:
        status = "user"
    elif _backends_started():
        status = "too-late"
        _warn_if_cpu()
    else:
        os.environ["XLA_FLAGS"] = f"{flags} --{YNN_FLAG}={YNN_VALUE}".strip()
        status = "applied"
    return status


def active() -> bool:
    """Whether XLA-CPU convolutions run on XLA's own kernels in this process (jcnn's setting or the user's)."""
    flags = os.environ.get("XLA_FLAGS", "")
    for part in flags.split():
        if part.lstrip("-").startswith(YNN_FLAG + "="):
            return "CONVOLUTION" not in part.split("=", 1)[1].upper()
    return False
