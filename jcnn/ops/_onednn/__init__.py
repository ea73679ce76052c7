"""Channels-last convolution on oneDNN behind XLA's FFI (CPU only): loader and the three calls.

oneDNN (Intel's deep-learning primitives library, the one PyTorch's CPU
convolutions use) is reached through a small C++ extension, ``conv.cc`` beside
this file, built by ``python -m jcnn.ops._onednn.build`` against the
``onednn-devel-cpu-gomp`` wheel and jaxlib's FFI headers. Its three handlers,
registered with ``jax.ffi.register_ffi_target`` for the CPU platform, compute
the forward convolution, the input gradient and the kernel gradient of
:func:`jcnn.ops.conv`'s layout: ``x (N, *S, C_in)``, ``w (*K, C_in/G, C_out)``.

Nothing here is required: without the built library, without the oneDNN
wheel, or with ``JCNN_ONEDNN=0``, :func:`available` is False, jcnn's other
formulations run, and :func:`status` (logged once at INFO on the ``jcnn``
logger) says why.

Threads: each call runs on OpenMP's default team, one thread per core, as
PyTorch's oneDNN does; ``JCNN_ONEDNN_THREADS=n`` pins n. Measured on 2 cores
(``experiments/benchmarks/results/conv_cpu_2026-12-02.md``), one thread and
two were within a few percent, and inside a CNN step XLA runs the
convolutions one after another, so oneDNN's team does not compete with
XLA's pool for long.

Known limit: XLA cannot partition a custom call, so with the batch sharded
over several CPU devices it gathers the batch around each oneDNN call (the
results are right, but every device computes the whole batch); use
``JCNN_ONEDNN=0`` or ``impl='xla'`` for multi-device CPU runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from pathlib import Path

import jax
import numpy as np

LIB_NAME = "libjcnn_onednn.so"
HERE = Path(__file__).resolve().parent
OPT_OUT = "JCNN_ONEDNN"
THREADS_ENV = "JCNN_ONEDNN_THREADS"
TARGETS = {"fwd": "jcnn_onednn_conv_fwd", "dx": "jcnn_onednn_conv_dx", "dw": "jcnn_onednn_conv_dw"}
_DTYPES = (np.dtype(np.float32), np.dtype(jax.numpy.bfloat16))

_log = logging.getLogger("jcnn")
_state: dict = {}


def dnnl_lib_dirs() -> list[Path]:
    """Where the oneDNN wheels put ``libdnnl.so``: ``<prefix>/lib`` of this and the base interpreter."""
    return [Path(p) / "lib" for p in dict.fromkeys((sys.prefix, sys.base_prefix))]


def _load():
    """Load the extension once; return ``(lib or None, status string)``."""
    if os.environ.get(OPT_OUT, "1").strip().lower() in ("0", "false", "no", "off"):
        return None, f"off ({OPT_OUT}=0)"
    path = HERE / LIB_NAME
    if not path.exists():
        return None, "not built (python -m jcnn.ops._onednn.build)"
    # The extension's rpath points at the oneDNN it was built against; preloading
    # libdnnl from this environment also covers a moved virtual environment.
    for d in dnnl_lib_dirs():
        if (d / "libdnnl.so.3").exists():
            ctypes.CDLL(str(d / "libdnnl.so.3"), mode=ctypes.RTLD_GLOBAL)
            break
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        return None, f"cannot load {path.name}: {e}"
    lib.jcnn_onednn_set_num_threads(threads())
    for target in TARGETS.values():
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(lib, target)), platform="cpu")
    v = lib.jcnn_onednn_version()
    return lib, f"oneDNN {v // 10000}.{v // 100 % 100}.{v % 100} ({path})"


def _loaded():
    if "lib" not in _state:
        _state["lib"], _state["status"] = _load()
        _log.info("jcnn: CPU convolutions %s", "use " + _state["status"] if _state["lib"] else
                  "use jcnn's XLA formulations; oneDNN extension " + _state["status"])
    return _state["lib"]


def available() -> bool:
    """Whether the oneDNN extension is loaded and its FFI targets registered (and not :func:`disabled`)."""
    return _loaded() is not None and not _state.get("disabled", False)


@contextlib.contextmanager
def disabled():
    """While active, :func:`available` is False: ``impl='auto'`` traced inside chooses as without the extension.

    For benchmarks that compare jcnn with and without oneDNN in one process.
    """
    _loaded()
    old = _state.get("disabled", False)
    _state["disabled"] = True
    try:
        yield
    finally:
        _state["disabled"] = old


def status() -> str:
    """One line: the oneDNN version and library in use, or why the extension is not used."""
    _loaded()
    return _state["status"]


def threads() -> int:
    """OpenMP threads per oneDNN call: ``JCNN_ONEDNN_THREADS``, else 0 (OpenMP's default: one per core)."""
    value = os.environ.get(THREADS_ENV, "0").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"jcnn: {THREADS_ENV}={value!r} must be a non-negative int")
    return int(value)


def set_threads(n: int) -> None:
    """Set the OpenMP threads of later oneDNN calls in this process (0: one per core); for benchmarks."""
    if _loaded() is not None:
        _state["lib"].jcnn_onednn_set_num_threads(int(n))


def supports(x, w, cfg) -> bool:
    """Whether the handlers take these shapes: 1-3 spatial dims, float32 or bfloat16, no negative padding."""
    _, pads, _, _, _ = cfg
    return (1 <= x.ndim - 2 <= 3 and np.dtype(x.dtype) in _DTYPES and np.dtype(w.dtype) == np.dtype(x.dtype)
            and all(lo >= 0 and hi >= 0 for lo, hi in pads))


def _attrs(cfg):
    stride, pads, dilation, groups, _ = cfg
    i64 = lambda v: np.asarray(v, np.int64)
    return dict(stride=i64(stride), pad_lo=i64([lo for lo, _ in pads]), pad_hi=i64([hi for _, hi in pads]),
                dilation=i64(dilation), groups=np.int64(groups))


def _call(kind, out_shape, dtype, a, b, cfg):
    out = jax.ShapeDtypeStruct(tuple(out_shape), dtype)
    # vmap: one call per mapped element (a vmapped conv is rare; jcnn's modules batch on N).
    return jax.ffi.ffi_call(TARGETS[kind], out, vmap_method="sequential")(a, b, **_attrs(cfg))


def conv_fwd(x, w, cfg, out_shape):
    """``y = conv(x, w)``. x: (N, *S, C_in), w: (*K, C_in/G, C_out) -> ``out_shape`` (N, *out, C_out)."""
    return _call("fwd", out_shape, x.dtype, x, w, cfg)


def conv_dx(dy, w, cfg, x_shape):
    """The input gradient: dy (N, *out, C_out), w (*K, C_in/G, C_out) -> (N, *S, C_in) = ``x_shape``."""
    return _call("dx", x_shape, dy.dtype, dy, w, cfg)


def conv_dw(x, dy, cfg, w_shape):
    """The kernel gradient, summed over the batch: x (N, *S, C_in), dy (N, *out, C_out) -> ``w_shape``."""
    return _call("dw", w_shape, x.dtype, x, dy, cfg)
