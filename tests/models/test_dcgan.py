"""DCGAN: shapes, output ranges, BatchNorm placement, parameter counts by hand, N(0, 0.02) init, seeding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn.nn import apply


def _count(state):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(state))


def _param_count(model):
    return _count(nnx.state(model, nnx.Param))


# Every transposed conv / conv is 4x4; layers followed by BN have no bias; BN has scale + bias.
G28 = (100 * 7 * 7 * 128 + 2 * 128) + (4 * 4 * 128 * 64 + 2 * 64) + (4 * 4 * 64 * 1 + 1)
D28 = (4 * 4 * 1 * 64 + 64) + (4 * 4 * 64 * 128 + 2 * 128) + (7 * 7 * 128 + 1)
G64 = (100 * 4 * 4 * 1024 + 2 * 1024) + sum(4 * 4 * a * b + 2 * b for a, b in [(1024, 512), (512, 256), (256, 128)]) \
    + (4 * 4 * 128 * 3 + 3)
D64 = (4 * 4 * 3 * 64 + 64) + sum(4 * 4 * a * b + 2 * b for a, b in [(64, 128), (128, 256), (256, 512)]) \
    + (4 * 4 * 512 + 1)


@pytest.mark.parametrize("name,count", [("dcgan_generator", G28), ("dcgan_discriminator", D28),
                                        ("dcgan_generator_64", G64), ("dcgan_discriminator_64", D64)])
def test_parameter_counts(name, count):
    assert _param_count(nnx.eval_shape(lambda: models.create(name))) == count
    assert models.info(name).num_classes is None


@pytest.mark.parametrize("g,d,image", [("dcgan_generator", "dcgan_discriminator", (28, 28, 1)),
                                       ("dcgan_generator_64", "dcgan_discriminator_64", (64, 64, 3))])
def test_shapes_64x64_abstractly(g, d, image):
    for name, shape, out in [(g, (3, 100), (3, *image)), (g, (3, 1, 1, 100), (3, *image)), (d, (3, *image), (3,))]:
        model = nnx.eval_shape(lambda: models.create(name))
        graphdef, state = nnx.split(model)
        y = jax.eval_shape(lambda s, x: apply(graphdef, s, x)[0], state, jax.ShapeDtypeStruct(shape, jnp.float32))
        assert y.shape == out


def test_mnist_generator_and_discriminator_forward():
    gen, disc = models.create("dcgan_generator", seed=0), models.create("dcgan_discriminator", seed=0)
    g_def, g_state = nnx.split(gen)
    d_def, d_state = nnx.split(disc)

    @jax.jit
    def step(g_state, d_state, z):
        (fake, g_new) = apply(g_def, g_state, z, train=True)
        logits, d_new = apply(d_def, d_state, fake, train=True)
        return fake, logits, g_new, d_new

    z = jax.random.normal(jax.random.key(0), (8, 100))
    fake, logits, g_new, _ = step(g_state, d_state, z)
    assert fake.shape == (8, 28, 28, 1) and logits.shape == (8,)
    assert float(fake.min()) >= -1.0 and float(fake.max()) <= 1.0 and float(fake.std()) > 0.0
    assert bool(jnp.all(jnp.isfinite(logits)))
    # Train mode moved G's running statistics; a 4-D latent gives the same images.
    assert not np.allclose(np.asarray(g_new["bn0"]["mean"][...]), 0.0)
    fake4, _ = apply(g_def, g_state, z.reshape(8, 1, 1, 100), train=True)
    np.testing.assert_allclose(np.asarray(fake4), np.asarray(fake), rtol=1e-5, atol=1e-6)


def test_batchnorm_placement_follows_the_paper():
    gen = nnx.eval_shape(lambda: models.create("dcgan_generator_64"))
    disc = nnx.eval_shape(lambda: models.create("dcgan_discriminator_64"))
    # G: BN after the projection and every hidden layer, none at the tanh output (which keeps its bias).
    assert [gen.bn0.num_features, gen.bn1.num_features, gen.bn2.num_features, gen.bn3.num_features] == \
        [1024, 512, 256, 128]
    assert gen.out.bias is not None and gen.project.bias is None and gen.tanh.name == "tanh"
    # D: no BN on the input layer, BN after every other conv; LeakyReLU throughout.
    assert disc.bn1 is None and [disc.bn2.num_features, disc.bn3.num_features, disc.bn4.num_features] == \
        [128, 256, 512]
    assert all(getattr(disc, f"lrelu{i}").name == "leaky_relu" for i in range(1, 5))
    assert _count(nnx.state(disc, nnx.BatchStat)) == 2 * (128 + 256 + 512)


def test_init_is_normal_0_02_and_a_function_of_seed():
    a = models.create("dcgan_generator", seed=1)
    assert abs(float(jnp.std(a.project.kernel[...])) - 0.02) < 5e-4
    assert abs(float(jnp.mean(a.project.kernel[...]))) < 5e-4
    b, c = models.create("dcgan_generator", seed=1), models.create("dcgan_generator", seed=2)
    jax.tree.map(np.testing.assert_array_equal, nnx.state(a, nnx.Param), nnx.state(b, nnx.Param))
    assert not np.array_equal(np.asarray(a.project.kernel[...]), np.asarray(c.project.kernel[...]))


def test_generator_rejects_a_wrong_latent():
    gen = models.create("dcgan_generator")
    with pytest.raises(ValueError, match=r"z must be \(N, 100\).*\(2, 64\)"):
        gen(jnp.zeros((2, 64)))
