"""Models from the layer pattern ``INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC``
(Karpathy 2016, CS231n notes "Convolutional Neural Networks", section "Layer Patterns").

The pattern is written as a string with widths and turned into a model::

    net = from_pattern("INPUT -> [[CONV(32) -> RELU]*2 -> POOL]*2 -> [FC(128) -> RELU]*1 -> FC(10)",
                       in_channels=1, input_size=28)

Grammar and layers: :mod:`jcnn.models._pattern_grammar`. The dense input sizes
come from ``input_size`` by the output-size arithmetic of
:func:`jcnn.ops.conv_output_size`; a pattern that does not fit (a POOL window
larger than the map, CONV after FC) raises ``ValueError`` giving the position.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from jcnn import nn, ops
from jcnn.models._pattern_grammar import ACTS, fail, normalize_pattern, parse, render, token, unrolled

__all__ = ["PatternNet", "from_pattern", "normalize_pattern", "to_pattern"]


class PatternNet(nnx.Module):
    """The model of a pattern: its layers in order, named ``conv1``, ``relu1``, ``pool1``, ``fc1``, ...

    Layers are attributes (so feature maps and summaries address them by name)
    and also indexable: ``net[0]`` is ``net.conv1``, ``net["fc2"]`` is ``net.fc2``.
    ``net.layer_names`` lists them; ``net.pattern`` is the normalised spec and
    :func:`to_pattern` gives back the expanded one. A ``flatten`` layer is
    inserted before the first FC that follows a spatial layer.

    Call: ``x`` (N, H, W, in_channels) -> (N, width of the last FC), or
    (N, H', W', C') when the pattern ends in a spatial layer.
    """

    def __init__(self, spec, *, in_channels, input_size, num_classes=None, kernel_init="he_normal", rngs: nnx.Rngs):
        items = parse(spec)
        self.pattern = "INPUT -> " + render(items, False)
        layers = list(unrolled(items))
        h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        shape = (h, w, in_channels)  # (H, W, C), or (F,) once flat
        names, tokens, counts = [], [], {}

        def add(base, module, token):
            counts[base] = counts.get(base, 0) + 1
            name = base if base == "flatten" else f"{base}{counts[base]}"
            setattr(self, name, module)
            names.append(name)
            tokens.append(token)

        for i, layer in enumerate(layers):
            biased = not (i + 1 < len(layers) and layers[i + 1].kind == "BN")
            if layer.kind in ("CONV", "POOL", "GAP") and len(shape) != 3:
                fail(spec, layer.pos, f"{layer.kind} needs a spatial input but the previous layers give {shape}")
            if layer.kind == "CONV":
                width, k, s = layer.args
                add("conv", nn.Conv(shape[2], width, kernel_size=k, stride=s, padding="same", use_bias=biased,
                                    kernel_init=kernel_init, rngs=rngs), token(layer))
                shape = (*(ops.conv_output_size(n, k, stride=s, padding="same") for n in shape[:2]), width)
            elif layer.kind == "POOL":
                pool, k = layer.args
                if min(shape[:2]) < k:
                    if layer.optional:
                        continue  # the pattern's POOL?: skipped once the map is smaller than the window
                    fail(spec, layer.pos, f"POOL: a {k}x{k} window does not fit the {shape[0]}x{shape[1]} map")
                add("pool", nn.MaxPool(k) if pool == "max" else nn.AvgPool(k),
                    token(dataclasses.replace(layer, optional=False)))
                shape = (*(ops.conv_output_size(n, k, stride=k) for n in shape[:2]), shape[2])
            elif layer.kind == "GAP":
                add("gap", nn.GlobalAvgPool(), "GAP")
                shape = (shape[2],)
            elif layer.kind == "FC":
                if len(shape) == 3:
                    add("flatten", nn.Flatten(), None)
                    shape = (shape[0] * shape[1] * shape[2],)  # (N, H*W*C)
                add("fc", nn.Dense(shape[0], layer.args[0], use_bias=biased, kernel_init=kernel_init, rngs=rngs),
                    token(layer))
                shape = (layer.args[0],)
            elif layer.kind == "BN":
                add("bn", nn.BatchNorm(shape[-1]), "BN")
            elif layer.kind == "DROPOUT":
                add("dropout", nn.Dropout(layer.args[0], rngs=rngs), token(layer))
            else:
                add(ACTS[layer.kind], nn.Activation(ACTS[layer.kind]), layer.kind)
        if num_classes is not None and (not layers or layers[-1].kind != "FC" or layers[-1].args[0] != num_classes):
            fail(spec, layers[-1].pos, f"num_classes={num_classes} but the pattern does not end in FC({num_classes})")
        self.layer_names, self.tokens, self.output_shape = tuple(names), tuple(tokens), shape

    def __len__(self):
        return len(self.layer_names)

    def __getitem__(self, key):
        if isinstance(key, int):
            return getattr(self, self.layer_names[key])
        if key not in self.layer_names:
            raise KeyError(f"PatternNet: no layer {key!r}; layers: {list(self.layer_names)}")
        return getattr(self, key)

    def __call__(self, x):
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x


def from_pattern(spec: str, *, in_channels: int, input_size, num_classes: int | None = None,
                 kernel_init: str = "he_normal", seed: int = 0, rngs: nnx.Rngs | None = None) -> PatternNet:
    """Build the model a layer pattern describes (grammar in :mod:`jcnn.models._pattern_grammar`).

    Args:
      spec: e.g. ``"INPUT -> [[CONV(32) -> RELU]*2 -> POOL]*2 -> [FC(128) -> RELU]*1 -> FC(10)"``.
      in_channels: C of the input. input_size: H (= W) or (H, W).
      num_classes: if given, the pattern must end in ``FC(num_classes)``.
      seed: initialisation seed when ``rngs`` is None (``params=seed``, ``dropout=seed + 1``, as ``create``).
    Returns:
      a :class:`PatternNet`: (N, H, W, in_channels) -> (N, *net.output_shape).
    """
    rngs = rngs if rngs is not None else nnx.Rngs(params=seed, dropout=seed + 1)
    return PatternNet(spec, in_channels=in_channels, input_size=input_size, num_classes=num_classes,
                      kernel_init=kernel_init, rngs=rngs)


def to_pattern(model: PatternNet) -> str:
    """The expanded, normalised pattern of a :class:`PatternNet`, one token per layer (``POOL?`` resolved).

    ``to_pattern(from_pattern(s, ...)) == normalize_pattern(s, expand=True)``
    whenever ``s`` has no ``POOL?``, and ``from_pattern(to_pattern(m), ...)``
    rebuilds ``m``'s architecture.
    """
    return "INPUT -> " + " -> ".join(t for t in model.tokens if t is not None)
