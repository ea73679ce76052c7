"""Experiments: locate a config file, apply ``--set key=value`` overrides, type-checked; :func:`validate`.

An experiment is a module in ``experiments/configs/`` (found in a source
checkout or in the installed package, see :mod:`jcnn.train.experiment_files`)
defining ``get_config(arg=None)`` that returns a locked
``ml_collections.ConfigDict``; ``NAME:ARG`` passes ``ARG`` (``smoke`` is the CI
size). Overrides name existing fields only; the value is parsed as a Python
literal and must match the field's type (an int is accepted for a float field).
:func:`validate` then checks every field's range (:mod:`jcnn.train.schema`).
Nothing here imports JAX.
"""

from __future__ import annotations

import ast
import difflib
import pathlib

import ml_collections

from jcnn.train import experiment_files
from jcnn.train.schema import validate

__all__ = ["apply_override", "experiment_names", "experiment_path", "flat_keys", "load", "to_dict", "validate"]


def experiment_names() -> list[str]:
    """The named experiments (every module of ``experiments/configs/`` but ``common``)."""
    return experiment_files.names()


def experiment_path(name: str) -> pathlib.Path:
    """The config file of the named experiment ``name``.

    Raises:
      ValueError: no experiments folder, or an unknown name (with close matches).
    """
    where = experiment_files.config_dir()
    if where is None:
        raise ValueError(f"train: {experiment_files.not_found_message()}")
    known = experiment_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.4)
        raise ValueError(f"train: unknown experiment {name!r}; close matches: {close or 'none'}; known: {known}")
    return where / f"{name}.py"


def load(experiment: str | None = None, *, path: str | None = None, overrides=()) -> ml_collections.ConfigDict:
    """The config of ``experiment`` (``NAME`` or ``NAME:ARG``) or of the file ``path``, overrides applied.

    Ranges are not checked here (call :func:`validate`), so a config can be
    loaded, edited and then checked.

    Raises:
      ValueError: unknown experiment or field (with close matches), or a malformed override.
      TypeError: an override whose value does not fit the field's type.
    """
    name, arg = (experiment or "").partition(":")[::2]
    if path is not None:
        file = pathlib.Path(path)
        if not file.is_file():
            raise ValueError(f"train: config file {path!r} does not exist")
        name = name or file.stem
    else:
        if not name:
            raise ValueError("train: give an experiment name or --config PATH")
        file = experiment_path(name)
    module = experiment_files.import_file(file)
    if not hasattr(module, "get_config"):
        raise ValueError(f"train: {file} defines no get_config(arg=None)")
    cfg = module.get_config(arg or None)
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise TypeError(f"train: {file}.get_config must return an ml_collections.ConfigDict, got {type(cfg).__name__}")
    cfg.unlock()
    cfg.experiment = f"{name}:{arg}" if arg else name
    cfg.lock()
    for item in overrides:
        apply_override(cfg, item)
    return cfg


def flat_keys(cfg, prefix="") -> list[str]:
    """Every leaf field of ``cfg`` as a dotted path."""
    out = []
    for k, v in cfg.items():
        if isinstance(v, ml_collections.ConfigDict):
            out += flat_keys(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


def _convert(key, raw: str, current):
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string
    if isinstance(current, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
    elif isinstance(current, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(current, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(current, str):
        return raw
    elif isinstance(current, (tuple, list)):
        if isinstance(value, (tuple, list)):
            return type(current)(value)
        if isinstance(value, (int, float, str)):
            return type(current)((value,))
    elif current is None:
        return value
    else:
        return value
    raise TypeError(f"train: override {key}={raw!r}: expected {type(current).__name__} "
                    f"(current value {current!r}), got {type(value).__name__}")


def apply_override(cfg, item: str) -> None:
    """Apply one ``key=value`` to the locked ``cfg`` in place."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"train: override {item!r} must look like key=value, e.g. optimizer.lr=0.05")
    keys = flat_keys(cfg)
    if key not in keys:
        close = difflib.get_close_matches(key, keys, n=5, cutoff=0.5)
        raise ValueError(f"train: unknown config field {key!r}; close matches: {close or 'none'}")
    *parents, leaf = key.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    node[leaf] = _convert(key, raw, node[leaf])


def to_dict(cfg) -> dict:
    """A JSON-friendly plain dict of ``cfg`` (tuples become lists)."""
    return cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
