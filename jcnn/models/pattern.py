"""Models from seed 004's pattern ``INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC``.

The pattern is written as a string with widths and turned into a model::

    net = from_pattern("INPUT -> [[CONV(32) -> RELU]*2 -> POOL]*2 -> [FC(128) -> RELU]*1 -> FC(10)",
                       in_channels=1, input_size=28)

Grammar (case-insensitive, whitespace ignored, ``->`` or ``→`` between items)::

    spec   := ["INPUT" "->"] chain
    chain  := item ("->" item)*
    item   := (layer | "[" chain "]") ["*" count]       # repetition, count >= 1
    layer  := NAME ["(" arg ("," arg)* ")"] ["?"]

Layers (``C`` is the current number of channels):

    CONV(w[, k[, s]])   k x k convolution to w channels, stride s (default 3, 1), 'same' padding
    POOL[(kind][, k])   k x k / k pooling, kind ``max`` (default) or ``avg``, k default 2
    POOL?               the seed's optional pool: applied only while the map is at least k x k
    BN                  BatchNorm over C (a CONV or FC right before it then has no bias)
    RELU, TANH, ...     any activation of :mod:`jcnn.nn.activations` (SIGMOID, LEAKY_RELU, GELU, ...)
    DROPOUT(p)          dropout with rate p
    GAP                 global average pooling, (N, H, W, C) -> (N, C)
    FC(w)               dense layer to w units; a spatial input is flattened first

The dense input sizes come from ``input_size`` by the output-size arithmetic
of :func:`jcnn.ops.conv_output_size`. A syntax error raises ``ValueError``
giving the position in the string, with a caret under it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from flax import nnx

from jcnn import nn, ops
from jcnn.nn.activations import ACTIVATIONS

_FIXED = ("CONV", "POOL", "BN", "DROPOUT", "GAP", "FC")
_ACTS = {name.upper(): name for name in ACTIVATIONS}
_TOKEN = re.compile(r"\s*(?:(?P<arrow>->|→)|(?P<punct>[\[\]()*,?])|"
                    r"(?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)|"
                    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*))")


@dataclasses.dataclass(frozen=True)
class Layer:
    kind: str  # "CONV", "POOL", ..., or an activation's upper-case name
    args: tuple  # normalised: CONV (w, k, s); POOL (kind, k); DROPOUT (p,); FC (w,); others ()
    optional: bool
    pos: int


@dataclasses.dataclass(frozen=True)
class Repeat:
    items: tuple
    times: int
    pos: int


def _fail(spec, pos, msg):
    raise ValueError(f"from_pattern: {msg} at position {pos}:\n  {spec}\n  {' ' * pos}^")


def _tokenize(spec):
    tokens, pos = [], 0
    while pos < len(spec):
        if spec[pos:].strip() == "":
            break
        m = _TOKEN.match(spec, pos)
        if m is None:
            bad = len(spec[pos:]) - len(spec[pos:].lstrip()) + pos
            _fail(spec, bad, f"unexpected character {spec[bad]!r}")
        kind = m.lastgroup
        start = m.start(kind)
        tokens.append((kind, m.group(kind), start))
        pos = m.end()
    tokens.append(("end", "", len(spec)))
    return tokens


class _Parser:
    def __init__(self, spec):
        self.spec, self.tokens, self.i = spec, _tokenize(spec), 0

    def peek(self):
        return self.tokens[self.i]

    def take(self, value=None, kind=None):
        tok = self.peek()
        if (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            want = repr(value) if value is not None else f"a {kind}"
            got = "the end of the pattern" if tok[0] == "end" else repr(tok[1])
            _fail(self.spec, tok[2], f"expected {want}, got {got}")
        self.i += 1
        return tok

    def spec_(self):
        tok = self.peek()
        if tok[0] == "name" and tok[1].upper() == "INPUT":
            self.i += 1
            if self.peek()[0] == "end":
                _fail(self.spec, self.peek()[2], "the pattern has no layers after INPUT")
            self.take("->")
        items = self.chain()
        tok = self.peek()
        if tok[0] != "end":
            _fail(self.spec, tok[2], f"expected '->' or the end of the pattern, got {tok[1]!r}")
        return items

    def chain(self):
        items = [self.item()]
        while self.peek()[1] in ("->", "→"):
            self.i += 1
            items.append(self.item())
        return tuple(items)

    def item(self):
        tok = self.peek()
        if tok[1] == "[":
            self.i += 1
            body = self.chain()
            self.take("]")
            times = 1
            if self.peek()[1] == "*":
                self.i += 1
                times = self.count()
            return Repeat(body, times, tok[2])
        if tok[0] != "name":
            got = "the end of the pattern" if tok[0] == "end" else repr(tok[1])
            _fail(self.spec, tok[2], f"expected a layer name or '[', got {got}")
        layer = self.layer()
        if self.peek()[1] == "*":  # CONV(32)*2 is [CONV(32)]*2
            self.i += 1
            return Repeat((layer,), self.count(), tok[2])
        return layer

    def count(self):
        tok = self.take(kind="number")
        if not tok[1].isdigit() or int(tok[1]) < 1:
            _fail(self.spec, tok[2], f"repetition count must be a positive int, got {tok[1]}")
        return int(tok[1])

    def layer(self):
        _, name, pos = self.take(kind="name")
        kind = name.upper()
        if kind == "INPUT":
            _fail(self.spec, pos, "INPUT may only start the pattern")
        if kind not in _FIXED and kind not in _ACTS:
            known = list(_FIXED) + sorted(_ACTS)
            close = difflib.get_close_matches(kind, known, n=3)
            _fail(self.spec, pos, f"unknown layer {name!r} (close matches: {close}; known: {known})")
        args = []
        if self.peek()[1] == "(":
            self.i += 1
            args.append(self.arg(kind))
            while self.peek()[1] == ",":
                self.i += 1
                args.append(self.arg(kind))
            self.take(")")
        optional = self.peek()[1] == "?"
        if optional:
            if kind != "POOL":
                _fail(self.spec, self.peek()[2], f"only POOL may be optional ('?'), not {kind}")
            self.i += 1
        return Layer(kind, self.args(kind, args, pos), optional, pos)

    def arg(self, kind):
        tok = self.peek()
        if tok[0] not in ("number", "name"):
            got = "the end of the pattern" if tok[0] == "end" else repr(tok[1])
            _fail(self.spec, tok[2], f"{kind}: expected an argument, got {got}")
        self.i += 1
        return tok[1:]  # (text, position)

    def args(self, kind, args, pos):
        """Check and normalise a layer's arguments ((text, position) pairs) against its signature."""

        def integer(text, p, what):
            if not text.isdigit() or int(text) < 1:
                _fail(self.spec, p, f"{kind}: {what} must be a positive int, got {text!r}")
            return int(text)

        nargs = {"CONV": (1, 3), "FC": (1, 1), "POOL": (0, 2), "DROPOUT": (1, 1)}.get(kind, (0, 0))
        if not nargs[0] <= len(args) <= nargs[1]:
            want = "no arguments" if nargs[1] == 0 else f"{nargs[0]} to {nargs[1]} arguments"
            usage = {"CONV": "CONV(width[, kernel[, stride]])", "FC": "FC(width)", "POOL": "POOL([max|avg][, k])",
                     "DROPOUT": "DROPOUT(rate)"}.get(kind, kind)
            _fail(self.spec, pos, f"{kind} takes {want}, got {len(args)} (usage: {usage})")
        if kind == "CONV":
            given = [integer(t, p, what) for (t, p), what in zip(args, ("width", "kernel size", "stride"))]
            return (*given, *(3, 1)[len(given) - 1:])  # (width, kernel, stride)
        if kind == "FC":
            return (integer(*args[0], "width"),)
        if kind == "DROPOUT":
            text, p = args[0]
            if not re.fullmatch(r"[\d.eE+-]+", text) or not 0.0 <= float(text) < 1.0:
                _fail(self.spec, p, f"DROPOUT: rate must be a number in [0, 1), got {text!r}")
            return (float(text),)
        if kind == "POOL":
            pool, k = "max", 2
            for text, p in args:
                if text.lower() in ("max", "avg"):
                    pool = text.lower()
                else:
                    k = integer(text, p, "window (or 'max'/'avg')")
            return (pool, k)
        return ()


