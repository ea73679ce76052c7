"""``experiments/benchmarks/step_profile_cpu.py`` files each compiled XLA op under the right category."""

import pathlib

import jax
import jax.numpy as jnp

from jcnn import ops

BENCH = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "benchmarks"


def test_conv_batch_norm_and_pool_ops_are_filed_by_their_jcnn_op(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the script imports conv_cpu from beside it
    import step_profile_cpu as sp

    x, w = jnp.ones((4, 8, 8, 3)), jnp.ones((3, 3, 3, 5))
    scale, bias = jnp.ones(5), jnp.zeros(5)

    def loss(x, w, scale):
        y = ops.conv(x, w, padding=1, impl="xla")
        y = ops.batch_norm_train(y, scale, bias)[0]
        return jnp.sum(ops.max_pool(jax.nn.relu(y), 2, impl="xla") ** 2)

    f = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    hlo = f.lower(x, w, scale).compile().as_text()
    info = sp.instruction_stacks(hlo)
    cats = {}
    for name, (op_name, stack, shape, opcode) in info.items():
        cats.setdefault(sp.jax_category(op_name, stack, shape, {"f32[3,3,3,5]"}, opcode), set()).add(opcode)
    # XLA's forward, input-gradient and kernel-gradient convolutions, one each.
    assert "convolution" in cats["conv fwd"] and "convolution" in cats["conv dx"] and "convolution" in cats["conv dw"]
    assert "reduce" in cats["batch norm"]
    assert {"reduce-window", "select-and-scatter"} & cats["pooling"]
    members = sp.fusion_members(hlo)
    assert members and all(m in info for ms in members.values() for m in ms)
