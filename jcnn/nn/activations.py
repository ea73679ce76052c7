"""Activation functions by name, and a module wrapper so they can sit in a ``Sequential``."""

from __future__ import annotations

import difflib

import jax
import jax.numpy as jnp
from flax import nnx


def lecun_tanh(x):
    """LeCun et al. 1998's squashing function ``1.7159 * tanh(2x / 3)``."""
    return 1.7159 * jnp.tanh(x * (2.0 / 3.0))


ACTIVATIONS = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.2),  # DCGAN's slope
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "lecun_tanh": lecun_tanh,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "identity": lambda x: x,
}


def get(act):
    """A name from :data:`ACTIVATIONS` (or None for identity), or a callable passed through."""
    if act is None:
        return ACTIVATIONS["identity"]
    if callable(act):
        return act
    if act in ACTIVATIONS:
        return ACTIVATIONS[act]
    close = difflib.get_close_matches(str(act), ACTIVATIONS, n=3)
    raise ValueError(f"unknown activation {act!r}; close matches: {close}; known: {sorted(ACTIVATIONS)}")


class Activation(nnx.Module):
    """An elementwise activation by name: (...) -> (...)."""

    def __init__(self, name="relu"):
        get(name)  # fail at construction on a bad name
        self.name = name

    def __call__(self, x):
        return get(self.name)(x)
