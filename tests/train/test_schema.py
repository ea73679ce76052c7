"""``jcnn.train.config.validate``: every field's type and range, one line naming field, value and what is allowed."""

import json
import subprocess
import sys

import ml_collections
import pytest

from jcnn.train import config, optim, schema, step

EXPERIMENTS = config.experiment_names()


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("arg", [None, "smoke"])
def test_every_experiment_is_valid(name, arg):
    config.validate(config.load(f"{name}:{arg}" if arg else name))


def test_every_field_the_trainer_reads_has_a_rule():
    """common.base()'s fields and the rules are the same set: a new field needs its rule."""
    cfg = config.load("lenet5_mnist")
    fields = set(config.flat_keys(cfg))
    assert fields == set(schema.RULES), (fields ^ set(schema.RULES))


def test_name_lists_agree_with_the_modules_that_resolve_them():
    assert schema.OPTIMIZERS == optim.OPTIMIZERS and schema.SCHEDULES == optim.SCHEDULES
    cfg = config.load("lenet5_mnist")
    for name in schema.PRECISIONS:
        config.apply_override(cfg, f"train.precision={name}")
        step.compute_dtype(cfg)  # accepted by the step


# (override, what the one-line message must say). Each was accepted (or crashed later) before validate existed.
BAD = [
    ("train.log_every=0", "train.log_every=0: must be an int >= 1"),
    ("checkpoint.every=-2", "checkpoint.every=-2: must be an int >= 0"),
    ("checkpoint.keep=0", "checkpoint.keep=0: must be an int >= 1"),
    ("eval.every=-1", "eval.every=-1: must be an int >= 0"),
    ("train.steps=0", "train.steps=0: must be an int >= 1"),
    ("seed=-1", "seed=-1: must be an int in [0, 4294967295]"),
    ("optimizer.lr=0", "optimizer.lr=0.0: must be a number > 0"),
    ("optimizer.lr=1e999", "optimizer.lr=inf: must be a number > 0"),
    ("optimizer.momentum=1.0", "optimizer.momentum=1.0: must be a number in [0, 1)"),
    ("optimizer.b2=1.5", "optimizer.b2=1.5"),
    ("optimizer.name=sgdd", "optimizer.name='sgdd': must be one of 'sgd', 'adam', 'adamw', 'rmsprop'"),
    ("schedule.name=linear", "schedule.name='linear': must be one of"),
    ("schedule.boundaries=(30, 10)", "schedule.boundaries=(30, 10): must be a tuple of ints, each >= 0, ascending"),
    ("train.label_smoothing=1.0", "train.label_smoothing=1.0: must be a number in [0, 1)"),
    ("train.precision=fp16", "train.precision='fp16': must be one of 'float32', 'bfloat16'"),
    ("train.adversarial.fraction=1.5", "train.adversarial.fraction=1.5: must be a number in [0, 1]"),
    ("train.adversarial.method=fgm", "train.adversarial.method='fgm'"),
    ("data.std=(0.0,)", "data.std=(0.0,): must be a non-empty tuple of numbers, each > 0"),
    ("data.mean=(0.1, 0.2)", "data.mean=(0.1, 0.2): must hold 1 or 1 values, one per input channel"),
    ("data.pad=-1", "data.pad=-1: must be an int >= 0"),
    ("data.name=", "data.name='': must be a non-empty string"),
    ("task=regress", "task='regress': must be one of 'classify', 'gan'"),
    ("task=gan", "model.discriminator='': a task='gan' run needs"),
    ("model.name=lenet", "model.name='lenet': unknown model 'lenet'; close matches: ['lenet5'"),
    ("model.num_classes=0", "model.num_classes=0: must be an int >= 1"),
    ("data.augment=flipx", "data.augment='flipx': augment: unknown op 'flipx'"),
]


@pytest.mark.parametrize("override, needle", BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_is_one_line_naming_field_value_and_what_is_allowed(override, needle):
    cfg = config.load("lenet5_mnist:smoke", overrides=[override])
    with pytest.raises(ValueError) as info:
        config.validate(cfg)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("config: ")
    assert needle in msg, msg


def test_every_problem_is_listed_at_once():
    cfg = config.load("lenet5_mnist:smoke", overrides=["train.log_every=0", "checkpoint.every=-2"])
    with pytest.raises(ValueError, match=r"train\.log_every=0: .*; checkpoint\.every=-2: "):
        config.validate(cfg)


def test_wrong_types_are_type_errors():
    """A config file that builds a field with the wrong type (overrides cannot: they are type-checked)."""
    cfg = config.load("lenet5_mnist:smoke")
    raw = cfg.to_dict()
    raw["optimizer"]["nesterov"] = 1
    raw["train"]["steps"] = 10.0
    raw["data"]["mean"] = "0.5"
    with pytest.raises(TypeError) as info:
        config.validate(ml_collections.ConfigDict(raw))
    for needle in ("optimizer.nesterov=1: must be true or false", "train.steps=10.0: must be an int >= 1",
                   "data.mean='0.5': must be a non-empty tuple of numbers"):
        assert needle in str(info.value)


def test_a_missing_field_is_named():
    raw = config.load("lenet5_mnist:smoke").to_dict()
    del raw["checkpoint"]["keep"]
    with pytest.raises(ValueError, match=r"checkpoint\.keep is missing"):
        config.validate(ml_collections.ConfigDict(raw))


def test_model_options_are_checked_against_the_factory():
    raw = config.load("lenet5_mnist:smoke").to_dict()
    raw["model"]["kwargs"] = {"in_chanels": 1}
    with pytest.raises(ValueError, match=r"unknown option 'in_chanels'; did you mean 'in_channels'"):
        config.validate(ml_collections.ConfigDict(raw))


def test_validate_imports_no_jax_without_name_checks():
    """The cheap part runs before JAX is imported (the loop and the CLI call it first)."""
    code = ("import sys, json; from jcnn.train import config; cfg = config.load('lenet5_mnist:smoke'); "
            "config.validate(cfg, names=False); print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('jax', 'jaxlib', 'flax', 'optax'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