def _token(layer: Layer) -> str:
    """The canonical text of one layer: upper case, default arguments dropped."""
    a = layer.args
    if layer.kind == "CONV":
        text = "CONV(" + ", ".join(str(v) for v in (a if a[2] != 1 else a[:2] if a[1] != 3 else a[:1])) + ")"
    elif layer.kind == "FC":
        text = f"FC({a[0]})"
    elif layer.kind == "DROPOUT":
        text = f"DROPOUT({a[0]:g})"
    elif layer.kind == "POOL":
        args = [v for v, default in zip(a, ("max", 2)) if v != default]
        text = "POOL" + (f"({', '.join(str(v) for v in args)})" if args else "")
    else:
        text = layer.kind
    return text + ("?" if layer.optional else "")


def _print(items, expand):
    out = []
    for it in items:
        if isinstance(it, Layer):
            out.append(_token(it))
        elif expand:
            out.extend([_print(it.items, True)] * it.times)
        else:
            out.append(f"[{_print(it.items, False)}]*{it.times}")
    return " -> ".join(out)


def _expand(items):
    for it in items:
        if isinstance(it, Layer):
            yield it
        else:
            for _ in range(it.times):
                yield from _expand(it.items)


def normalize_pattern(spec: str, *, expand: bool = False) -> str:
    """The canonical form of a pattern: ``INPUT -> `` first, upper case, `` -> `` separators, defaults dropped.

    ``expand=True`` unrolls every ``[...]*N``. Raises ``ValueError`` (with the
    position) on a syntax error.
    """
    return "INPUT -> " + _print(_Parser(spec).spec_(), expand)


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
        items = _Parser(spec).spec_()
        self.pattern = "INPUT -> " + _print(items, False)
        layers = list(_expand(items))
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
                _fail(spec, layer.pos, f"{layer.kind} needs a spatial input but the previous layers give {shape}")
            if layer.kind == "CONV":
                width, k, s = layer.args
                add("conv", nn.Conv(shape[2], width, kernel_size=k, stride=s, padding="same", use_bias=biased,
                                    kernel_init=kernel_init, rngs=rngs), _token(layer))
                shape = (*(ops.conv_output_size(n, k, stride=s, padding="same") for n in shape[:2]), width)
            elif layer.kind == "POOL":
                pool, k = layer.args
                if min(shape[:2]) < k:
                    if layer.optional:
                        continue  # the seed's POOL?: skipped once the map is smaller than the window
                    _fail(spec, layer.pos, f"POOL: a {k}x{k} window does not fit the {shape[0]}x{shape[1]} map")
                add("pool", nn.MaxPool(k) if pool == "max" else nn.AvgPool(k),
                    _token(dataclasses.replace(layer, optional=False)))
                shape = (*(ops.conv_output_size(n, k, stride=k) for n in shape[:2]), shape[2])
            elif layer.kind == "GAP":
                add("gap", nn.GlobalAvgPool(), "GAP")
                shape = (shape[2],)
            elif layer.kind == "FC":
                if len(shape) == 3:
                    add("flatten", nn.Flatten(), None)
                    shape = (shape[0] * shape[1] * shape[2],)  # (N, H*W*C)
                add("fc", nn.Dense(shape[0], layer.args[0], use_bias=biased, kernel_init=kernel_init, rngs=rngs),
                    _token(layer))
                shape = (layer.args[0],)
            elif layer.kind == "BN":
                add("bn", nn.BatchNorm(shape[-1]), "BN")
            elif layer.kind == "DROPOUT":
                add("dropout", nn.Dropout(layer.args[0], rngs=rngs), _token(layer))
            else:
                add(_ACTS[layer.kind], nn.Activation(_ACTS[layer.kind]), layer.kind)
        if num_classes is not None and (not layers or layers[-1].kind != "FC" or layers[-1].args[0] != num_classes):
            _fail(spec, layers[-1].pos, f"num_classes={num_classes} but the pattern does not end in FC({num_classes})")
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
    """Build the model a seed-004 pattern describes (grammar in :mod:`jcnn.models.pattern`).

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
