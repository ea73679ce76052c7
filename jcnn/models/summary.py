"""``jcnn.summary``: per-layer output shape, parameters, MACs, FLOPs and theoretical receptive field.

Everything is traced from the model itself, for any ``nnx.Module``: one
:func:`jax.make_jaxpr` of ``model(x)`` (no FLOPs run; 224x224 is cheap), with
each reported layer's ``__call__`` intercepted (:func:`jcnn.nn.capture.intercept`)
so that its equations carry a name scope and its output a tag; the engine in
:mod:`jcnn.models._jaxpr_fields` reads MACs and receptive fields off that jaxpr
(its docstring has the counting convention and the receptive-field arithmetic).

  - FLOPs = 2 x MACs (one multiply and one add), convolutions and dense layers only.
  - ``params`` is the number of scalars in the layer's ``nnx.Param`` variables,
    counted on its first call only; the total is over the whole model.
  - ``rf``/``jump``/``start`` per spatial dim (one value when all dims agree); a
    global field (after flatten, dense, global pooling) has ``rf`` = the input
    size and ``jump``/``start`` None.
"""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import ops
from jcnn.models import _jaxpr_fields as fields
from jcnn.nn import capture as cap


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

    def __repr__(self):
        # Short on purpose: summary() prints the table, and a prompt echoing the
        # returned value must not print it a second time.
        t = self.total
        return (f"<Summary {self.model!r} input {tuple(self.input_shape)}: {len(self.rows)} rows, "
                f"{t['params']:,} params, {t['macs']:,} MACs; print() it for the table>")


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
    unit_map = cap.units(model, depth)
    raw = []

    def around(path, module, call, args):
        index = len(raw)
        raw.append(None)
        with fields.layer_scope(index):
            out = call()
        raw[index] = (path, module, cap.shapes(args[:1]), cap.shapes(out))
        return fields.tap(out, index)

    with cap.mode(model, False), ops.conv_impl("xla"):
        closed = cap.call_abstract(model, x, around, paths=set(unit_map), make_jaxpr=True, label=name)
    nd = len(x.shape) - 2
    prop = fields.propagate(closed, nd)
    spatial = list(x.shape[1:1 + nd])

    rows = []
    for rec, members in cap.group_calls(model, raw, unit_map):
        state = prop.taps.get(members[-1])
        if nd == 0 or state is None:
            rf = jump = start = None
        elif state is fields.GLOBAL or len(state) < nd:
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
      rf, jump, start), ``.total``, ``.to_json()``; ``str()`` is the table, ``repr()``
      one line (so the prompt echoing the result does not print the table twice).
      A model with no submodules (a bare ``nn.Conv``) is one row named after its class.

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
    return cap.shapes(out)
