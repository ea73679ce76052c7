"""Pretrained starts: torchvision/timm weights as a jcnn checkpoint, and ``model.init_from`` for fine-tuning.

``import_weights("resnet50", FILE, DIR)`` (``python -m jcnn weights import``) writes
``DIR/checkpoints/0`` in the training loop's own format, through
:class:`jcnn.train.checkpoint.Checkpointer`, with the config of experiment
``imagenet_pretrained:NAME``; so ``jcnn.train.load_model(DIR)`` returns the network
and ``--set model.init_from=DIR`` starts a run from it.

:func:`init_from` is that start: every parameter and BatchNorm statistic of a
saved run (an import or any ``jcnn train`` workdir of the same model) replaces the
fresh one; a classifier of another size (a new ``model.num_classes``) keeps its
fresh, seeded initialisation, as in fine-tuning (Yosinski et al. 2014; Kornblith,
Shlens & Le 2019). Anything else that differs is an error naming the parameter.
"""

from __future__ import annotations

import hashlib
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import models, nn
from jcnn.nn import capture
from jcnn.train import checkpoint as ckpt_lib
from jcnn.train import config as config_lib
from jcnn.train import optim
from jcnn.train import state as state_lib

EXPERIMENT = "imagenet_pretrained"


def classifier_path(model) -> str:
    """The path of ``model``'s last :class:`jcnn.nn.Dense` in definition order (its classifier), or ""."""
    dense = [path for path, m in capture.layers(model) if isinstance(m, nn.Dense)]
    return dense[-1] if dense else ""


def _flat(tree, prefix=()):
    """``{"a.0.kernel": array}`` of a nested dict (orbax restores list indices as strings: compare by text)."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, (*prefix, str(k))))
        else:
            out[".".join((*prefix, str(k)))] = v
    return out


def init_from(model, directory, *, name: str | None = None):
    """Replace ``model``'s parameters and statistics by those of the newest checkpoint in ``directory``.

    Args:
      model: a fresh ``jcnn.models.create(name, num_classes=K, ...)``.
      directory: a workdir holding ``checkpoints/`` (``jcnn weights import`` output or a ``jcnn train`` run).
      name: the model's registered name, checked against the checkpoint's.
    Returns:
      ``model``, changed in place; under ``jax.eval_shape`` (rebuilding a run's structure) it is
      returned unchanged, since only shapes matter there and they are the fresh model's.
    Raises:
      ValueError: no checkpoint, another model, or parameters that differ beyond the classifier.
    """
    fn = f"model.init_from={str(directory)!r}"
    flat_model = nnx.to_flat_state(nnx.state(model, (nnx.Param, nnx.BatchStat)))
    if any(isinstance(v.get_value(), jax.core.Tracer) for _, v in flat_model):
        return model
    ckpt_dir = pathlib.Path(directory) / "checkpoints"
    if not ckpt_dir.is_dir():
        raise ValueError(f"{fn}: no checkpoints/ folder in {str(directory)!r} (make one with "
                         f"`python -m jcnn weights import NAME --from FILE --out DIR`)")
    ckpt = ckpt_lib.Checkpointer(ckpt_dir)
    try:
        restored = ckpt.restore(None)
    finally:
        ckpt.close()
    if restored is None:
        raise ValueError(f"{fn}: no checkpoint in {ckpt_dir}")
    step, saved, meta = restored
    src = meta.get("config", {}).get("model", {}).get("name")
    if name is not None and src != name:
        raise ValueError(f"{fn}: the checkpoint holds model {src!r}, this run builds {name!r}")
    values = {**_flat(saved.get("params", {})), **_flat(saved.get("batch_stats", {}))}
    head = classifier_path(model)
    ours = {".".join(map(str, p)): v for p, v in flat_model}
    missing = sorted(set(ours) - set(values))
    extra = sorted(set(values) - set(ours))
    wrong = [f"{k} {tuple(np.shape(values[k]))} vs {tuple(ours[k].shape)}" for k in sorted(set(ours) & set(values))
             if tuple(np.shape(values[k])) != tuple(ours[k].shape) and not k.startswith(f"{head}.")]
    if missing or extra or wrong:
        raise ValueError(f"{fn}: checkpoint step {step} ({src}) does not fit this model: missing {missing[:8]}, "
                         f"unexpected {extra[:8]}, shapes (checkpoint vs model) {wrong[:8]}")
    for key, var in flat_model:
        k = ".".join(map(str, key))
        if tuple(np.shape(values[k])) == tuple(var.shape):  # else: the classifier, kept fresh
            var.set_value(jnp.asarray(values[k], var.get_value().dtype))
    nnx.update(model, nnx.from_flat_state(flat_model))
    return model


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_weights(name: str, source, out, *, num_classes: int | None = None, seed: int = 0) -> pathlib.Path:
    """Write torchvision/timm weights ``source`` for zoo model ``name`` as a checkpoint in ``out``.

    Args:
      name: a model of :data:`jcnn.models.weights.SUPPORTED`. source: the state dict file.
      out: the new workdir (must hold no checkpoint yet).
      num_classes: another classifier size: its weights are fresh (from ``seed``), the rest the file's.
      seed: the config's seed (initialises a new classifier).
    Returns:
      ``out`` as a path; ``out/checkpoints/0`` holds the state, its meta the config and the file's SHA-256.
    """
    from jcnn.models import weights as weights_lib

    fn = "weights import"
    weights_lib.check_supported(name, fn)
    source = pathlib.Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"{fn}: no file {str(source)!r}")
    out = pathlib.Path(out)
    overrides = [f"seed={int(seed)}"] + ([f"model.num_classes={int(num_classes)}"] if num_classes else [])
    cfg = config_lib.load(f"{EXPERIMENT}:{name}", overrides=overrides)
    sd = weights_lib.read_state_dict(source)
    model = models.create(name, num_classes=cfg.model.num_classes, seed=cfg.seed, weights=sd)
    _, params, stats, _ = state_lib.split(model)
    tx = optim.optimizer(cfg, int(cfg.train.steps))
    state = {"step": jnp.zeros((), jnp.int32), "params": params, "batch_stats": stats, "opt_state": tx.init(params)}
    # The loop's loader rebuilds this structure from the stored config: check it matches before writing.
    abstract = jax.eval_shape(lambda: state_lib.saved(state_lib.create(cfg, tx)[1]))
    if jax.tree.structure(abstract) != jax.tree.structure(state):
        raise RuntimeError(f"{fn}: the state of {name} does not have the structure jcnn.train.load expects")
    ckpt = ckpt_lib.Checkpointer(out / "checkpoints")
    try:
        if ckpt.steps():
            raise ValueError(f"{fn}: {str(out)!r} already holds checkpoints {ckpt.steps()}; choose another --out")
        meta = {"experiment": cfg.experiment, "step": 0, "seed": int(cfg.seed), "config": config_lib.to_dict(cfg),
                "data": None, "eval_accuracy": None, "best_eval_accuracy": None,
                "weights": {"file": str(source.resolve()), "sha256": _sha256(source),
                            "naming": weights_lib.timm_names.naming(sd)}}
        ckpt.save(0, state, meta)
    finally:
        ckpt.close()
    return out
