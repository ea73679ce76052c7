"""What each config field may hold, and :func:`validate`, which checks a whole config at once.

The trainer reads the fields of ``experiments/configs/common.py``'s ``base()``;
this module states, for each, its type and range (one rule per field, the
rule's text is the error message's "what is allowed"). :func:`validate` runs
in plain Python before anything is compiled or written: a bad value is one
``ValueError``/``TypeError`` line naming the field, its value and what is
allowed, instead of a ZeroDivisionError after the first compile
(``train.log_every=0``) or a silently accepted ``checkpoint.every=-2``.

Importing this module does not import JAX; :func:`validate` imports the model
registry (and the augmentation parser when ``data.augment`` is set) to check
names and options, which never compiles anything.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import ml_collections

# The names the trainer accepts. jcnn.train.optim and jcnn.train.step resolve the
# same names (tests/train/test_config.py checks that the lists agree).
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "exponential")
PRECISIONS = ("float32", "bfloat16")
TASKS = ("classify", "gan")
ATTACKS = ("fgsm", "pgd")
SEED_MAX = 2**32 - 1  # grain's shuffle takes seeds in [0, 2**32 - 1]


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One field's type (``kind``) and range; ``lo``/``hi`` bound numbers (open ends with ``*_open``).

    kinds: ``int``, ``float`` (an int is accepted), ``bool``, ``str`` (``nonempty``
    refuses ""), ``choice`` (one of ``choices``), ``floats`` / ``ints`` (a tuple
    or list of numbers, each within the range; ``nonempty``; ints ``ascending``).
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    nonempty: bool = False
    ascending: bool = False

    def _range(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f" in {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f" {'>' if self.lo_open else '>='} {self.lo}"
        if self.hi is not None:
            return f" {'<' if self.hi_open else '<='} {self.hi}"
        return ""

    def describe(self) -> str:
        """What is allowed, as the end of "must be ..."."""
        if self.kind == "choice":
            return f"one of {', '.join(map(repr, self.choices))}"
        if self.kind == "str":
            return "a non-empty string" if self.nonempty else "a string"
        if self.kind == "bool":
            return "true or false"
        if self.kind in ("int", "float"):
            return f"{'an int' if self.kind == 'int' else 'a number'}{self._range()}"
        each = f"{'ints' if self.kind == 'ints' else 'numbers'}{', each' + self._range() if self._range() else ''}"
        order = ", ascending" if self.ascending else ""
        return f"a {'non-empty ' if self.nonempty else ''}tuple of {each}{order}"

    def _in_range(self, v) -> bool:
        if isinstance(v, float) and not math.isfinite(v):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)

    def problem(self, value) -> type[Exception] | None:
        """``None`` if ``value`` is allowed, else the exception class to raise (TypeError or ValueError)."""
        if self.kind == "choice":
            return None if isinstance(value, str) and value in self.choices else (
                ValueError if isinstance(value, str) else TypeError)
        if self.kind == "str":
            if not isinstance(value, str):
                return TypeError
            return ValueError if self.nonempty and not value.strip() else None
        if self.kind == "bool":
            return None if isinstance(value, bool) else TypeError
        if self.kind in ("int", "float"):
            if not (_is_int(value) if self.kind == "int" else _is_real(value)):
                return TypeError
            return None if self._in_range(value) else ValueError
        # A tuple of numbers.
        item_ok = _is_int if self.kind == "ints" else _is_real
        if not isinstance(value, (tuple, list)) or not all(item_ok(v) for v in value):
            return TypeError
        if (self.nonempty and not value) or not all(self._in_range(v) for v in value):
            return ValueError
        if self.ascending and list(value) != sorted(value):
            return ValueError
        return None


def _int(lo=None, hi=None):
    return Rule("int", lo, hi)


def _float(lo=None, hi=None, *, lo_open=False, hi_open=False):
    return Rule("float", lo, hi, lo_open, hi_open)


def _choice(*choices):
    return Rule("choice", choices=choices)


# Every field the trainer reads (experiments/configs/common.py's base()).
RULES: dict[str, Rule] = {
    "seed": _int(0, SEED_MAX),
    "task": _choice(*TASKS),
    "experiment": Rule("str"),
    "model.name": Rule("str", nonempty=True),
    "model.num_classes": _int(1),
    "model.discriminator": Rule("str"),
    "model.latent_dim": _int(1),
    "model.init_from": Rule("str"),  # "" or a workdir / `jcnn weights import` output to start from
    "data.name": Rule("str", nonempty=True),
    "data.train_split": Rule("str", nonempty=True),
    "data.eval_split": Rule("str", nonempty=True),
    "data.data_dir": Rule("str"),
    "data.augment": Rule("str"),
    "data.pad": _int(0),
    "data.mean": Rule("floats", nonempty=True),
    "data.std": Rule("floats", 0, lo_open=True, nonempty=True),
    "data.worker_count": _int(0),
    "data.image_size": _int(0),
    "data.crop_scale": Rule("floats", 0, 1, lo_open=True, nonempty=True, ascending=True),
    "data.crop_ratio": Rule("floats", 0, lo_open=True, nonempty=True, ascending=True),
    "data.flip": Rule("bool"),
    "data.eval_crop_fraction": _float(0, 1, lo_open=True),
    "train.steps": _int(1),
    "train.batch_size": _int(1),
    "train.log_every": _int(1),
    "train.accum_steps": _int(1),  # must also divide train.batch_size (checked by jcnn.train.step.check)
    "train.precision": _choice(*PRECISIONS),
    "train.label_smoothing": _float(0, 1, hi_open=True),
    "train.grad_clip": _float(0),
    "train.adversarial.fraction": _float(0, 1),
    "train.adversarial.method": _choice(*ATTACKS),
    "train.adversarial.eps": _float(0),
    "train.adversarial.steps": _int(1),
    "optimizer.name": _choice(*OPTIMIZERS),
    "optimizer.lr": _float(0, lo_open=True),
    "optimizer.momentum": _float(0, 1, hi_open=True),
    "optimizer.nesterov": Rule("bool"),
    "optimizer.weight_decay": _float(0),
    "optimizer.b1": _float(0, 1, hi_open=True),
    "optimizer.b2": _float(0, 1, hi_open=True),
    "optimizer.eps": _float(0, lo_open=True),
    "optimizer.decay": _float(0, 1, hi_open=True),
    "schedule.name": _choice(*SCHEDULES),
    "schedule.warmup_steps": _int(0),
    "schedule.boundaries": Rule("ints", 0, ascending=True),
    "schedule.factor": _float(0, lo_open=True),
    "schedule.alpha": _float(0, 1),
    "schedule.decay_steps": _int(1),
    "schedule.staircase": Rule("bool"),
    "eval.every": _int(0),
    "eval.batch_size": _int(1),
    "eval.max_batches": _int(0),
    "checkpoint.every": _int(0),
    "checkpoint.keep": _int(1),
}
# Fields a config may leave out (``experiment`` is set by jcnn.train.config.load).
OPTIONAL = frozenset({"experiment"})


def _get(cfg, key):
    node = cfg
    for part in key.split("."):
        if not hasattr(node, "keys") or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def _cross_field(cfg) -> list[tuple[type[Exception], str]]:
    """Rules that tie fields together."""
    out = []
    mean, std = tuple(cfg.data.mean), tuple(cfg.data.std)
    if len(mean) != len(std) and 1 not in (len(mean), len(std)):
        out.append((ValueError, f"data.mean={mean!r} and data.std={std!r}: must have one value per channel each "
                                "(the same length) or a single value"))
    if cfg.task == "gan" and not cfg.model.discriminator.strip():
        out.append((ValueError, "model.discriminator='': a task='gan' run needs a registered discriminator name"))
    return out


def _names(cfg) -> list[tuple[type[Exception], str]]:
    """Model names and options against the registry; the augmentation spec against its parser."""
    from jcnn.models import registry

    out = []
    options = cfg.model.kwargs.to_dict() if hasattr(cfg.model.kwargs, "to_dict") else dict(cfg.model.kwargs)
    checks = [("model.name", cfg.model.name, options)]
    if cfg.task == "gan":
        checks.append(("model.discriminator", cfg.model.discriminator, {}))
    for field, name, kw in checks:
        try:
            if cfg.task == "classify":
                registry.check_arguments(name, num_classes=cfg.model.num_classes, seed=cfg.seed, **kw)
            else:
                registry.check_arguments(name, seed=cfg.seed, **kw)
        except (ValueError, TypeError) as e:
            out.append((type(e), f"{field}={name!r}{' with model.kwargs' if kw else ''}: {e}"))
    if not out:
        # The network that reads the images: the classifier, or a GAN's discriminator.
        field, name, kw = checks[-1]
        channels = kw.get("in_channels", registry.info(name).input_shape[-1])
        for key in ("data.mean", "data.std"):
            values = tuple(_get(cfg, key))
            if len(values) not in (1, channels):
                out.append((ValueError, f"{key}={values!r}: must hold 1 or {channels} values, one per input "
                                        f"channel of {field}={name!r}"))
    if cfg.data.augment.strip():
        from jcnn.data import augment

        try:
            augment.build(cfg.data.augment)
        except (ValueError, TypeError) as e:
            out.append((type(e), f"data.augment={cfg.data.augment!r}: {e}"))
    return out


def validate(cfg, *, names: bool = True) -> None:
    """Check every field of ``cfg`` (type and range) before anything is built, compiled or written.

    Args:
      cfg: an experiment config (``ml_collections.ConfigDict`` built on ``common.base()``).
      names: also check model names and ``model.kwargs`` against the registry and
        ``data.augment`` against its parser (imports those modules; compiles nothing).
    Raises:
      TypeError: only wrong types were found. ValueError: anything else (wrong
        values, missing fields, unknown names). The message is one line listing
        every problem as ``field=value: must be ...``.
    """
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise TypeError(f"config: expected an ml_collections.ConfigDict, got {type(cfg).__name__}")
    problems: list[tuple[type[Exception], str]] = []
    for key, rule in RULES.items():
        try:
            value = _get(cfg, key)
        except KeyError:
            if key not in OPTIONAL:
                problems.append((ValueError, f"{key} is missing (configs build on experiments/configs/common.base())"))
            continue
        exc = rule.problem(value)
        if exc is not None:
            problems.append((exc, f"{key}={value!r}: must be {rule.describe()}"))
    if not isinstance(_get_or_none(cfg, "model.kwargs"), (ml_collections.ConfigDict, dict)):
        problems.append((TypeError, f"model.kwargs={_get_or_none(cfg, 'model.kwargs')!r}: must be a ConfigDict "
                                    "of jcnn.models.create options"))
    if not problems:
        problems += _cross_field(cfg)
    if not problems and names:
        problems += _names(cfg)
    if problems:
        kind = TypeError if all(e is TypeError for e, _ in problems) else ValueError
        raise kind("config: " + "; ".join(msg for _, msg in problems))


def _get_or_none(cfg, key):
    try:
        return _get(cfg, key)
    except KeyError:
        return None
