"""``python -m jcnn bench [NAME ...] [--quick] [--out DIR]``: run the side-by-side benchmarks.

Each benchmark is a script in ``experiments/benchmarks/NAME.py`` (run in its
own process, so one benchmark's compiled code and threads do not skew the
next) that prints a table and writes JSON with ``--out FILE``. This command
finds them in the source checkout the package was installed from; an installed
wheel has none and says so in one line (exit status 2).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys


def benchmarks_dir() -> pathlib.Path | None:
    """``experiments/benchmarks`` of the checkout beside the ``jcnn`` package, or None if there is none.

    Benchmarks are not installed with the package: they compare jcnn with
    PyTorch and read the test suite's NumPy oracles, so they need a checkout.
    """
    path = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"
    return path if path.is_dir() else None


NOT_FOUND = ("jcnn bench: the benchmarks are scripts in a source checkout (experiments/benchmarks/) and are not "
             "installed with the package; clone jcnn's repository and run `pip install -e .` there")


def available() -> list[str]:
    """Benchmark names (empty without a checkout)."""
    where = benchmarks_dir()
    return [] if where is None else sorted(p.stem for p in where.glob("[!_]*.py"))


def add_arguments(parser):
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs (fewer repetitions)")
    parser.add_argument("--out", default=None, help="folder for the JSON results (one NAME.json each)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")


def run(args) -> int:
    if benchmarks_dir() is None:
        print(NOT_FOUND, file=sys.stderr)
        return 2
    names = available()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [n for n in args.names if n not in names]
    if unknown:
        print(f"jcnn bench: unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    rc = 0
    for name in args.names or names:
        cmd = [sys.executable, str(benchmarks_dir() / f"{name}.py")]
        if args.quick:
            cmd.append("--quick")
        if args.out:
            out = pathlib.Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            cmd += ["--out", str(out / f"{name}.json")]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        rc = max(rc, subprocess.call(cmd))
    return rc
