"""Receptive field, jump, start and MACs of every layer, read off a jaxpr of the model.

The analysis machinery behind :func:`jcnn.summary` and
:func:`jcnn.analysis.receptive_field`: a reported layer's equations carry the
name scope :func:`layer_scope` gives its call, and its output goes through
:func:`tap` (an identity primitive); :func:`propagate` then walks the jaxpr once,
variable by variable, collecting the MACs of each call and the field state at each tap.

Counting convention:
  - MACs (multiply-accumulates) of ``conv_general_dilated``:
    ``prod(output shape) * prod(kernel spatial) * C_in / groups``; of
    ``dot_general``: ``prod(output shape) * prod(contracted sizes)``. A
    transposed convolution counts the multiplications by its inserted zeros.
  - Bias adds, activations, pooling and normalisation are not counted (they are
    small next to convolutions and dense layers, and conventions for them differ).

Receptive field (Araujo, Norris & Sim 2019, "Computing Receptive Fields of
Convolutional Neural Networks", Distill, section "Single-path networks"), per
spatial dim: ``rf`` is the size of the input region one output unit sees,
``jump`` the distance in input pixels between adjacent units, ``start`` the
input coordinate of the centre of the first unit's region (pixel ``i`` has
centre ``i``; negative when padding reaches outside). A layer with kernel
``k``, stride ``s``, padding ``p`` (before) and dilation ``d``:
``k' = d(k - 1) + 1``, ``rf += (k' - 1) * jump``, ``start += ((k' - 1)/2 - p) * jump``,
``jump *= s``. Parallel branches meeting in an elementwise op take the larger
field. Flatten, dense on spatial axes and global pooling make the field
*global* (:data:`GLOBAL`).

A state is None (the variable does not depend on the input), :data:`GLOBAL`,
or ``{axis: (rf, jump, start)}`` (``Fraction``s) for the axes that are input spatial axes.
"""

from __future__ import annotations

import contextlib
import math
import re
from fractions import Fraction

import jax
from jax.interpreters import batching

try:  # the public home of Primitive moved over JAX versions
    from jax.extend.core import Primitive
except ImportError:  # pragma: no cover
    from jax.core import Primitive

#: The field of a unit that sees the whole input (after flatten, dense, global pooling).
GLOBAL = "global"

# Identity marking a reported layer's output in the jaxpr: ``index`` is the call number.
_tap = Primitive("jcnn_layer_output")
_tap.def_impl(lambda x, *, index: x)
_tap.def_abstract_eval(lambda x, *, index: x)
batching.primitive_batchers[_tap] = lambda args, dims, *, index: (_tap.bind(args[0], index=index), dims[0])

_SCOPE = "jcnn_call_"
_SCOPE_RE = re.compile(_SCOPE + r"(\d+)")


def tap(tree, index: int):
    """``tree`` with each array marked as the output of reported call ``index`` (an identity)."""
    return jax.tree_util.tree_map(lambda a: _tap.bind(a, index=index) if isinstance(a, jax.Array) else a, tree)


@contextlib.contextmanager
def layer_scope(index: int):
    """Equations traced inside the block count towards reported call ``index``."""
    with jax.named_scope(f"{_SCOPE}{index}"):
        yield


def propagate(closed_jaxpr, num_spatial: int) -> Propagator:
    """Walk ``closed_jaxpr`` (its last input the model input ``(N, *spatial, C)``) once.

    Returns the :class:`Propagator`: ``.taps`` ``{call index: state of its output}``,
    ``.macs`` ``{call index (None: outside any reported call): MACs}``.
    """
    prop = Propagator()
    n_state = len(closed_jaxpr.jaxpr.invars) - 1
    pixel = {a: (Fraction(1), Fraction(1), Fraction(0)) for a in range(1, 1 + num_spatial)}
    prop.run(closed_jaxpr.jaxpr, [None] * n_state + [pixel])
    return prop


def _combine(states):
    deps = [s for s in states if s is not None]
    if not deps:
        return None
    if any(s is GLOBAL for s in deps):
        return GLOBAL
    out = {}
    for s in deps:
        for ax, v in s.items():
            if ax not in out or v[0] > out[ax][0]:
                out[ax] = v
    return out


def _window(state, axes_params):
    """Apply windows ``{axis: (k, s, p_lo, d, lhs_dil)}`` to ``state``; other tracked axes unchanged."""
    if state is None or state is GLOBAL:
        return state
    out = dict(state)
    for ax, (k, s, p, d, ld) in axes_params.items():
        if ax not in out:
            continue
        rf, j, st = out[ax]
        j = j / ld  # lhs (base) dilation: a transposed convolution's upsampling
        span = d * (k - 1)
        out[ax] = (rf + span * j, j * s, st + (Fraction(span, 2) - p) * j)
    return out


