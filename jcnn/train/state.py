"""Training state: the model split into pure pytrees of arrays.

``nnx.split(model, nnx.Param, nnx.BatchStat, ...)`` gives a graphdef (static,
closed over by the jitted step) and three states, kept as pure dicts:

- ``params``: trainable parameters (float32 always; mixed precision casts
  them inside each layer, see :mod:`jcnn.train.step`);
- ``batch_stats``: BatchNorm running statistics;
- the rest (``RngKey``/``RngCount`` of dropout streams): never checkpointed;
  the step reseeds every dropout stream from ``fold_in(key(seed), step)``, so
  its value never influences the result and resumption is exact.

The state is a dict ``{"step", "params", "batch_stats", "opt_state", "rngs"}``;
for a GAN each of params/batch_stats/opt_state/rngs is ``{"g": ..., "d": ...}``.
Everything but ``rngs`` is saved in checkpoints (:func:`saved`). The steps
run a network on these pure dicts with :func:`jcnn.nn.apply`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from jcnn import models


@dataclasses.dataclass(frozen=True)
class Net:
    """Static half of a split model: its graphdef and its initial rest state."""

    name: str
    graphdef: object


def split(model):
    """``model -> (graphdef, params, batch_stats, rest)``, the three states as pure dicts."""
    graphdef, params, batch_stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    return graphdef, nnx.to_pure_dict(params), nnx.to_pure_dict(batch_stats), nnx.to_pure_dict(rest)


def build_model(cfg, name: str, *, seed: int, kwargs=None):
    kw = dict(kwargs or {})
    if cfg.task == "classify":
        return models.create(name, num_classes=cfg.model.num_classes, seed=seed, **kw)
    return models.create(name, seed=seed, **kw)


def net_models(cfg) -> dict:
    """``{key: fresh nnx.Module}`` of ``cfg``'s task: ``"model"``, or a GAN's ``"g"`` and ``"d"``."""
    kwargs = cfg.model.kwargs.to_dict() if hasattr(cfg.model.kwargs, "to_dict") else dict(cfg.model.kwargs)
    if cfg.task == "gan":
        return {"g": build_model(cfg, cfg.model.name, seed=cfg.seed, kwargs=kwargs),
                "d": build_model(cfg, cfg.model.discriminator, seed=cfg.seed + 1000)}
    return {"model": build_model(cfg, cfg.model.name, seed=cfg.seed, kwargs=kwargs)}


def create(cfg, tx):
    """Nets and the initial state of ``cfg``'s task; ``tx`` is an optax transformation (or a dict of them)."""
    nets, params, stats, rngs, opt = {}, {}, {}, {}, {}
    for key, model in net_models(cfg).items():
        name = cfg.model.discriminator if key == "d" else cfg.model.name
        if key == "model" and cfg.model.get("init_from", ""):  # fine-tuning start (jcnn.train.pretrained)
            from jcnn.train import pretrained
            pretrained.init_from(model, cfg.model.init_from, name=name)
        g, p, b, r = split(model)
        nets[key] = Net(name, g)
        params[key], stats[key], rngs[key] = p, b, r
        opt[key] = (tx[key] if isinstance(tx, dict) else tx).init(p)
    if cfg.task != "gan":
        params, stats, rngs, opt = params["model"], stats["model"], rngs["model"], opt["model"]
    state = {"step": jnp.zeros((), jnp.int32), "params": params, "batch_stats": stats, "opt_state": opt,
             "rngs": rngs}
    return nets, state


def saved(state) -> dict:
    """The part of ``state`` a checkpoint holds (no RNG stream state)."""
    return {k: v for k, v in state.items() if k != "rngs"}


def num_params(params) -> int:
    return sum(int(x.size) for x in jax.tree.leaves(params))

