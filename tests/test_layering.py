"""Imports flow one way, and no module reaches into another module's private names.

Read from the source with ``ast`` (nothing is imported), over ``jcnn/``,
``experiments/`` and ``notebooks/`` (``tests/`` may test private helpers).
The rules, so that every branch is judged the same:

1. Layering (``jcnn/`` only). Each part of the package may import only the parts
   in ``MAY_IMPORT`` (``ops <- nn <- models <- train, analysis``; ``data`` only
   ``ops``; ``train`` and ``analysis`` never each other). A bare ``import jcnn`` /
   ``from jcnn import summary`` counts as importing what ``jcnn/__init__.py``
   imports. Imports inside functions count too.
2. No private names across modules. ``from m import _x`` and ``m._x`` are
   allowed only when ``_x`` is a module (a private *file* of jcnn, such as
   ``jcnn/ops/_args.py``, is jcnn-internal and fine to import from jcnn; the
   names *in* it that other modules use must be public). Dunders are fine.
3. ``experiments/`` and ``notebooks/`` use jcnn's public API only: no ``_``
   module or name of jcnn, and nothing from ``tests``. Their own helper files
   (``experiments/_report.py``) are theirs to import, their ``_`` names are not.
4. No third-party private modules (``jax._src``) in ``jcnn/``.

``KNOWN`` lists the exceptions, each with its reason; an entry that no longer
matches anything fails the test too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]

# part of jcnn -> the parts it may import (itself always allowed). Top-level files are parts too.
MAY_IMPORT = {
    "_xla_cpu": set(),
    "provenance": set(),
    "ops": {"_xla_cpu"},
    "nn": {"ops", "_xla_cpu"},
    "models": {"ops", "nn", "_xla_cpu"},
    "data": {"ops", "_xla_cpu"},
    "train": {"ops", "nn", "models", "data", "provenance", "_xla_cpu"},
    "analysis": {"ops", "nn", "models", "data", "_xla_cpu"},
}
ENTRY_POINTS = {"__init__", "__main__", "bench"}  # may import any part

# (file, what) -> why it is allowed for now. "what" is the text the checker reports.
KNOWN = {
    ("jcnn/_xla_cpu.py", "jax._src"):
        "JAX has no public way to ask whether a backend started; guarded by ImportError",
    ("experiments/benchmarks/conv_cpu.py", "jcnn._xla_cpu"):
        "the benchmark measures jcnn's private CPU formulations and XLA-CPU flag themselves",
    ("experiments/benchmarks/conv_cpu.py", "jcnn.ops._conv_impl"):
        "the benchmark measures jcnn's private CPU formulations and XLA-CPU flag themselves",
}


def _sources():
    files = sorted((ROOT / "jcnn").rglob("*.py")) + sorted((ROOT / "experiments").rglob("*.py"))
    files += sorted((ROOT / "notebooks").rglob("*.py"))
    return [f for f in files if ".ipynb_checkpoints" not in f.parts]


def _module_file(dotted: str) -> pathlib.Path | None:
    """The file of a jcnn module (``jcnn.ops._args`` -> jcnn/ops/_args.py), or None if it is not a module."""
    path = ROOT.joinpath(*dotted.split("."))
    for f in (path.with_suffix(".py"), path / "__init__.py"):
        if f.is_file():
            return f
    return None


def _local_file(name: str, here: pathlib.Path) -> pathlib.Path | None:
    """A helper module of experiments/notebooks found by its bare name (they put those folders on sys.path)."""
    for folder in (here.parent, ROOT / "experiments", ROOT / "experiments" / "benchmarks"):
        if (folder / f"{name}.py").is_file():
            return folder / f"{name}.py"
    return None


def _dotted(file: pathlib.Path) -> str:
    parts = file.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(dotted: str) -> str:
    """The layer of a jcnn module: ``jcnn.ops.conv`` -> ops, ``jcnn._xla_cpu`` -> _xla_cpu, ``jcnn`` -> __init__."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class _Checker(ast.NodeVisitor):
    def __init__(self, file: pathlib.Path):
        self.file, self.rel = file, file.relative_to(ROOT).as_posix()
        self.in_jcnn = self.rel.startswith("jcnn/")
        self.me = _dotted(file) if self.in_jcnn else None
        self.aliases: dict[str, str] = {}  # local name -> module it is bound to ("jcnn.nn.capture", "_subsets")
        self.problems: list[tuple[int, str, str, str]] = []  # (line, rule, what, message)
        self.imported_parts: list[tuple[int, str, str]] = []  # (line, part, module)

    def report(self, node, rule, what, message):
        if not any(p[:2] == (node.lineno, rule) for p in self.problems):  # once per line and rule
            self.problems.append((node.lineno, rule, what, message))

    # -- resolving ---------------------------------------------------------------------------------
    def kind(self, dotted: str) -> str:
        """'jcnn', 'tests', 'local' (an experiments helper) or 'third' for a module path."""
        top = dotted.split(".")[0]
        if top in ("jcnn", "tests"):
            return top
        if not self.in_jcnn and _local_file(top, self.file):
            return "local"
        return "third"

    def is_module(self, dotted: str) -> bool:
        kind = self.kind(dotted)
        if kind in ("jcnn", "tests"):
            return _module_file(dotted) is not None
        if kind == "local":
            return "." not in dotted
        return False

    # -- imports -----------------------------------------------------------------------------------
    def visit_Import(self, node):
        for a in node.names:
            self.check_module_path(node, a.name)
            if a.asname:
                self.aliases[a.asname] = a.name
            else:
                self.aliases[a.name.split(".")[0]] = a.name.split(".")[0]

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:
            pkg = self.me.split(".") if self.me else []
            here_is_pkg = self.file.name == "__init__.py"
            pkg = pkg[:len(pkg) - node.level + (1 if here_is_pkg else 0)]
            base = ".".join(pkg + ([base] if base else []))
        # `from jcnn import ops` imports jcnn.ops, not what jcnn/__init__.py imports
        self.check_module_path(node, base, layering=base != "jcnn")
        for a in node.names:
            full = f"{base}.{a.name}"
            if self.is_module(full):
                self.check_module_path(node, full)
                self.aliases[a.asname or a.name] = full
            else:
                self.check_name(node, base, a.name)
                if self.in_jcnn and base == "jcnn" and a.name != "*":
                    self.layer(node, "jcnn")  # a name of jcnn/__init__.py: whatever that imports

    def check_module_path(self, node, dotted, layering=True):
        kind = self.kind(dotted)
        parts = dotted.split(".")
        if kind == "tests":
            self.report(node, "no-test-imports", dotted, f"imports test code `{dotted}`; only tests may")
        elif kind == "jcnn":
            if not self.in_jcnn and any(_is_private(p) for p in parts):
                self.report(node, "public-api", dotted,
                            f"imports jcnn's private module `{dotted}`; experiments and notebooks use the public API")
            if self.in_jcnn and layering:
                self.layer(node, dotted)
        elif kind == "third" and self.in_jcnn and any(_is_private(p) for p in parts[1:]):
            self.report(node, "third-party-private", dotted, f"imports the private module `{dotted}` of {parts[0]}")

    def check_name(self, node, module, name):
        if _is_private(name) and self.kind(module) != "third":
            what = f"{module}.{name}"
            self.report(node, "no-private-names", what,
                        f"uses `{name}`, private to `{module}`: make it public in its home (or move it)")

    def layer(self, node, dotted):
        self.imported_parts.append((node.lineno, _part(dotted), dotted))

    # -- attribute access on module aliases --------------------------------------------------------
    def visit_Attribute(self, node):
        chain, value = [node.attr], node.value
        while isinstance(value, ast.Attribute):
            chain.insert(0, value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in self.aliases:
            module = self.aliases[value.id]
            for attr in chain[:-1]:
                if not self.is_module(f"{module}.{attr}"):
                    module = None
                    break
                module = f"{module}.{attr}"
            last = chain[-1]
            if module is not None and not self.is_module(f"{module}.{last}"):
                self.check_name(node, module, last)
        self.generic_visit(node)


def _problems():
    init_parts = set()
    checkers = []
    for file in _sources():
        c = _Checker(file)
        c.visit(ast.parse(file.read_text(), str(file)))
        checkers.append(c)
        if c.rel == "jcnn/__init__.py":
            init_parts = {p for _, p, _ in c.imported_parts if p != "__init__"}
    out = []
    for c in checkers:
        out += [(c.rel, *p) for p in c.problems]
        if c.in_jcnn:
            out += _layer_problems(c, init_parts)
    return out


def _layer_problems(c, init_parts):
    me = _part(c.me)
    if me in ENTRY_POINTS:
        return []
    allowed = MAY_IMPORT.get(me)
    if allowed is None:
        return [(c.rel, 1, "layering", me, f"`{me}` is not in MAY_IMPORT: add its row")]
    out = []
    for line, part, dotted in c.imported_parts:
        used = init_parts if part == "__init__" else {part}
        bad = sorted(p for p in used if p != me and p not in allowed)
        if bad and not any(o[1] == line for o in out):  # once per line
            out.append((c.rel, line, "layering", dotted,
                        f"`{me}` may import only {sorted(allowed | {me})}, not {bad} (via `{dotted}`)"))
    return out


def test_imports_follow_the_layers_and_keep_private_names_private():
    found = _problems()
    new = [f"{file}:{line}: [{rule}] {msg}" for file, line, rule, what, msg in found if (file, what) not in KNOWN]
    assert not new, "import rules broken (see tests/test_layering.py):\n" + "\n".join(new)


def test_known_exceptions_still_exist():
    found = {(file, what) for file, _, _, what, _ in _problems()}
    stale = [f"{file}: {what}" for file, what in KNOWN if (file, what) not in found]
    assert not stale, "fixed: remove from KNOWN in tests/test_layering.py:\n" + "\n".join(stale)


def _check_text(text, rel="jcnn/models/probe.py"):
    c = _Checker(ROOT / rel)
    c.visit(ast.parse(text))
    return c


def test_the_checker_sees_what_it_should():
    # a private name through a module alias, through from-import, and through a chain
    c = _check_text("from jcnn.nn import capture as cap\ncap._walk(m)\nfrom jcnn.ops._args import _is_int\n"
                    "import jcnn.ops._args\njcnn.ops._args._is_int(1)\nfrom jcnn.ops import _args\n_args.as_tuple\n")
    assert [(line, rule) for line, rule, _, _ in c.problems] == [
        (2, "no-private-names"), (3, "no-private-names"), (5, "no-private-names")]
    # experiments: private jcnn modules and tests are out; their own helpers are in, their _names are not
    c = _check_text("import _subsets\n_subsets._balanced(1)\n_subsets.balanced(1)\nfrom jcnn import _xla_cpu\n"
                    "from tests.ops import _reference\n", rel="experiments/probe.py")
    assert [rule for _, rule, _, _ in c.problems] == ["no-private-names", "public-api", "no-test-imports"]
    c = _check_text("from jax._src import xla_bridge\nfrom jax import lax\n")
    assert [rule for _, rule, _, _ in c.problems] == ["third-party-private"]
    # layering: the parts each import reaches
    assert [p for _, p, _ in _check_text("from jcnn import ops, nn\nfrom jcnn.train import loop\nimport jcnn\n"
                                         "from jcnn import summary\n").imported_parts] == [
        "ops", "nn", "train", "train", "__init__", "__init__"]
    # back-edges: data -> models, nn -> the package root (which imports models), analysis -> train
    init = {"ops", "nn", "models", "_xla_cpu"}
    assert [what for _, _, _, what, _ in _layer_problems(_check_text(
        "from jcnn.models import registry\nfrom jcnn.ops import conv\n", "jcnn/data/probe.py"), init)] == [
        "jcnn.models"]
    assert len(_layer_problems(_check_text("import jcnn\n", "jcnn/nn/probe.py"), init)) == 1
    assert len(_layer_problems(_check_text("import jcnn\n", "jcnn/train/probe.py"), init)) == 0
    assert len(_layer_problems(_check_text("from jcnn.train import loop\n", "jcnn/analysis/probe.py"), init)) == 1