def _reshape(state, old, new):
    if not isinstance(state, dict):
        return state
    out = {}
    for a, v in state.items():
        pre = math.prod(old[:a])
        b = next((b for b in range(len(new)) if new[b] == old[a] and math.prod(new[:b]) == pre), None)
        if b is None:
            return GLOBAL
        out[b] = v
    return out


def _drop_axes(state, axes):
    if not isinstance(state, dict):
        return state
    if any(a in state for a in axes):
        return GLOBAL
    return {a - sum(r < a for r in axes): v for a, v in state.items()}


def _conv(eqn, states, macs):
    lhs, rhs = eqn.invars[0].aval, eqn.invars[1].aval
    out = eqn.outvars[0].aval
    dn = eqn.params["dimension_numbers"]
    lhs_spec, rhs_spec, out_spec = dn.lhs_spec, dn.rhs_spec, dn.out_spec
    kernel = [rhs.shape[i] for i in rhs_spec[2:]]
    macs += math.prod(out.shape) * math.prod(kernel) * rhs.shape[rhs_spec[1]]
    x, w = states[0], states[1]
    if w is not None or x is GLOBAL:
        return GLOBAL, macs
    if x is None:
        return None, macs
    if any(a not in lhs_spec[2:] for a in x):
        return GLOBAL, macs  # contracted over an input spatial axis
    p = eqn.params
    nd = len(kernel)
    lhs_dil = p.get("lhs_dilation") or (1,) * nd
    rhs_dil = p.get("rhs_dilation") or (1,) * nd
    win = {}
    for i in range(nd):
        win[lhs_spec[2 + i]] = (kernel[i], p["window_strides"][i], p["padding"][i][0], rhs_dil[i], lhs_dil[i])
    moved = _window(x, win)
    return {out_spec[2 + lhs_spec[2:].index(a)]: v for a, v in moved.items()}, macs


def _dot(eqn, states, macs):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = eqn.invars[0].aval, eqn.invars[1].aval
    macs += math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs.shape[i] for i in lc)
    a, b = states
    if a is not None and b is not None:
        return (GLOBAL if (a, b) != (None, None) else None), macs
    if a is None and b is None:
        return None, macs
    if a is GLOBAL or b is GLOBAL:
        return GLOBAL, macs
    s, contract, batch, ndim, first = (a, lc, lb, lhs.ndim, True) if a is not None else (b, rc, rb, rhs.ndim, False)
    if any(ax in contract for ax in s):
        return GLOBAL, macs
    free = [i for i in range(ndim) if i not in contract and i not in batch]
    lhs_free = lhs.ndim - len(lc) - len(lb)
    out = {}
    for ax, v in s.items():
        out[list(batch).index(ax) if ax in batch else len(lb) + (0 if first else lhs_free) + free.index(ax)] = v
    return out, macs


def _sub_jaxpr(params):
    found = []
    for v in params.values():
        if hasattr(v, "jaxpr") and hasattr(v, "consts"):
            found.append((v.jaxpr, v.consts))
        elif type(v).__name__ == "Jaxpr":
            found.append((v, ()))
    return found


