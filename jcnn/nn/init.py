"""Named, selectable parameter initialisers (``kernel_init="he_normal"``).

Each name maps to a ``jax.nn.initializers`` function ``(key, shape, dtype)``.
Fans are computed for jcnn's kernel layout ``(*K, C_in // groups, C_out)``:
``fan_in = prod(K) * C_in // groups``, ``fan_out = prod(K) * C_out``.
"""

from __future__ import annotations

import difflib
import math

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit


def _vs(scale, mode, distribution):
    return jinit.variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1)


def lecun_1998(key, shape, dtype=jnp.float32):
    """LeCun et al. 1998 (appendix C): uniform in ``+-2.4 / fan_in``."""
    fan_in = math.prod(shape[:-1])
    bound = 2.4 / fan_in
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def torch_default(key, shape, dtype=jnp.float32):
    """PyTorch's default for conv/linear weights and biases: uniform in ``+-1 / sqrt(fan_in)``."""
    fan_in = math.prod(shape[:-1]) if len(shape) > 1 else shape[0]
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, dtype, -bound, bound)


INITIALIZERS = {
    "he_normal": _vs(2.0, "fan_in", "truncated_normal"),
    "he_normal_fan_out": _vs(2.0, "fan_out", "normal"),  # He et al. 2015 / torchvision ResNets
    "he_uniform": _vs(2.0, "fan_in", "uniform"),
    "glorot_normal": _vs(1.0, "fan_avg", "truncated_normal"),
    "glorot_uniform": _vs(1.0, "fan_avg", "uniform"),
    "lecun_normal": _vs(1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": _vs(1.0, "fan_in", "uniform"),
    "lecun_1998": lecun_1998,
    "torch_default": torch_default,
    "normal_0.01": jinit.normal(0.01),  # AlexNet, VGG (Simonyan & Zisserman) dense layers
    "normal_0.02": jinit.normal(0.02),  # DCGAN
    "zeros": jinit.zeros,
    "ones": jinit.ones,
}


def get(init):
    """A name from :data:`INITIALIZERS`, or a callable ``(key, shape, dtype)`` passed through."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    if isinstance(init, str) and init.startswith("constant_"):
        return jinit.constant(float(init.split("_", 1)[1]))
    close = difflib.get_close_matches(str(init), INITIALIZERS, n=3)
    raise ValueError(f"unknown initialiser {init!r}; close matches: {close}; known: {sorted(INITIALIZERS)}")
