"""Every notebook executes from its source without error (CI re-runs them; nothing is written).

Notebooks that train read their step count (``JCNN_NOTEBOOK_STEPS``) and attack-set size
(``JCNN_NOTEBOOK_DIGITS``) from the environment, defaulting to the stored run's values; the
default suite runs them at a small setting, ``-m slow`` at the stored one.
"""

import importlib.util
import pathlib

import pytest

_BUILD = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "build.py"
_spec = importlib.util.spec_from_file_location("notebook_build", _BUILD)
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

SMALL = {"JCNN_NOTEBOOK_STEPS": "20", "JCNN_NOTEBOOK_DIGITS": "64"}


def test_there_are_notebooks_and_each_has_an_executed_copy():
    names = build.names()
    assert names
    for name in names:
        assert (build.HERE / f"{name}.ipynb").exists(), f"notebooks/{name}.ipynb missing: run notebooks/build.py"


def test_stored_notebooks_hold_their_sources_code():
    """The executed copies show the code the sources hold (the env knobs' defaults are the stored run's)."""
    import nbformat

    for name in build.names():
        stored = nbformat.read(build.HERE / f"{name}.ipynb", as_version=4)
        parsed = build.parse((build.SRC / f"{name}.py").read_text())
        assert [(c.cell_type, c.source) for c in stored.cells] == [(c.cell_type, c.source) for c in parsed.cells], name


def _execute(name):
    nb = build.execute(name, write=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    return nb


@pytest.mark.parametrize("name", build.names())
def test_notebook_executes_small(name, monkeypatch):
    for k, v in SMALL.items():
        monkeypatch.setenv(k, v)  # the kernel inherits this process's environment
    nb = _execute(name)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if name == "05_adversarial":
        assert f"after {SMALL['JCNN_NOTEBOOK_STEPS']} steps" in text  # the knob reached the kernel


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in build.names() if n in ("04_inside_a_cnn", "05_adversarial")])
def test_notebook_executes_at_stored_setting(name, monkeypatch):
    for k in SMALL:
        monkeypatch.delenv(k, raising=False)
    _execute(name)
