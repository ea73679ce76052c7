"""Optimisers and learning-rate schedules from the ``optimizer`` / ``schedule`` config sections."""

from __future__ import annotations

import optax

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine")


def schedule(cfg, total_steps: int) -> optax.Schedule:
    """Learning rate as a function of the step: optional linear warm-up, then constant/step/cosine."""
    s, peak = cfg.schedule, float(cfg.optimizer.lr)
    warm = int(s.warmup_steps)
    if s.name == "constant":
        main = optax.constant_schedule(peak)
    elif s.name == "step":
        bounds = {int(b) - warm: float(s.factor) for b in s.boundaries if int(b) > warm}
        main = optax.piecewise_constant_schedule(peak, bounds)
    elif s.name == "cosine":
        main = optax.cosine_decay_schedule(peak, max(1, total_steps - warm), alpha=float(s.alpha))
    else:
        raise ValueError(f"schedule.name={s.name!r}: expected one of {SCHEDULES}")
    if warm <= 0:
        return main
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warm), main], [warm])


def optimizer(cfg, total_steps: int) -> optax.GradientTransformation:
    """The optax chain: [clip] -> [L2 weight decay] -> optimiser with the schedule."""
    o = cfg.optimizer
    lr = schedule(cfg, total_steps)
    parts = []
    if cfg.train.grad_clip > 0:
        parts.append(optax.clip_by_global_norm(float(cfg.train.grad_clip)))
    if o.weight_decay > 0 and o.name != "adamw":
        parts.append(optax.add_decayed_weights(float(o.weight_decay)))
    if o.name == "sgd":
        parts.append(optax.sgd(lr, momentum=float(o.momentum) or None, nesterov=bool(o.nesterov)))
    elif o.name == "adam":
        parts.append(optax.adam(lr, b1=float(o.b1), b2=float(o.b2), eps=float(o.eps)))
    elif o.name == "adamw":
        parts.append(optax.adamw(lr, b1=float(o.b1), b2=float(o.b2), eps=float(o.eps),
                                 weight_decay=float(o.weight_decay)))
    elif o.name == "rmsprop":
        parts.append(optax.rmsprop(lr, decay=float(o.decay), eps=float(o.eps), momentum=float(o.momentum) or None,
                                   nesterov=bool(o.nesterov)))
    else:
        raise ValueError(f"optimizer.name={o.name!r}: expected one of {OPTIMIZERS}")
    return optax.chain(*parts) if len(parts) > 1 else parts[0]


def check(cfg) -> None:
    """Validate optimiser and schedule fields before anything is built."""
    if cfg.optimizer.name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name={cfg.optimizer.name!r}: expected one of {OPTIMIZERS}")
    if cfg.schedule.name not in SCHEDULES:
        raise ValueError(f"schedule.name={cfg.schedule.name!r}: expected one of {SCHEDULES}")
    if not cfg.optimizer.lr > 0:
        raise ValueError(f"optimizer.lr={cfg.optimizer.lr!r}: must be positive")
