"""Every zoo model's whole train step lowers for CUDA and TPU (``jax.export``, no accelerator needed).

jcnn's CPU convolution formulations sit behind ``lax.platform_dependent``;
an accelerator program must carry none of them, nor any host callback or
float64. ``jax.export`` refuses custom calls outside its stable list; the
test also lists the custom calls in the module and requires none but
sharding annotations. The steps are the bfloat16 ones, and every
convolution and matrix product of the program (forward and backward) must
read bfloat16 operands: the mixed-precision policy holds zoo-wide.
"""

import re

import jax
import jax.numpy as jnp
import pytest

from experiments.configs import common
from jcnn import models
from jcnn.train import optim, state as state_lib, step as step_lib

PLATFORMS = ("cuda", "tpu")
GANS = {"dcgan_generator": "dcgan_discriminator", "dcgan_generator_64": "dcgan_discriminator_64"}
CLASSIFIERS = [n for n in models.names() if n not in GANS and n not in GANS.values()]
# The deepest networks take longest to trace; CI still runs them.
SLOW = {"resnet34", "resnet50", "resnet101", "resnet152", "resnet32", "resnet44", "resnet56", "resnet110",
        "mobilenet_v1", "mobilenet_v2", "googlenet"}
ALLOWED_CUSTOM_CALLS = {"Sharding", "SPMDFullToShardShape", "SPMDShardToFullShape"}


def config(name, *, batch=2, **train):
    cfg = common.base()
    cfg.model.name, cfg.train.batch_size, cfg.train.precision = name, batch, "bfloat16"
    if name in GANS:
        cfg.task, cfg.model.discriminator, cfg.optimizer.name = "gan", GANS[name], "adam"
    else:
        cfg.model.num_classes = 10
    info = models.info(GANS.get(name, name))  # the images a classifier or a GAN's discriminator reads
    c = info.input_shape[-1]
    cfg.data.mean, cfg.data.std = tuple(info.mean or (0.5,) * c), tuple(info.std or (0.25,) * c)
    image = info.input_shape
    for k, v in train.items():
        cfg.train[k] = v
    return cfg, image


def export(fn, *args):
    exp = jax.export.export(jax.jit(fn), platforms=PLATFORMS)(*args)
    text = exp.mlir_module()
    calls = set(re.findall(r"stablehlo\.custom_call @([\w.]+)", text)) | set(
        re.findall(r'call_target_name = "([\w.]+)"', text))
    assert calls <= ALLOWED_CUSTOM_CALLS, f"custom calls leak into the {PLATFORMS} program: {calls}"
    assert not re.search(r"\bf64\b", text), "float64 in the accelerator program"
    products = re.findall(r"= stablehlo\.(convolution|dot_general)[^\n]*: \(tensor<[^>]*x(\w+)>, tensor<[^>]*x(\w+)>\)",
                          text)
    assert products, "no convolution or matrix product found"
    wrong = {(op, a, b) for op, a, b in products if (a, b) != ("bf16", "bf16")}
    assert not wrong, f"products not in bfloat16: {wrong}"
    assert tuple(exp.platforms) == PLATFORMS
    return exp


def lower_steps(name, **train):
    cfg, (h, w, c) = config(name, **train)
    n = cfg.train.batch_size
    tx = {k: optim.optimizer(cfg, 10) for k in ("g", "d")} if cfg.task == "gan" else optim.optimizer(cfg, 10)
    sched = optim.schedule(cfg, 10)
    box = {}

    def build():  # shapes only: no parameter is initialised; the graphdefs are static
        box["nets"], state = state_lib.create(cfg, tx)
        return state

    state = jax.eval_shape(build)
    nets = box["nets"]
    batch = {"image": jax.ShapeDtypeStruct((n, h, w, c), jnp.uint8), "label": jax.ShapeDtypeStruct((n,), jnp.int32),
             "index": jax.ShapeDtypeStruct((n,), jnp.int32), "mask": jax.ShapeDtypeStruct((n,), jnp.float32)}
    step = jax.ShapeDtypeStruct((), jnp.int32)
    if cfg.task == "gan":
        train_step = step_lib.make_gan_step(cfg, nets, tx, sched)
        return [export(train_step, state, batch, step)]
    train_step, eval_step = step_lib.make_classify_steps(cfg, nets["model"], tx, sched)
    return [export(train_step, state, batch, step), export(eval_step, state, batch)]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in CLASSIFIERS + list(GANS)])
def test_train_step_lowers_for_accelerators(name):
    exps = lower_steps(name)
    metrics = jax.tree.unflatten(exps[0].out_tree, exps[0].out_avals)[1]
    assert metrics["loss"].dtype == jnp.float32 and metrics["loss"].shape == ()


def test_accumulating_step_lowers_for_accelerators():
    lower_steps("resnet18", accum_steps=2)


def test_every_model_is_covered():
    # A model that is neither a classifier nor part of a GAN pair needs its own case here.
    for name in CLASSIFIERS:
        assert models.info(name).num_classes, f"{name}: no num_classes; add it to GANS or a new case"
