"""The one home of argument normalisation and checking for ``jcnn.ops``.

Every op turns its int-or-tuple hyperparameters and its padding through these
helpers, so an error reads the same everywhere and names the function, the
argument, what it got and what it expected. All checks run on static shapes
and dtypes in Python, before tracing reaches XLA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

Pairs = tuple[tuple[int, int], ...]

_LHS = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
_RHS = {1: "WIO", 2: "HWIO", 3: "DHWIO"}


def nhwc(nd: int) -> tuple[str, str, str]:
    """``dimension_numbers`` of the channels-last layout with ``nd`` spatial dims."""
    return (_LHS[nd], _RHS[nd], _LHS[nd])


def is_int(v) -> bool:
    """An int or NumPy integer, not a bool: the one int check of jcnn's argument parsing."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)



def as_tuple(value, nd: int, name: str, fn: str, *, minimum: int = 1) -> tuple[int, ...]:
    """An int or one int per spatial dim -> a tuple of ``nd`` ints >= ``minimum``."""
    what = "positive ints" if minimum == 1 else f"ints >= {minimum}"
    if is_int(value):
        out = (int(value),) * nd
    elif isinstance(value, Sequence) and not isinstance(value, str) and all(is_int(v) for v in value):
        out = tuple(int(v) for v in value)
        if len(out) != nd:
            raise ValueError(f"{fn}: {name}={value!r} must be an int or {nd} {what}, one per spatial dim ({nd})")
    else:
        raise TypeError(f"{fn}: {name}={value!r} must be an int or a tuple of {nd} {what}, one per spatial dim")
    if any(v < minimum for v in out):
        raise ValueError(f"{fn}: {name}={value!r} must be {what}, one per spatial dim ({nd})")
    return out


def as_padding(padding, nd: int, fn: str, name: str = "padding") -> str | Pairs:
    """Normalise padding to ``"SAME"``, ``"VALID"`` or ``nd`` ``(lo, hi)`` pairs.

    Accepted: an int, one int per dim, one ``(lo, hi)`` pair per dim, or the
    strings ``'same'``/``'valid'`` in any case. Explicit values must be >= 0.
    """
    if isinstance(padding, str):
        if padding.upper() in ("SAME", "VALID"):
            return padding.upper()
        raise ValueError(f"{fn}: {name}={padding!r} must be an int, per-dim ints, (lo, hi) pairs, 'same' or 'valid'")
    if is_int(padding):
        pairs = ((int(padding), int(padding)),) * nd
    elif isinstance(padding, Sequence) and len(padding) == nd and all(is_int(p) for p in padding):
        pairs = tuple((int(p), int(p)) for p in padding)
    elif (
        isinstance(padding, Sequence)
        and len(padding) == nd
        and all(isinstance(p, Sequence) and len(p) == 2 and all(is_int(q) for q in p) for p in padding)
    ):
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    else:
        raise TypeError(
            f"{fn}: {name}={padding!r} must be an int, {nd} ints, {nd} (lo, hi) pairs, 'same' or 'valid' "
            f"(one entry per spatial dim ({nd}))"
        )
    if any(v < 0 for p in pairs for v in p):
        raise ValueError(f"{fn}: {name}={padding!r} must be non-negative")
    return pairs


def same_pairs(sizes, kernel, stride, dilation) -> Pairs:
    """The ``(lo, hi)`` pairs of 'same' padding: output size ``ceil(n / s)``, extra on the high side."""
    pairs = []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def resolve_padding(padding, sizes, kernel, stride, dilation, fn: str) -> Pairs:
    """Padding of any accepted form -> explicit ``(lo, hi)`` pairs for these sizes."""
    pad = as_padding(padding, len(sizes), fn)
    if pad == "VALID":
        return ((0, 0),) * len(sizes)
    if pad == "SAME":
        return same_pairs(sizes, kernel, stride, dilation)
    return pad


