"""The pattern grammar: text like ``INPUT -> [[CONV(32) -> RELU]*2 -> POOL]*2 -> FC(10)`` to layers.

Tokenizer, parser and printer behind :func:`jcnn.models.from_pattern`; the model
a pattern builds is :class:`jcnn.models.pattern.PatternNet`.

Grammar (case-insensitive, whitespace ignored, ``->`` or ``→`` between items)::

    spec   := ["INPUT" "->"] chain
    chain  := item ("->" item)*
    item   := (layer | "[" chain "]") ["*" count]       # repetition, count >= 1
    layer  := NAME ["(" arg ("," arg)* ")"] ["?"]

Layers (``C`` is the current number of channels):

    CONV(w[, k[, s]])   k x k convolution to w channels, stride s (default 3, 1), 'same' padding
    POOL[(kind][, k])   k x k / k pooling, kind ``max`` (default) or ``avg``, k default 2
    POOL?               the pattern's optional pool: applied only while the map is at least k x k
    BN                  BatchNorm over C (a CONV or FC right before it then has no bias)
    RELU, TANH, ...     any activation of :mod:`jcnn.nn.activations` (SIGMOID, LEAKY_RELU, GELU, ...)
    DROPOUT(p)          dropout with rate p
    GAP                 global average pooling, (N, H, W, C) -> (N, C)
    FC(w)               dense layer to w units; a spatial input is flattened first

A syntax error raises ``ValueError`` giving the position in the string, with a caret under it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from jcnn.nn.activations import ACTIVATIONS

_FIXED = ("CONV", "POOL", "BN", "DROPOUT", "GAP", "FC")
ACTS = {name.upper(): name for name in ACTIVATIONS}
_TOKEN = re.compile(r"\s*(?:(?P<arrow>->|→)|(?P<punct>[\[\]()*,?])|"
                    r"(?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)|"
                    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*))")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer of a pattern; ``pos`` is its position in the text (for errors)."""

    kind: str  # "CONV", "POOL", ..., or an activation's upper-case name
    args: tuple  # normalised: CONV (w, k, s); POOL (kind, k); DROPOUT (p,); FC (w,); others ()
    optional: bool
    pos: int


@dataclasses.dataclass(frozen=True)
class Repeat:
    """``[items]*times``."""

    items: tuple
    times: int
    pos: int


def fail(spec, pos, msg):
    """Raise the ``ValueError`` of ``from_pattern`` with a caret under position ``pos`` of ``spec``."""
    raise ValueError(f"from_pattern: {msg} at position {pos}:\n  {spec}\n  {' ' * pos}^")


def _tokenize(spec):
    tokens, pos = [], 0
    while pos < len(spec):
        if spec[pos:].strip() == "":
            break
        m = _TOKEN.match(spec, pos)
        if m is None:
            bad = len(spec[pos:]) - len(spec[pos:].lstrip()) + pos
            fail(spec, bad, f"unexpected character {spec[bad]!r}")
        kind = m.lastgroup
        start = m.start(kind)
        tokens.append((kind, m.group(kind), start))
        pos = m.end()
    tokens.append(("end", "", len(spec)))
    return tokens


