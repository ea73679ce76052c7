"""Build and execute the notebooks: ``python notebooks/build.py [NAME ...] [--check]``.

Each notebook's source is a plain Python file in ``notebooks/src/`` in the
"percent" format: ``# %%`` starts a code cell, ``# %% [markdown]`` a Markdown
cell whose lines are ``# ``-prefixed. The build turns it into
``notebooks/NAME.ipynb``, executes it with nbclient in a fresh kernel, and
stores it with its outputs and figures. ``--check`` executes without writing
(what the test suite does). Notebooks call the library; they define nothing
that jcnn already has.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE / "src"


def parse(text: str) -> nbformat.NotebookNode:
    """Percent-format Python source -> an unexecuted notebook."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    kind, lines = None, []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            nb.cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body:
            nb.cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return nb


def execute(name: str, *, write: bool = True, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute ``notebooks/src/NAME.py``; write ``notebooks/NAME.ipynb`` unless ``write=False``."""
    nb = parse((SRC / f"{name}.py").read_text())
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    if write:
        nbformat.write(nb, HERE / f"{name}.ipynb")
    return nb


def names() -> list[str]:
    return sorted(p.stem for p in SRC.glob("*.py"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"notebooks to build (default: all of {names()})")
    parser.add_argument("--check", action="store_true", help="execute only, do not write")
    args = parser.parse_args(argv)
    for name in args.names or names():
        print(f"executing {name} ...", flush=True)
        execute(name, write=not args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