class Propagator:
    """Walks a jaxpr once: receptive-field states, MACs per layer call, and tapped outputs."""

    def __init__(self):
        self.taps: dict[int, object] = {}  # call index -> state of its output
        self.macs: dict[int | None, int] = {}  # call index (None: outside any layer) -> MACs

    def run(self, jaxpr, in_states, scope=""):
        env = {}

        def read(v):
            return None if hasattr(v, "val") else env.get(v)

        for v, s in zip(jaxpr.invars, in_states):
            env[v] = s
        for eqn in jaxpr.eqns:
            stack = scope + "/" + str(eqn.source_info.name_stack)
            states = [read(v) for v in eqn.invars]
            outs = self.eqn(eqn, states, stack)
            for v, s in zip(eqn.outvars, outs):
                env[v] = s
        return [read(v) for v in jaxpr.outvars]

    def add_macs(self, stack, n):
        if n:
            m = _SCOPE_RE.findall(stack)
            key = int(m[-1]) if m else None
            self.macs[key] = self.macs.get(key, 0) + int(n)

    def eqn(self, eqn, states, stack):
        name, p = eqn.primitive.name, eqn.params
        n_out = len(eqn.outvars)
        if name == _tap.name:
            self.taps[p["index"]] = states[0]
            return states
        if name == "conv_general_dilated":
            s, macs = _conv(eqn, states, 0)
            self.add_macs(stack, macs)
            return [s]
        if name == "dot_general":
            s, macs = _dot(eqn, states, 0)
            self.add_macs(stack, macs)
            return [s]
        if name == "cond":  # e.g. lax.platform_dependent: the widest branch
            branch_outs = [self.branch(br.jaxpr, states[1:], stack) for br in p["branches"]]
            return [_combine(col) for col in zip(*branch_outs)]
        if name == "scan":
            before = dict(self.macs)
            outs = self.run_sub(p["jaxpr"].jaxpr, states, stack)
            for k, v in self.macs.items():  # the body runs `length` times
                self.macs[k] = before.get(k, 0) + (v - before.get(k, 0)) * p["length"]
            return [GLOBAL if any(s is not None for s in states) else o for o in outs]
        if name == "while":
            self.run_sub(p["body_jaxpr"].jaxpr, states[p["body_nconsts"] + p["cond_nconsts"]:], stack, pad=True)
            dep = any(s is not None for s in states)
            return [GLOBAL if dep else None] * n_out
        subs = _sub_jaxpr(p)
        if len(subs) == 1 and len(subs[0][0].invars) == len(states) and len(subs[0][0].outvars) == n_out:
            return self.run_sub(subs[0][0], states, stack)
        if all(s is None for s in states):
            return [None] * n_out
        x = states[0]
        shape_in = eqn.invars[0].aval.shape if hasattr(eqn.invars[0].aval, "shape") else ()
        if name.startswith("reduce_window") or name == "select_and_gather_add":
            nd = len(p["window_dimensions"])
            win = {a: (p["window_dimensions"][a], p["window_strides"][a], p["padding"][a][0],
                       p["window_dilation"][a], p["base_dilation"][a]) for a in range(nd)}
            return [_window(_combine(states), win)] * n_out
        if name in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or",
                    "reduce_xor", "argmax", "argmin"):
            return [_drop_axes(x, p["axes"])] * n_out
        if name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp", "sort"):
            ax = p.get("axis", p.get("dimension"))
            return [GLOBAL if isinstance(_combine(states), dict) and ax in _combine(states) else _combine(states)
                    ] * n_out
        if name == "squeeze":
            return [_drop_axes(x, p["dimensions"])]
        if name == "broadcast_in_dim":
            return [x if not isinstance(x, dict) else {p["broadcast_dimensions"][a]: v for a, v in x.items()}]
        if name == "reshape":
            return [_reshape(x, shape_in, eqn.outvars[0].aval.shape)]
        if name == "transpose":
            perm = list(p["permutation"])
            return [x if not isinstance(x, dict) else {perm.index(a): v for a, v in x.items()}]
        if name == "slice":
            if not isinstance(x, dict):
                return [x]
            strides = p["strides"] or (1,) * len(shape_in)
            return [{a: (rf, j * strides[a], st + p["start_indices"][a] * j) for a, (rf, j, st) in x.items()}]
        if name == "pad":
            x = _combine(states)
            if not isinstance(x, dict):
                return [x]
            out = {}
            for a, (rf, j, st) in x.items():
                lo, _, interior = p["padding_config"][a]
                j = j / (interior + 1)
                out[a] = (rf, j, st - lo * j)
            return [out]
        if name == "rev":
            if isinstance(x, dict) and any(a in x for a in p["dimensions"]):
                return [GLOBAL]
            return [x]
        if name == "concatenate":
            s = _combine(states)
            return [GLOBAL if isinstance(s, dict) and p["dimension"] in s else s]
        # Anything else: elementwise if the shapes say so, otherwise the field is lost.
        outs = []
        for v in eqn.outvars:
            shape = getattr(v.aval, "shape", None)
            same = [s for s, iv in zip(states, eqn.invars)
                    if s is not None and getattr(iv.aval, "shape", None) == shape]
            dep = [s for s in states if s is not None]
            outs.append(_combine(same) if len(same) == len(dep) else GLOBAL)
        return outs

    def run_sub(self, jaxpr, states, stack, pad=False):
        if pad:
            states = list(states) + [None] * (len(jaxpr.invars) - len(states))
        return self.run(jaxpr, states, stack)

    def branch(self, jaxpr, states, stack):
        return self.run(jaxpr, states, stack)
