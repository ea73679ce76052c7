"""Theoretical receptive field of every layer of any model, traced from its jaxpr.

:func:`receptive_field` shares its engine with ``jcnn.summary`` (see
:mod:`jcnn.models.summary` for the arithmetic and conventions);
:func:`receptive_field_of_stack` is the same arithmetic on a plain list of layers.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from jcnn.models.summary import analyze, as_number, resolve_model


@dataclasses.dataclass(frozen=True)
class LayerRF:
    """Receptive field of one layer's output units, per spatial dim (one value when all dims agree).

    ``size``: input pixels one unit sees; ``jump``: input pixels between adjacent
    units; ``start``: input coordinate of the centre of the first unit's field
    (pixel ``i`` has centre ``i``). A global field (after flatten or global
    pooling) has ``size`` = the input size and ``jump = start = None``.
    """

    name: str
    size: int | float | list | None
    jump: int | float | list | None
    start: int | float | list | None


def receptive_field(model, input_shape=None, *, depth: int | None = None) -> dict[str, LayerRF]:
    """``{layer name: LayerRF}`` in call order, for an ``nnx.Module`` or a registered name.

    Args:
      model: any ``nnx.Module`` (may be abstract, from ``nnx.eval_shape``) or a registered name.
      input_shape: (H, W, C) or (N, H, W, C); a registered name's default when None.
      depth: None: leaf modules; ``k``: modules at path depth ``k``.
    """
    model, label, x = resolve_model(model, input_shape, "receptive_field")
    table = analyze(model, x, depth=depth, name=label)
    return {r.name: LayerRF(r.name, r.rf, r.jump, r.start) for r in table.rows if r.type != "-"}


def receptive_field_of_stack(layers) -> list[tuple]:
    """Receptive field after each layer of a plain stack, per one spatial dim.

    Args:
      layers: ``[(kernel_size, stride, padding, dilation), ...]`` (dilation and
        padding may be omitted: ``(k, s)``, ``(k, s, p)``); ``padding`` is the
        padding before the first element.

    Returns:
      ``[(size, jump, start), ...]``, one per layer: ``k' = d(k - 1) + 1``,
      ``size += (k' - 1) * jump``, ``start += ((k' - 1)/2 - p) * jump``, ``jump *= s``,
      from ``(1, 1, 0)`` at the input.
    """
    size, jump, start = Fraction(1), Fraction(1), Fraction(0)
    out = []
    for i, layer in enumerate(layers):
        layer = tuple(layer)
        if not 2 <= len(layer) <= 4 or not all(isinstance(v, int) for v in layer):
            raise ValueError(f"receptive_field_of_stack: layer {i} = {layer!r} must be (k, s[, p[, d]]) ints")
        k, s, p, d = (*layer, 0, 1)[:4] if len(layer) == 2 else (*layer, 1)[:4]
        if k < 1 or s < 1 or d < 1:
            raise ValueError(f"receptive_field_of_stack: layer {i} = {layer!r}: kernel, stride, dilation must be >= 1")
        span = d * (k - 1)
        size, start, jump = size + span * jump, start + (Fraction(span, 2) - p) * jump, jump * s
        out.append(tuple(as_number(v) for v in (size, jump, start)))
    return out
