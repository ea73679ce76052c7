"""``build(cfg, mesh)``: everything a run of ``cfg`` computes with, in one place.

The one module that branches on ``cfg.task`` to make the optimiser(s), the
networks and initial state (:mod:`jcnn.train.state`), the steps
(:mod:`jcnn.train.step`) and their jitted, sharded forms. :func:`jcnn.train.train`
and the benchmarks (``experiments/benchmarks/train_step.py``, ``scaling.py``)
call it, so what is timed is what is trained.

Data parallel (Goyal et al. 2017, section 3): a ``Mesh`` over the devices with
one axis ``"data"``; the batch is sharded on it, the state replicated.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jcnn.train import optim, state as state_lib, step as step_lib

BATCH_KEYS = ("image", "label", "index", "mask")


@dataclasses.dataclass
class Built:
    """What :func:`build` returns.

    Attributes:
      nets: ``{"model": Net}`` or a GAN's ``{"g", "d"}`` (:class:`jcnn.train.state.Net`).
      state: the initial state dict (:mod:`jcnn.train.state`), replicated over ``mesh``.
      tx: the optax transformation (a dict of two for a GAN). lr_schedule: step -> learning rate.
      train_step: ``(state, batch, step) -> (state, metrics)``, pure, not jitted.
      eval_step: ``(state, batch) -> sums`` or None (GAN).
      jit_train: ``train_step`` jitted (state donated; state and metrics replicated, batch sharded).
      jit_eval: ``eval_step`` jitted, or None.
      jit_loop_step: :func:`jcnn.train.step.with_interval` of ``train_step``, jitted, state and interval donated:
        what the training loop runs.
      loop_traces: how many times ``jit_loop_step`` has been traced (1 after a run: it compiled once).
      mesh, replicated, data: the mesh and its two shardings (``P()`` and ``P("data")``).
    """

    nets: dict
    state: dict
    tx: object
    lr_schedule: object
    train_step: object
    eval_step: object
    jit_train: object
    jit_eval: object
    jit_loop_step: object
    mesh: Mesh
    replicated: NamedSharding
    data: NamedSharding
    _traces: list = dataclasses.field(default_factory=lambda: [0], repr=False)
    _zeros: dict | None = dataclasses.field(default=None, repr=False)

    @property
    def loop_traces(self) -> int:
        return self._traces[0]

    def put_batch(self, batch: dict) -> dict:
        """This process's host batch (arrays of N / process_count rows) -> global arrays sharded on ``"data"``."""
        return global_batch(batch, self.data)

    def interval_zeros(self, state, batch) -> dict:
        """An empty metrics interval (:func:`jcnn.train.step.with_interval`) on the devices.

        ``state``, ``batch``: arrays or shape structs the step takes (only their shapes are used).
        """
        if self._zeros is None:  # the metrics' structure, traced once (shapes only, nothing runs)
            metrics = jax.eval_shape(self.train_step, state, batch, state["step"])[1]
            self._zeros = step_lib.interval_zeros(metrics)
        return jax.device_put(self._zeros, self.replicated)


def optimizers(cfg):
    """The optax transformation of ``cfg`` (a dict ``{"g", "d"}`` for a GAN)."""
    total = int(cfg.train.steps)
    if cfg.task == "gan":
        return {k: optim.optimizer(cfg, total) for k in ("g", "d")}
    return optim.optimizer(cfg, total)


def build(cfg, mesh: Mesh | None = None) -> Built:
    """Nets, replicated initial state and the (jitted) steps of ``cfg`` on ``mesh`` (default: all devices)."""
    mesh = mesh if mesh is not None else Mesh(np.asarray(jax.devices()), ("data",))
    repl, data_sh = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    total = int(cfg.train.steps)
    tx, lr_schedule = optimizers(cfg), optim.schedule(cfg, total)
    nets, state = state_lib.create(cfg, tx)
    state = replicate(state, repl)
    if cfg.task == "gan":
        train_step, eval_step = step_lib.make_gan_step(cfg, nets, tx, lr_schedule), None
    else:
        train_step, eval_step = step_lib.make_classify_steps(cfg, nets["model"], tx, lr_schedule)
    jit_train = jax.jit(train_step, in_shardings=(repl, data_sh, repl), out_shardings=(repl, repl),
                        donate_argnums=0)
    jit_eval = None if eval_step is None else jax.jit(eval_step, in_shardings=(repl, data_sh),
                                                      out_shardings=repl)
    traces = [0]
    loop_step = step_lib.with_interval(train_step)

    def counted_loop_step(*args):
        traces[0] += 1  # Python runs only while jax traces: one count per (re)compilation
        return loop_step(*args)

    jit_loop_step = jax.jit(counted_loop_step, in_shardings=(repl, repl, data_sh),
                            out_shardings=(repl, repl), donate_argnums=(0, 1))
    return Built(nets=nets, state=state, tx=tx, lr_schedule=lr_schedule, train_step=train_step,
                 eval_step=eval_step, jit_train=jit_train, jit_eval=jit_eval, jit_loop_step=jit_loop_step,
                 mesh=mesh, replicated=repl, data=data_sh, _traces=traces)


def replicate(tree, sharding):
    """Every leaf of ``tree`` (arrays, typed PRNG keys) as a global array with ``sharding`` (from host values)."""
    def put(x):
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(x))
            arr = jax.make_array_from_callback(data.shape, sharding, lambda idx: data[idx])
            return jax.random.wrap_key_data(arr, impl=jax.random.key_impl(x))
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])
    return jax.tree.map(put, tree)


def global_batch(batch, sharding, keys=BATCH_KEYS):
    """``batch``'s ``keys`` (this process's rows, any dtype: uint8 images stay uint8) as global arrays."""
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(batch[k])) for k in keys if k in batch}
