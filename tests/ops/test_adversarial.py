"""jcnn.ops.adversarial (re-exported by jcnn.analysis): FGSM's exact step, PGD's ball, mixing into a batch, under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jcnn import nn
from jcnn.analysis import adversarial_batch, fgsm, pgd


@pytest.fixture(scope="module")
def toy():
    r = nnx.Rngs(0)
    model = nnx.Sequential(nn.Conv(1, 4, kernel_size=3, rngs=r), nn.Activation("tanh"), nn.Flatten(),
                           nn.Dense(4 * 6 * 6, 3, rngs=r))
    graphdef, state = nnx.split(model)

    def loss_fn(x, y):
        logits = nnx.merge(graphdef, state)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    x = jax.random.uniform(jax.random.key(0), (4, 8, 8, 1))
    y = jnp.array([0, 1, 2, 0])
    return loss_fn, x, y


def test_fgsm_moves_by_exactly_eps_sign_grad(toy):
    loss_fn, x, y = toy
    eps = 0.03
    adv = fgsm(loss_fn, x, y, eps=eps, clip=None)
    g = jax.grad(loss_fn)(x, y)
    assert (g != 0).all()
    np.testing.assert_array_equal(adv, x + eps * jnp.sign(g))  # bit for bit
    np.testing.assert_allclose(jnp.abs(adv - x), eps, rtol=1e-5)  # every pixel moved by eps (float32 rounding)
    assert loss_fn(adv, y) > loss_fn(x, y)
    clipped = fgsm(loss_fn, x, y, eps=0.5)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_pgd_stays_in_ball_and_beats_fgsm(toy):
    loss_fn, x, y = toy
    eps = 0.03
    adv = pgd(loss_fn, x, y, eps=eps, steps=10, step_size=0.01, seed=0)
    assert float(jnp.abs(adv - x).max()) <= eps + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1
    assert loss_fn(adv, y) >= loss_fn(fgsm(loss_fn, x, y, eps=eps), y)
    again = pgd(loss_fn, x, y, eps=eps, steps=10, step_size=0.01, seed=0)
    np.testing.assert_array_equal(adv, again)


def test_adversarial_batch_jit(toy):
    loss_fn, x, y = toy
    f = jax.jit(lambda x, y, k: adversarial_batch(loss_fn, x, y, fraction=0.5, eps=0.1, key=k, return_mask=True))
    x_new, mask = f(x, y, jax.random.key(3))
    assert int(mask.sum()) == 2
    np.testing.assert_array_equal(x_new[~mask], x[~mask])
    assert not np.allclose(x_new[mask], x[mask])
    first = adversarial_batch(loss_fn, x, y, fraction=0.25, method="pgd", eps=0.1, steps=3)
    np.testing.assert_array_equal(first[1:], x[1:])
    assert float(jnp.abs(first[0] - x[0]).max()) <= 0.1 + 1e-6
    np.testing.assert_array_equal(adversarial_batch(loss_fn, x, y, fraction=0.0, eps=0.1), x)
    with pytest.raises(ValueError, match="fraction"):
        adversarial_batch(loss_fn, x, y, fraction=1.5, eps=0.1)
    with pytest.raises(ValueError, match="method"):
        adversarial_batch(loss_fn, x, y, fraction=0.5, eps=0.1, method="cw")
    with pytest.raises(ValueError, match="eps"):
        fgsm(loss_fn, x, y, eps=-1.0)