def parse(spec: str) -> tuple:
    """The items of a pattern: :class:`Layer` and :class:`Repeat` (``[...]*N``), checked and normalised."""
    return _Parser(spec).spec_()


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
            fail(self.spec, tok[2], f"expected {want}, got {got}")
        self.i += 1
        return tok

    def spec_(self):
        tok = self.peek()
        if tok[0] == "name" and tok[1].upper() == "INPUT":
            self.i += 1
            if self.peek()[0] == "end":
                fail(self.spec, self.peek()[2], "the pattern has no layers after INPUT")
            self.take("->")
        items = self.chain()
        tok = self.peek()
        if tok[0] != "end":
            fail(self.spec, tok[2], f"expected '->' or the end of the pattern, got {tok[1]!r}")
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
            fail(self.spec, tok[2], f"expected a layer name or '[', got {got}")
        layer = self.layer()
        if self.peek()[1] == "*":  # CONV(32)*2 is [CONV(32)]*2
            self.i += 1
            return Repeat((layer,), self.count(), tok[2])
        return layer

    def count(self):
        tok = self.take(kind="number")
        if not tok[1].isdigit() or int(tok[1]) < 1:
            fail(self.spec, tok[2], f"repetition count must be a positive int, got {tok[1]}")
        return int(tok[1])

    def layer(self):
        _, name, pos = self.take(kind="name")
        kind = name.upper()
        if kind == "INPUT":
            fail(self.spec, pos, "INPUT may only start the pattern")
        if kind not in _FIXED and kind not in ACTS:
            known = list(_FIXED) + sorted(ACTS)
            close = difflib.get_close_matches(kind, known, n=3)
            fail(self.spec, pos, f"unknown layer {name!r} (close matches: {close}; known: {known})")
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
                fail(self.spec, self.peek()[2], f"only POOL may be optional ('?'), not {kind}")
            self.i += 1
        return Layer(kind, self.args(kind, args, pos), optional, pos)

    def arg(self, kind):
        tok = self.peek()
        if tok[0] not in ("number", "name"):
            got = "the end of the pattern" if tok[0] == "end" else repr(tok[1])
            fail(self.spec, tok[2], f"{kind}: expected an argument, got {got}")
        self.i += 1
        return tok[1:]  # (text, position)

    def args(self, kind, args, pos):
        """Check and normalise a layer's arguments ((text, position) pairs) against its signature."""

        def integer(text, p, what):
            if not text.isdigit() or int(text) < 1:
                fail(self.spec, p, f"{kind}: {what} must be a positive int, got {text!r}")
            return int(text)

        nargs = {"CONV": (1, 3), "FC": (1, 1), "POOL": (0, 2), "DROPOUT": (1, 1)}.get(kind, (0, 0))
        if not nargs[0] <= len(args) <= nargs[1]:
            want = "no arguments" if nargs[1] == 0 else f"{nargs[0]} to {nargs[1]} arguments"
            usage = {"CONV": "CONV(width[, kernel[, stride]])", "FC": "FC(width)", "POOL": "POOL([max|avg][, k])",
                     "DROPOUT": "DROPOUT(rate)"}.get(kind, kind)
            fail(self.spec, pos, f"{kind} takes {want}, got {len(args)} (usage: {usage})")
        if kind == "CONV":
            given = [integer(t, p, what) for (t, p), what in zip(args, ("width", "kernel size", "stride"))]
            return (*given, *(3, 1)[len(given) - 1:])  # (width, kernel, stride)
        if kind == "FC":
            return (integer(*args[0], "width"),)
        if kind == "DROPOUT":
            text, p = args[0]
            if not re.fullmatch(r"[\d.eE+-]+", text) or not 0.0 <= float(text) < 1.0:
                fail(self.spec, p, f"DROPOUT: rate must be a number in [0, 1), got {text!r}")
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


def token(layer: Layer) -> str:
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


def render(items, expand: bool) -> str:
    """Parsed items back to text (`` -> `` between tokens); ``expand`` unrolls ``[...]*N``."""
    out = []
    for it in items:
        if isinstance(it, Layer):
            out.append(token(it))
        elif expand:
            out.extend([render(it.items, True)] * it.times)
        else:
            out.append(f"[{render(it.items, False)}]*{it.times}")
    return " -> ".join(out)


def unrolled(items):
    """The layers of parsed items in order, every ``[...]*N`` unrolled."""
    for it in items:
        if isinstance(it, Layer):
            yield it
        else:
            for _ in range(it.times):
                yield from unrolled(it.items)


def normalize_pattern(spec: str, *, expand: bool = False) -> str:
    """The canonical form of a pattern: ``INPUT -> `` first, upper case, `` -> `` separators, defaults dropped.

    ``expand=True`` unrolls every ``[...]*N``. Raises ``ValueError`` (with the
    position) on a syntax error.
    """
    return "INPUT -> " + render(parse(spec), expand)
