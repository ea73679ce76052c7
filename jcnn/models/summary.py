"""``jcnn.summary``: per-layer output shape, parameters, MACs, FLOPs and theoretical receptive field.

Everything is traced from the model itself, for any ``nnx.Module``: one
:func:`jax.make_jaxpr` of ``model(x)`` (no FLOPs run; 224x224 is cheap), with
each reported layer's ``__call__`` intercepted (:mod:`jcnn.nn.capture`) so that
its equations carry a name scope and its output a tag.

Counting convention:
  - MACs (multiply-accumulates) of ``conv_general_dilated``:
    ``prod(output shape) * prod(kernel spatial) * C_in / groups``; of
    ``dot_general``: ``prod(output shape) * prod(contracted sizes)``. A
    transposed convolution counts the multiplications by its inserted zeros.
  - FLOPs = 2 x MACs (one multiply and one add). Bias adds, activations,
    pooling and normalisation are not counted (they are small next to
    convolutions and dense layers, and conventions for them differ).
  - ``params`` is the number of scalars in the layer's ``nnx.Param`` variables,
    counted on its first call only; the total is over the whole model.

Receptive field (Araujo et al. 2019 arithmetic), per spatial dim, propagated
through the jaxpr variable by variable: ``rf`` is the size of the input region
one output unit sees, ``jump`` the distance in input pixels between adjacent
units, ``start`` the input coordinate of the centre of the first unit's region
(pixel ``i`` has centre ``i``; negative when padding reaches outside). A layer
with kernel ``k``, stride ``s``, padding ``p`` (before) and dilation ``d``:
``k' = d(k - 1) + 1``, ``rf += (k' - 1) * jump``, ``start += ((k' - 1)/2 - p) * jump``,
``jump *= s``. Parallel branches meeting in an elementwise op take the larger
field. Flatten, dense on spatial axes and global pooling make the field
*global*: ``rf`` is then the input size and ``jump``/``start`` are ``None``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.interpreters import batching

from jcnn import ops
from jcnn.nn import capture as cap

try:  # the public home of Primitive moved over JAX versions
    from jax.extend.core import Primitive
except ImportError:  # pragma: no cover
    from jax.core import Primitive

GLOBAL = "global"

# Identity marking a reported layer's output in the jaxpr: ``index`` is the call number.
_tap_p = Primitive("jcnn_layer_output")
_tap_p.def_impl(lambda x, *, index: x)
_tap_p.def_abstract_eval(lambda x, *, index: x)
batching.primitive_batchers[_tap_p] = lambda args, dims, *, index: (_tap_p.bind(args[0], index=index), dims[0])

_SCOPE = "jcnn_call_"
_SCOPE_RE = re.compile(_SCOPE + r"(\d+)")


# ----------------------------------------------------------------------------
# Receptive field propagation. A state is None (does not depend on the input),
# GLOBAL, or {axis: (rf, jump, start)} for the axes that are input spatial axes.


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


class _Propagator:
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
        if name == _tap_p.name:
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


# ----------------------------------------------------------------------------
# The table


def as_number(v):
    if v is None:
        return None
    v = Fraction(v)
    return int(v) if v.denominator == 1 else float(v)


def _collapse(values):
    """Per-dim values -> one value when all dims agree, else a list."""
    values = [as_number(v) for v in values]
    if not values:
        return None
    return values[0] if all(v == values[0] for v in values) else values


@dataclasses.dataclass
class Row:
    """One line of a :class:`Summary`; ``rf``/``jump``/``start`` are per spatial dim (one value if equal)."""

    name: str
    type: str
    output_shape: tuple | list | None
    params: int
    macs: int
    flops: int
    rf: int | float | list | None
    jump: int | float | list | None
    start: int | float | list | None

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["output_shape"] = _jsonable(self.output_shape)
        return d


def _jsonable(shape):
    if shape is None:
        return None
    if isinstance(shape, list):
        return [list(s) for s in shape]
    return list(shape)


@dataclasses.dataclass
class Summary:
    """What :func:`summary` returns: ``rows``, ``total`` (``params``, ``macs``, ``flops``) and the input shape."""

    model: str
    input_shape: tuple
    rows: list[Row]
    total: dict

    def __getitem__(self, name) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"summary: no layer {name!r}; layers: {[r.name for r in self.rows]}")

    def to_dict(self):
        return {"model": self.model, "input_shape": list(self.input_shape),
                "layers": [r.to_dict() for r in self.rows], "total": dict(self.total)}

    def to_json(self, indent=None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self):
        def fmt(v):
            if v is None:
                return "-"
            if isinstance(v, list):
                return "x".join(fmt(x) for x in v)
            return f"{v:g}" if isinstance(v, float) else str(v)

        head = ("Layer (type)", "Output shape", "Params", "MACs", "FLOPs", "RF", "Jump", "Start")
        body = [(f"{r.name} ({r.type})", str(r.output_shape), f"{r.params:,}", f"{r.macs:,}", f"{r.flops:,}",
                 fmt(r.rf), fmt(r.jump), fmt(r.start)) for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        line = lambda row: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        rule = "-" * len(line(head))
        t = self.total
        return "\n".join([f'Model: "{self.model}"  input {tuple(self.input_shape)}', rule, line(head), "=" * len(rule),
                          *map(line, body), "=" * len(rule), f"Total params: {t['params']:,}",
                          f"Total MACs: {t['macs']:,}",
                          f"Total FLOPs: {t['flops']:,}  (FLOPs = 2 x MACs, conv/dense only)"])

    __repr__ = __str__


def resolve_model(model, input_shape, fn="summary"):
    """(model, name, full input ShapeDtypeStruct) from a model or a registered name."""
    from jcnn.models import registry

    label = None
    if isinstance(model, str):
        meta = registry.info(model)
        # Abstract parameters: nothing is initialised, so naming a 224x224 model is instant.
        label, model = meta.name, nnx.eval_shape(lambda: registry.create(meta.name))
        if input_shape is None:
            input_shape = meta.input_shape
    if not isinstance(model, nnx.Module):
        raise TypeError(f"{fn}: model must be an nnx.Module or a registered name, got {type(model).__name__}")
    if input_shape is None:
        raise ValueError(f"{fn}: input_shape is required for a model object, e.g. (224, 224, 3)")
    if hasattr(input_shape, "shape") and hasattr(input_shape, "dtype"):
        x = jax.ShapeDtypeStruct(tuple(input_shape.shape), input_shape.dtype)
    else:
        shape = tuple(input_shape)
        if not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
            raise ValueError(f"{fn}: input_shape={input_shape!r} must be positive ints, (H, W, C) or (N, H, W, C)")
        x = jax.ShapeDtypeStruct((1, *shape) if len(shape) == 3 else shape, jnp.float32)
    return model, label or type(model).__name__, x


def analyze(model, x, *, depth=None, name=None) -> Summary:
    """The engine behind :func:`summary` and ``jcnn.analysis.receptive_field``: ``x`` is the full input struct."""
    units = cap._unit_paths(model, depth)
    raw = []

    def around(path, module, call, args):
        index = len(raw)
        raw.append(None)
        with jax.named_scope(f"{_SCOPE}{index}"):
            out = call()
        raw[index] = (path, module, cap._shapes(args[:1]), cap._shapes(out))
        return jax.tree_util.tree_map(lambda a: _tap_p.bind(a, index=index) if isinstance(a, jax.Array) else a, out)

    with cap.mode(model, False), ops.conv_impl("xla"):
        closed = cap.call_abstract(model, x, around, paths=set(units), make_jaxpr=True, label=name)
    nd = len(x.shape) - 2
    prop = _Propagator()
    n_state = len(closed.jaxpr.invars) - 1
    prop.run(closed.jaxpr, [None] * n_state + [{a: (Fraction(1), Fraction(1), Fraction(0)) for a in range(1, 1 + nd)}])
    spatial = list(x.shape[1:1 + nd])

    rows = []
    for rec, members in cap.group_calls(model, raw, units):
        state = prop.taps.get(members[-1])
        if nd == 0 or state is None:
            rf = jump = start = None
        elif state is GLOBAL or len(state) < nd:
            rf, jump, start = _collapse(spatial), None, None
        else:
            vals = [state[a] for a in sorted(state)]
            rf, jump, start = (_collapse(v[i] for v in vals) for i in range(3))
        macs = sum(prop.macs.get(i, 0) for i in members)
        params = rec.params if rec.call == 1 else 0
        rows.append(Row(rec.name, rec.type, rec.output_shape, params, macs, 2 * macs, rf, jump, start))
    if prop.macs.get(None):
        rows.append(Row("(outside layers)", "-", None, 0, prop.macs[None], 2 * prop.macs[None], None, None, None))
    total_macs = sum(prop.macs.values())
    total = {"params": cap.param_count(model), "macs": total_macs, "flops": 2 * total_macs}
    return Summary(name or type(model).__name__, tuple(x.shape), rows, total)


def summary(model, input_shape=None, *, depth: int | None = None, print_: bool = True) -> Summary:
    """Keras-like per-layer table of ``model`` at ``input_shape``; printed unless ``print_=False``.

    Args:
      model: an ``nnx.Module`` or a registered name (created abstractly with
        ``nnx.eval_shape``; its default input shape is used when ``input_shape`` is None).
      input_shape: (H, W, C) (batch 1 is added) or (N, H, W, C), or a ``jax.ShapeDtypeStruct``.
      depth: None: one row per leaf module; ``k``: one row per module at path depth ``k``.
      print_: print the table.

    Returns:
      A :class:`Summary`: ``.rows`` (name, type, output_shape, params, macs, flops,
      rf, jump, start), ``.total``, ``.to_json()``; ``str()`` is the table.

    Raises:
      jcnn.nn.capture.LayerInputError: a layer rejected its input (wrong rank or
        channels, spatial size too small); the message names model, layer and shapes.
    """
    model, label, x = resolve_model(model, input_shape)
    table = analyze(model, x, depth=depth, name=label)
    if print_:
        print(table)
    return table


def check_input(model, shape):
    """Trace ``model`` on ``shape`` ((H, W, C) or (N, H, W, C)); returns the output shape.

    A registered name's rank and channel count are checked first against its
    metadata. A layer that rejects its input raises
    :class:`jcnn.nn.capture.LayerInputError` (a ``ValueError``) naming the
    model, the innermost layer, its input shape and the model's input shape;
    every module is intercepted, so the innermost failing one is named.
    """
    from jcnn.models import registry

    if isinstance(model, str):
        meta = registry.info(model)
        shape = tuple(shape)
        if len(shape) not in (len(meta.input_shape), len(meta.input_shape) + 1):
            raise ValueError(f"{meta.name}: input shape {shape} has rank {len(shape)}; expected "
                             f"{meta.input_shape} (H, W, C) or with a batch dim (N, *{meta.input_shape})")
        if shape[-1] != meta.input_shape[-1]:
            raise ValueError(f"{meta.name}: input shape {shape} has {shape[-1]} channels; expected "
                             f"{meta.input_shape[-1]} (default input {meta.input_shape})")
    model, label, x = resolve_model(model, shape, "check_input")
    with cap.mode(model, False):
        out = cap.call_abstract(model, x, lambda path, module, call, args: call(), label=label)
    return cap._shapes(out)
