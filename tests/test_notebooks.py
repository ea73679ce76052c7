"""Every notebook executes from its source without error (CI re-runs them; nothing is written)."""

import importlib.util
import pathlib

import pytest

_BUILD = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "build.py"
_spec = importlib.util.spec_from_file_location("notebook_build", _BUILD)
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def test_there_are_notebooks_and_each_has_an_executed_copy():
    names = build.names()
    assert names
    for name in names:
        assert (build.HERE / f"{name}.ipynb").exists(), f"notebooks/{name}.ipynb missing: run notebooks/build.py"


@pytest.mark.slow
@pytest.mark.parametrize("name", build.names())
def test_notebook_executes(name):
    nb = build.execute(name, write=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