def spatial_rank(x, fn: str, name: str = "x", *, ranks=(1, 2, 3)) -> int:
    """Number of spatial dims of a channels-last array ``(N, *spatial, C)``.

    Only for ops whose result does not depend on which leading axis is the batch
    (per-position ops such as :func:`jcnn.ops.pointwise_conv`); windowed ops take
    their number of spatial dims from the kernel or window (:func:`check_batched`).
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: {name} must be an array, got {type(x).__name__}")
    nd = len(shape) - 2
    if nd not in ranks:
        want = " or ".join(str(r + 2) for r in ranks)
        missing = f"; is the batch dim missing? add it with {name}[None]" if nd + 1 in ranks else ""
        raise ValueError(
            f"{fn}: {name} must have rank {want} (N, *spatial, C) with {'/'.join(map(str, ranks))} spatial dims, "
            f"got shape {tuple(shape)}{missing}"
        )
    return nd


LAYOUTS = {1: "(N, W, C)", 2: "(N, H, W, C)", 3: "(N, D, H, W, C)"}


def check_batched(x, nd: int, fn: str, *, why: str, name: str = "x", hint: str = "") -> None:
    """Require ``x`` to be ``(N, *spatial, C)`` with the ``nd`` spatial dims that ``why`` states.

    An input one dim short is named for what it most likely is, one example
    without its batch dim, instead of being read with its first spatial dim as
    the batch (which would give a silently wrong answer).
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: {name} must be an array, got {type(x).__name__}")
    shape = tuple(shape)
    if len(shape) == nd + 2:
        return
    layout = LAYOUTS[nd]
    if len(shape) == nd + 1:
        raise ValueError(f"{fn}: {name} {shape} lacks the batch dim N: {why}, so {name} must be {layout} "
                         f"(rank {nd + 2}); add the batch dim with {name}[None]{hint}")
    raise ValueError(f"{fn}: {name} must be {layout} (rank {nd + 2}) because {why}, got shape {shape}{hint}")


def window_rank(x, fn: str, **per_dim) -> int:
    """Spatial dims of a pooling call, and ``x`` checked to have them.

    The rule: the length of any per-dim argument (``window=(3, 3, 3)``,
    ``stride=(2,)``, per-dim ``padding``); when all are ints, 2-D (images).
    So ``(N, W, C)`` and ``(N, D, H, W, C)`` inputs pass a tuple window, and a
    single ``(H, W, C)`` image is an error naming the missing batch dim, never
    a 1-D pooling of its rows.
    """
    lengths = {k: len(v) for k, v in per_dim.items() if isinstance(v, Sequence) and not isinstance(v, str)}
    if len(set(lengths.values())) > 1:
        given = ", ".join(f"{k}={per_dim[k]!r}" for k in lengths)
        raise ValueError(f"{fn}: {given} disagree on the number of spatial dims (one entry per spatial dim)")
    if lengths:
        key, nd = next(iter(lengths.items()))
        if nd not in (1, 2, 3):
            raise ValueError(f"{fn}: {key}={per_dim[key]!r} has {nd} entries; pooling takes 1, 2 or 3 spatial dims")
        why, hint = f"{key}={per_dim[key]!r} has {nd} entr{'y' if nd == 1 else 'ies'} (one per spatial dim)", ""
    else:
        nd, window = 2, per_dim.get("window")
        why = f"window={window!r} is an int, which means 2-D pooling"
        rank = len(getattr(x, "shape", ())) - 2
        hint = (f"; for {rank}-D pooling give the window per dim, window={(window,) * rank!r}"
                if rank in (1, 3) and is_int(window) else "")
    check_batched(x, nd, fn, why=why, hint=hint)
    return nd


def check_float(fn: str, **arrays) -> None:
    """Raise ``TypeError`` for any non-floating array (ints, bools, complex)."""
    for name, a in arrays.items():
        if a is None:
            continue
        dtype = getattr(a, "dtype", None)
        if dtype is None:
            raise TypeError(f"{fn}: {name} must be an array, got {type(a).__name__}")
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{fn}: {name} has dtype {dtype} (shape {tuple(a.shape)}); expected a floating dtype "
                "(float32, bfloat16, float16 or float64)"
            )


def out_size(n: int, k: int, s: int, d: int, lo: int, hi: int, ceil_mode: bool = False) -> int:
    """Windows along one dim: ``floor((n + lo + hi - d*(k-1) - 1) / s) + 1``.

    With ``ceil_mode`` the division rounds up, but (as PyTorch defines it) the
    last window must start inside the input or its low padding.
    """
    span = n + lo + hi - d * (k - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + lo:
        out -= 1
    return out


def shape_str(*named) -> str:
    """``"x (2, 8, 8, 3), w (3, 3, 3, 4)"`` for error messages."""
    return ", ".join(f"{name} {tuple(a.shape)}" for name, a in zip(named[::2], named[1::2]) if a is not None)
