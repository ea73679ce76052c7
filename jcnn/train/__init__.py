"""jcnn.train: train a named experiment (``python -m jcnn train EXPERIMENT --workdir DIR``).

Public API: :func:`train` (the loop), :func:`load` (a checkpoint as pytrees),
:func:`load_model` (the trained network as a module),
:func:`load_config` (an experiment's config with overrides), :func:`read_metrics`.
"""

from jcnn.train.config import load as load_config
from jcnn.train.loop import NonFiniteLossError, load, load_model, train
from jcnn.train.metrics import read as read_metrics

__all__ = ["train", "load", "load_model", "load_config", "read_metrics", "NonFiniteLossError"]
