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

A second process setting, for the same CPU runs: glibc's ``malloc`` keeps
the memory XLA frees for reuse instead of returning it to the kernel
(:func:`configure_malloc`). XLA-CPU allocates every program's temporary
buffers afresh on each call, and glibc serves a block over 32 MiB (or, from
a worker thread, over 64 MiB) with a new ``mmap``, unmapped again on free:
every step then page-faults through its whole working set. A ResNet-20
training step at batch 128 took 72,700 page faults (about 280 MiB of fresh
pages, a quarter of the step in the kernel); with ``M_ARENA_MAX=1``,
``M_MMAP_MAX=0`` and a trim threshold of 2 GiB it takes none and runs
1.3x faster (``experiments/benchmarks/results/steps_cpu_malloc_2026-12-02.md``). The price:
the process keeps its peak heap until it exits (as with jemalloc or
tcmalloc, which PyTorch's CPU guide recommends for the same reason). Applied
on ``import jcnn`` in processes whose JAX backend will be the CPU (no GPU or
TPU plugin installed, ``JAX_PLATFORMS`` unset or starting with ``cpu``);
opt out with ``JCNN_CPU_MALLOC=0``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys

YNN_FLAG = "xla_cpu_experimental_ynn_fusion_type"
# XLA's defaults minus INDIVIDUAL_CONVOLUTION.
YNN_VALUE = "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
OPT_OUT = "JCNN_XLA_CPU_DEFAULTS"
MALLOC_OPT_OUT = "JCNN_CPU_MALLOC"
# glibc's mallopt parameters (their numbers in malloc.h) and the values jcnn sets.
_MALLOPT_PARAMS = {"M_TRIM_THRESHOLD": -1, "M_MMAP_MAX": -4, "M_ARENA_MAX": -8}
MALLOC_SETTINGS = {"M_ARENA_MAX": 1, "M_MMAP_MAX": 0, "M_TRIM_THRESHOLD": 2**31 - 1}
# Installed packages that give JAX a non-CPU default backend.
_ACCELERATOR_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin", "jax_rocm7_plugin", "libtpu")

# What configure() found: "applied", "user" (XLA_FLAGS already sets the flag),
# "opted-out", or "too-late" (a JAX backend was already running).
status = "not-run"
# What configure_malloc() found: "applied", "opted-out", "not-glibc", "accelerator" or "failed".
malloc_status = "not-run"


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
    if _opted_out(OPT_OUT):
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


def _opted_out(var: str) -> bool:
    return os.environ.get(var, "1").strip().lower() in ("0", "false", "no", "off")


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a POSIX system, or no such name (musl)
        return False


def _cpu_backend_expected() -> bool:
    """Whether JAX's default backend in this process will be the CPU (decided without importing JAX)."""
    platforms = os.environ.get("JAX_PLATFORMS", "").strip().lower()
    if platforms:
        return platforms.split(",")[0].strip() == "cpu"
    return not any(importlib.util.find_spec(m) is not None for m in _ACCELERATOR_PLUGINS)


def configure_malloc() -> str:
    """Make glibc's ``malloc`` reuse freed memory instead of ``mmap``-ing each large block anew; return the status.

    One arena (``M_ARENA_MAX=1``: a worker thread's arena cannot grow past 64 MiB
    and falls back to ``mmap`` whatever ``M_MMAP_MAX`` says), no ``mmap`` for
    large blocks (``M_MMAP_MAX=0``) and no trimming of the heap below 2 GiB of
    free top (``M_TRIM_THRESHOLD``). Only for processes whose JAX backend will
    be the CPU, on glibc; ``JCNN_CPU_MALLOC=0`` opts out.
    """
    global malloc_status
    if _opted_out(MALLOC_OPT_OUT):
        malloc_status = "opted-out"
    elif not _glibc():
        malloc_status = "not-glibc"
    elif not _cpu_backend_expected():
        malloc_status = "accelerator"
    else:
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            malloc_status = "not-glibc"
            return malloc_status
        ok = [mallopt(_MALLOPT_PARAMS[name], value) for name, value in MALLOC_SETTINGS.items()]
        malloc_status = "applied" if all(ok) else "failed"
    return malloc_status


def active() -> bool:
    """Whether XLA-CPU convolutions run on XLA's own kernels in this process (jcnn's setting or the user's)."""
    flags = os.environ.get("XLA_FLAGS", "")
    for part in flags.split():
        if part.lstrip("-").startswith(YNN_FLAG + "="):
            return "CONVOLUTION" not in part.split("=", 1)[1].upper()
    return False
