"""jcnn.train: train a named experiment (``python -m jcnn train EXPERIMENT --workdir DIR``).

Public API: :func:`train` (the loop), :func:`load` (a checkpoint as pytrees),
:func:`load_model` (the trained network as a module, taking normalised input),
:func:`predictor` (the trained classifier with the run's preprocessing: raw images in),
:func:`load_config` (an experiment's config with overrides), :func:`validate_config`
(every field's type and range, before anything is built), :func:`read_metrics`.

Names load on first use, so the command line's ``--help`` and config checks
never pay for importing JAX.
"""

import importlib

# public name -> (module, attribute)
_EXPORTS = {
    "train": ("jcnn.train.loop", "train"),
    "load": ("jcnn.train.loop", "load"),
    "load_model": ("jcnn.train.loop", "load_model"),
    "predictor": ("jcnn.train.predict", "predictor"),
    "NonFiniteLossError": ("jcnn.train.loop", "NonFiniteLossError"),
    "load_config": ("jcnn.train.config", "load"),
    "validate_config": ("jcnn.train.config", "validate"),
    "read_metrics": ("jcnn.train.metrics", "read"),
}

__all__ = ["train", "load", "load_model", "predictor", "load_config", "validate_config", "read_metrics",
           "NonFiniteLossError"]


def __getattr__(name):
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'jcnn.train' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
