"""Command line: ``python -m jcnn <command> ...`` (also installed as ``jcnn``).

Each command lives in the module that owns it; this file only dispatches, and
imports a command's module only when that command runs (so ``jcnn --help``,
``jcnn --version`` and ``jcnn train --help`` never import JAX, and ``jcnn data``
never pays for the model zoo).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help). The module defines
# ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "train": ("jcnn.train.cli", "train a named experiment from its config"),
    "data": ("jcnn.data.cli", "import or inspect data sets (offline)"),
    "summary": ("jcnn.models.cli", "per-layer table of a registered model"),
    "demo": ("jcnn.ops.demo", "a short tour of the pure ops"),
    "bench": ("jcnn.bench", "side-by-side benchmarks (experiments/benchmarks)"),
    "weights": ("jcnn.train.weights_cli", "import torchvision/timm weights as a checkpoint, or export one"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from jcnn import __version__

    parser = argparse.ArgumentParser(prog="jcnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"jcnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help", "--version"):
            parser.error(f"unknown command {argv[0]!r}; choose from {', '.join(COMMANDS)}")
        if argv:  # --help / --version: argparse prints them and exits 0
            try:
                parser.parse_args(argv[:1])
            except SystemExit as e:
                return int(e.code or 0)
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    cmd_parser = argparse.ArgumentParser(prog=f"jcnn {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(cmd_parser)
    return int(module.run(cmd_parser.parse_args(argv[1:])) or 0)


if __name__ == "__main__":
    sys.exit(main())
