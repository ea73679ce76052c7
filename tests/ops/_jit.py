"""Run an op jitted: one XLA compile per configuration instead of one per primitive.

Eager dispatch compiles every primitive of an op separately; the test grids
are hundreds of configurations, so compiling each as one program keeps the
``tests/ops`` run fast on two cores.
"""

import functools

import jax


def jit_call(op, *arrays, **hyper):
    """``op(*arrays, **hyper)`` under ``jax.jit`` with the hyperparameters closed over (static)."""
    return jax.jit(functools.partial(op, **hyper))(*arrays)
