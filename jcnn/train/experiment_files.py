"""Where the named experiments' config files live, and how one is imported.

A named experiment is a module of ``experiments/configs/``. jcnn finds that
folder in one of two places:

1. beside the ``jcnn`` package, in the source checkout it runs from
   (``pip install -e .`` or ``PYTHONPATH``): edits there take effect at once;
2. inside the package, ``jcnn/experiments/configs/``: ``setup.py`` ships a copy
   of the checkout's folder in every wheel, so ``pip install jcnn`` (or ``pip
   install .``) runs the same experiments.

Config files import their shared schema as ``experiments.configs.common``. The
loader binds that name to the ``common.py`` next to the file (or jcnn's own,
for a lone ``--config`` file) only while the file runs, so neither
``sys.path`` nor a user's own ``experiments`` package is touched.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import types

_PACKAGE = pathlib.Path(__file__).resolve().parents[1]  # .../jcnn

#: Searched in this order: a source checkout, then the copy installed with the package.
SEARCH_PATH = (_PACKAGE.parent / "experiments" / "configs", _PACKAGE / "experiments" / "configs")

NOT_FOUND = ("no named experiments found: jcnn looked for experiments/configs in a source checkout and in the "
             "installed package ({where}); reinstall jcnn from its source (pip install .) or pass --config PATH")


def config_dir() -> pathlib.Path | None:
    """The folder of the named experiments, or None if neither location has one."""
    for path in SEARCH_PATH:
        if (path / "common.py").is_file():
            return path
    return None


def names() -> list[str]:
    """Experiment names: every module of :func:`config_dir` but ``common`` and private ones."""
    where = config_dir()
    if where is None:
        return []
    return sorted(p.stem for p in where.glob("*.py") if not p.stem.startswith("_") and p.stem != "common")


def not_found_message() -> str:
    return NOT_FOUND.format(where=", ".join(str(p) for p in SEARCH_PATH))


def _exec(path: pathlib.Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ALIASES = ("experiments", "experiments.configs", "experiments.configs.common")


def import_file(path) -> types.ModuleType:
    """Import the config file ``path`` with ``experiments.configs.common`` bound to its shared schema.

    The schema is the ``common.py`` beside ``path`` if there is one, else that of
    :func:`config_dir`. The bindings are restored afterwards.
    """
    path = pathlib.Path(path).resolve()
    common = path.parent / "common.py"
    if not common.is_file():
        where = config_dir()
        if where is None:
            raise ValueError(f"train: {path} imports experiments.configs.common, but {not_found_message()}")
        common = where / "common.py"
    saved = {name: sys.modules.get(name) for name in _ALIASES}
    try:
        top = types.ModuleType("experiments")
        top.__path__ = [str(common.parent.parent)]  # sibling modules of a checkout stay importable
        sub = types.ModuleType("experiments.configs")
        sub.__path__ = [str(common.parent)]
        top.configs = sub
        sys.modules["experiments"], sys.modules["experiments.configs"] = top, sub
        sub.common = sys.modules["experiments.configs.common"] = _exec(common, "experiments.configs.common")
        if path == common:
            return sub.common
        return _exec(path, f"jcnn_config_{path.stem}")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
