"""Optimisers and learning-rate schedules from the ``optimizer`` / ``schedule`` config sections.

Conventions (optax's; ``tests/train/test_optim.py`` checks each against the formula):

- ``sgd``: ``t = g + momentum * t``; update ``-lr * t`` (Nesterov: ``-lr * (g + momentum * t)``,
  Sutskever et al. 2013, section 3).
- ``adam`` (Kingma & Ba 2015, Algorithm 1): bias-corrected moments, ``-lr * m_hat / (sqrt(v_hat) + eps)``.
- ``adamw`` (Loshchilov & Hutter 2019, Algorithm 2): ``-lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)``,
  the decay scaled by the scheduled lr.
- ``rmsprop`` (Tieleman & Hinton 2012): ``nu = decay * nu + (1 - decay) * g^2`` (from 0),
  ``u = lr * g / sqrt(nu + eps)``, then ``t = u + momentum * t``; update ``-t``.
- ``optimizer.weight_decay`` for every optimiser but adamw is L2: ``wd * p`` added to the gradient
  after clipping. ``train.grad_clip`` clips the global norm of the gradient first.
"""

from __future__ import annotations

import optax

from jcnn.train.schema import OPTIMIZERS, SCHEDULES  # the names' one home (validated there too)


def schedule(cfg, total_steps: int) -> optax.Schedule:
    """Learning rate as a function of the step: optional linear warm-up, then the named schedule.

    With ``w = schedule.warmup_steps`` and ``t = step - w`` after the warm-up
    (``lr = peak * step / w`` during it):

    - ``constant``: ``peak``;
    - ``step``: ``peak * factor ** (number of boundaries <= step)``;
    - ``cosine``: ``peak * (alpha + (1 - alpha) * (1 + cos(pi * t / (total - w))) / 2)``
      (Loshchilov & Hutter 2017, SGDR, eq. 5, one cycle);
    - ``exponential``: ``peak * factor ** (t / decay_steps)``, or ``** floor(t / decay_steps)`` with
      ``staircase`` (GoogLeNet: x0.96 every 8 epochs, Szegedy et al. 2015, section 6).
    """
    s, peak = cfg.schedule, float(cfg.optimizer.lr)
    warm = int(s.warmup_steps)
    if s.name == "constant":
        main = optax.constant_schedule(peak)
    elif s.name == "step":
        bounds = {int(b) - warm: float(s.factor) for b in s.boundaries if int(b) > warm}
        main = optax.piecewise_constant_schedule(peak, bounds)
    elif s.name == "cosine":
        main = optax.cosine_decay_schedule(peak, max(1, total_steps - warm), alpha=float(s.alpha))
    elif s.name == "exponential":
        main = optax.exponential_decay(peak, int(s.decay_steps), float(s.factor), staircase=bool(s.staircase))
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
    """Validate optimiser and schedule fields before anything is built. Raises ValueError naming the field."""
    o, s = cfg.optimizer, cfg.schedule
    if o.name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name={o.name!r}: expected one of {OPTIMIZERS}")
    if s.name not in SCHEDULES:
        raise ValueError(f"schedule.name={s.name!r}: expected one of {SCHEDULES}")
    if not o.lr > 0:
        raise ValueError(f"optimizer.lr={o.lr!r}: must be positive")
    for field, v in (("optimizer.weight_decay", o.weight_decay), ("train.grad_clip", cfg.train.grad_clip),
                     ("schedule.warmup_steps", s.warmup_steps)):
        if v < 0:
            raise ValueError(f"{field}={v!r}: must be >= 0 (0 = off)")
    if s.name in ("step", "exponential") and not 0 < s.factor <= 1:
        raise ValueError(f"schedule.factor={s.factor!r}: must be in (0, 1] for schedule.name={s.name!r}")
    if s.name == "exponential" and not (isinstance(s.decay_steps, int) and s.decay_steps > 0):
        raise ValueError(f"schedule.decay_steps={s.decay_steps!r}: must be a positive int for the "
                         "exponential schedule (lr x factor every decay_steps steps)")

