"""ResNets: parameter counts from He et al.'s tables, shapes at 224 (abstractly), CIFAR forward, shortcuts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jcnn.models as models
from jcnn import nn


def _count(model):
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _abstract(name, **kw):
    return nnx.eval_shape(lambda: models.create(name, **kw))


def _shape(model, fn, shape):
    graphdef, state = nnx.split(model)
    return jax.eval_shape(lambda s, x: fn(nnx.merge(graphdef, s), x), state, jax.ShapeDtypeStruct(shape, jnp.float32))


# Counting terms: a bias-free k x k conv, and a BatchNorm's scale + bias (running stats are not parameters).
def conv(k, cin, cout):
    return k * k * cin * cout


def bn(c):
    return 2 * c


def basic_block(cin, cout, *, project):
    """Two 3x3 conv-BN; option B adds a 1x1 projection conv-BN when the shape changes."""
    return conv(3, cin, cout) + bn(cout) + conv(3, cout, cout) + bn(cout) + (conv(1, cin, cout) + bn(cout)) * project


def bottleneck(cin, width):
    """1x1 (cin -> width), 3x3 (width), 1x1 (width -> 4 width), each with BN; projection when cin != 4 width."""
    cout = 4 * width
    body = conv(1, cin, width) + bn(width) + conv(3, width, width) + bn(width) + conv(1, width, cout) + bn(cout)
    return body + (conv(1, cin, cout) + bn(cout)) * (cin != cout)


def imagenet_resnet(block, layers, num_classes=1000):
    """He et al. 2015, Table 1: conv1 7x7 64 + BN, stages 64-128-256-512 (x4 for bottlenecks), fc."""
    total, cin = conv(7, 3, 64) + bn(64), 64
    for n, width in zip(layers, (64, 128, 256, 512)):
        for j in range(n):
            if block == "basic":
                total += basic_block(cin, width, project=(cin != width))
                cin = width
            else:
                total += bottleneck(cin, width)
                cin = 4 * width
    return total + cin * num_classes + num_classes


def cifar_resnet(n, shortcut="A", num_classes=10):
    """He et al. 2015, section 4.2: 3x3 conv 16 + BN, 3 x n basic blocks (16, 32, 64), fc 10."""
    total, cin = conv(3, 3, 16) + bn(16), 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += basic_block(cin, width, project=(shortcut == "B" and cin != width))
            cin = width
    return total + 64 * num_classes + num_classes


IMAGENET = {"resnet18": ("basic", (2, 2, 2, 2)), "resnet34": ("basic", (3, 4, 6, 3)),
            "resnet50": ("bottleneck", (3, 4, 6, 3)), "resnet101": ("bottleneck", (3, 4, 23, 3)),
            "resnet152": ("bottleneck", (3, 8, 36, 3))}
CIFAR = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}


def test_known_counts():
    # torchvision's counts, and the paper's CIFAR ResNet-20 (0.27M, Table 6).
    assert imagenet_resnet(*IMAGENET["resnet18"]) == 11_689_512
    assert imagenet_resnet(*IMAGENET["resnet50"]) == 25_557_032
    assert imagenet_resnet(*IMAGENET["resnet34"]) == 21_797_672
    assert imagenet_resnet(*IMAGENET["resnet101"]) == 44_549_160
    assert imagenet_resnet(*IMAGENET["resnet152"]) == 60_192_808
    assert cifar_resnet(3) == 269_722
    # Table 6 (CIFAR-10) in millions: 0.27, 0.46, 0.66, 0.85, 1.7.
    paper = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7}
    for name, n in CIFAR.items():
        assert round(cifar_resnet(n) / 1e6, 2 if n < 18 else 1) == paper[name]


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_resnet_counts_follow_table_1(name):
    model = _abstract(name)
    assert _count(model) == imagenet_resnet(*IMAGENET[name]) == models.info(name).published_params


@pytest.mark.parametrize("name", sorted(CIFAR))
def test_cifar_resnet_counts_follow_section_4_2(name):
    assert _count(_abstract(name)) == cifar_resnet(CIFAR[name]) == models.info(name).published_params


def test_cifar_option_b_adds_the_two_projections():
    projections = (16 * 32 + 64) + (32 * 64 + 128)  # 1x1 conv + BN at the 16 -> 32 and 32 -> 64 stages
    assert _count(_abstract("resnet20", shortcut="B")) == cifar_resnet(3, "B") == 269_722 + projections


@pytest.mark.parametrize("name,channels", [("resnet18", (64, 128, 256, 512)), ("resnet50", (256, 512, 1024, 2048))])
def test_imagenet_stage_shapes_at_224(name, channels):
    model = _abstract(name)

    def stages(m, x):
        outs = [m.maxpool(m.stem(x))]  # (N, 56, 56, 64)
        for stage in m.stages():
            h = outs[-1]
            for blk in stage:
                h = blk(h)
            outs.append(h)
        return outs

    outs = _shape(model, stages, (2, 224, 224, 3))
    assert [o.shape for o in outs] == [(2, 56, 56, 64)] + [(2, s, s, c) for s, c in zip((56, 28, 14, 7), channels)]
    assert _shape(model, lambda m, x: m(x), (2, 224, 224, 3)).shape == (2, 1000)


def test_resnet50_is_v1_5_by_default_and_v1_on_request():
    v15 = _abstract("resnet50")
    v1 = _abstract("resnet50", stride_on="1x1")
    assert v15.layer2[0].conv2.conv.stride == 2 and v15.layer2[0].conv1.conv.stride == 1
    assert v1.layer2[0].conv1.conv.stride == 2 and v1.layer2[0].conv2.conv.stride == 1
    assert _count(v1) == _count(v15)
    assert isinstance(v15.layer1[0].shortcut, nn.ConvBNAct)  # 64 -> 256: projection (option B)


def test_cifar_resnet20_forward_jit_and_batch_norm_modes():
    model = models.create("resnet20")
    graphdef, state = nnx.split(model)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 32, 32, 3)), jnp.float32)
    step = jax.jit(lambda s, x, train: nn.apply(graphdef, s, x, train=train), static_argnums=2)
    y, new_state = step(state, x, False)
    assert y.shape == (2, 10) and bool(jnp.all(jnp.isfinite(y)))
    jax.tree.map(np.testing.assert_array_equal, nnx.state(new_state, nnx.BatchStat), nnx.state(state, nnx.BatchStat))
    y_train, trained = step(state, x, True)
    assert y_train.shape == (2, 10)
    mean0 = np.asarray(state["stem"]["bn"]["mean"][...])
    assert not np.allclose(np.asarray(trained["stem"]["bn"]["mean"][...]), mean0)


def test_cifar_option_a_with_zero_init_residual_is_the_shortcut_chain():
    model = models.create("resnet20", zero_init_residual=True)
    model.eval()
    blocks = [b for stage in model.stages() for b in stage]
    assert all(float(jnp.abs(b.conv2.bn.scale[...]).max()) == 0.0 for b in blocks)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 32, 32, 3)), jnp.float32)
    h = np.asarray(model.stem(x))  # post-ReLU, so each block is relu(shortcut(h)) = shortcut(h)
    h = h[:, ::2, ::2, :]
    h = np.concatenate([h, np.zeros_like(h)], -1)  # stage 2: (2, 16, 16, 32)
    h = h[:, ::2, ::2, :]
    h = np.concatenate([h, np.zeros_like(h)], -1)  # stage 3: (2, 8, 8, 64)
    np.testing.assert_array_equal(np.asarray(model.features(x)), h)


def test_dilated_resnet_keeps_16x16_maps():
    model = _abstract("dilated_resnet")
    assert _shape(model, lambda m, x: m.features(x), (2, 32, 32, 3)).shape == (2, 16, 16, 64)
    assert _shape(model, lambda m, x: m(x), (2, 32, 32, 3)).shape == (2, 10)
    first = model.layer3[0]
    assert isinstance(first, nn.DilatedResidualBlock)
    assert (first.conv1.conv.dilation, first.conv2.conv.dilation, model.layer3[1].conv1.conv.dilation) == (1, 2, 2)
    assert [b.residual for b in model.degrid] == [False, False]


def test_wrong_input_names_the_model():
    model = _abstract("resnet18")
    with pytest.raises(ValueError, match=r"resnet18: input must be \(N, H, W, 3\).*stem"):
        _shape(model, lambda m, x: m(x), (2, 64, 64, 1))
    with pytest.raises(ValueError, match="shortcut"):
        models.create("resnet20", shortcut="C")
