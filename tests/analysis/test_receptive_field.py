"""Theoretical receptive field traced from any model (seed 002; VGG-16 and AlexNet by hand)."""

import pytest
from flax import nnx

from jcnn import models, nn
from jcnn.analysis import receptive_field, receptive_field_of_stack


def by_hand(layers):
    """(size, jump, start) after each (k, s, p, d): the textbook recurrences, centre of pixel i at i."""
    r, j, start, out = 1, 1, 0.0, []
    for k, s, p, d in layers:
        kd = d * (k - 1) + 1
        r, start, j = r + (kd - 1) * j, start + ((kd - 1) / 2 - p) * j, j * s
        out.append((r, j, start))
    return out


class Stack(nnx.Module):
    def __init__(self, layers, *, rngs):
        self.convs = nnx.List([nn.Conv(1, 1, kernel_size=k, stride=s, padding=p, dilation=d, rngs=rngs)
                               for k, s, p, d in layers])

    def __call__(self, x):
        for c in self.convs:
            x = c(x)
        return x


SEED_002 = [
    # two 3x3/s2/p1 convolutions: 3 then 7
    ([(3, 2, 1, 1)] * 2, [(3, 2, 0), (7, 4, 0)]),
    # two 3x3/s1: 3 then 5
    ([(3, 1, 0, 1)] * 2, [(3, 1, 1), (5, 1, 2)]),
    # dilation 2: 5 then 9
    ([(3, 1, 0, 2)] * 2, [(5, 1, 2), (9, 1, 4)]),
]


@pytest.mark.parametrize("layers,expected", SEED_002)
def test_seed_002_stacks(layers, expected):
    assert by_hand(layers) == expected
    assert receptive_field_of_stack(layers) == expected
    rf = receptive_field(Stack(layers, rngs=nnx.Rngs(0)), (32, 32, 1))
    assert [(v.size, v.jump, v.start) for v in rf.values()] == expected
    assert list(rf) == ["convs.0", "convs.1"]


class ConvPoolStack(nnx.Module):
    """A user model mixing convolutions and pooling: ("conv"|"max"|"avg", k, s, p, d) per layer."""

    def __init__(self, layers, *, channels=1, rngs):
        mods = []
        for kind, k, s, p, d in layers:
            if kind == "conv":
                mods.append(nn.Conv(channels, channels, kernel_size=k, stride=s, padding=p, dilation=d, rngs=rngs))
            elif kind == "max":
                mods.append(nn.MaxPool(k, stride=s, padding=p, dilation=d))
            else:
                mods.append(nn.AvgPool(k, stride=s, padding=p))
        self.layers = nnx.List(mods)

    def __call__(self, x):
        for m in self.layers:
            x = m(x)
        return x


SEED_002_POOL = [
    # seed 002's 3x3/s2/p1 pair with a 2x2/2 max pool between: 3, 3 + 1*2 = 5, 5 + 2*4 = 13;
    # starts 0, 0 + (1/2 - 0)*2 = 1, 1 + (1 - 1)*4 = 1
    ([("conv", 3, 2, 1, 1), ("max", 2, 2, 0, 1), ("conv", 3, 2, 1, 1)], [(3, 2, 0), (5, 4, 1), (13, 8, 1)]),
    # 3x3/s1 conv, 3x3/s2/p1 avg pool, dilated (d=2, k' = 5) 3x3 conv: 3, 3 + 2*1 = 5, 5 + 4*2 = 13;
    # starts 1, 1 + (1 - 1)*1 = 1, 1 + 2*2 = 5
    ([("conv", 3, 1, 0, 1), ("avg", 3, 2, 1, 1), ("conv", 3, 1, 0, 2)], [(3, 1, 1), (5, 2, 1), (13, 2, 5)]),
]


@pytest.mark.parametrize("layers,expected", SEED_002_POOL)
def test_seed_002_stacks_with_pooling(layers, expected):
    assert by_hand([l[1:] for l in layers]) == expected
    rf = receptive_field(ConvPoolStack(layers, rngs=nnx.Rngs(0)), (32, 32, 1))
    assert [(v.size, v.jump, v.start) for v in rf.values()] == expected


def test_lenet5_by_hand():
    # conv 5x5 valid, avg pool 2x2/2, conv 5x5 valid, avg pool 2x2/2 (32x32 input), then flatten + dense
    stack = [(5, 1, 0, 1), (2, 2, 0, 1), (5, 1, 0, 1), (2, 2, 0, 1)]
    assert by_hand(stack) == [(5, 1, 2), (6, 2, 2.5), (14, 2, 6.5), (16, 4, 7.5)]
    rf = receptive_field("lenet5")
    got = [(rf[n].size, rf[n].jump, rf[n].start) for n in ("conv1", "pool1", "conv2", "pool2")]
    assert got == by_hand(stack)
    assert (rf["act1"].size, rf["act1"].jump) == (5, 1)  # elementwise: unchanged
    assert (rf["fc1"].size, rf["fc1"].jump, rf["fc1"].start) == (32, None, None)  # dense after flatten: global
    # lenet5_modern pads conv1 by 2: the same sizes, every start 2 pixels earlier
    modern = receptive_field("lenet5_modern")
    assert [(modern[n].size, modern[n].start) for n in ("conv1", "pool2")] == [(5, 0), (16, 5.5)]


def vgg16_features(rngs):
    """VGG-16 (D) feature stack written as a user model from jcnn.nn layers (not the registered one)."""
    mods, c = [], 3
    for n, width in ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)):
        for _ in range(n):
            mods += [nn.Conv(c, width, kernel_size=3, padding=1, rngs=rngs), nn.Activation("relu")]
            c = width
        mods.append(nn.MaxPool(2, stride=2))
    return nnx.Sequential(*mods)


def test_user_vgg16_stack_pool5_is_212():
    stack = []
    for n in (2, 2, 3, 3, 3):
        stack += [(3, 1, 1, 1)] * n + [(2, 2, 0, 1)]
    model = nnx.eval_shape(vgg16_features, nnx.Rngs(0))
    rf = receptive_field(model, (224, 224, 3))
    pools = [v for name, v in rf.items() if isinstance(model.layers[int(name.split(".")[1])], nn.MaxPool)]
    expected = by_hand(stack)
    assert [(p.size, p.jump, p.start) for p in pools] == [expected[i] for i in (2, 5, 9, 13, 17)]
    assert (pools[-1].size, pools[-1].jump, pools[-1].start) == (212, 32, 15.5)


def test_vgg16_pool5_is_212():
    stack = []
    for n in (2, 2, 3, 3, 3):
        stack += [(3, 1, 1, 1)] * n + [(2, 2, 0, 1)]
    size, jump, start = by_hand(stack)[-1]
    assert (size, jump, start) == (212, 32, 15.5)
    rf = receptive_field(nnx.eval_shape(lambda: models.create("vgg16")), (224, 224, 3))
    assert rf["stage5.pool"] == type(rf["stage5.pool"])("stage5.pool", 212, 32, 15.5)
    assert rf["stage1.convs.0.conv"].size == 3
    assert rf["fc8"].size == 224 and rf["fc8"].jump is None  # global after flatten


def test_alexnet_pool5_is_195():
    stack = [(11, 4, 0, 1), (3, 2, 0, 1), (5, 1, 2, 1), (3, 2, 0, 1), (3, 1, 1, 1), (3, 1, 1, 1), (3, 1, 1, 1),
             (3, 2, 0, 1)]
    assert by_hand(stack)[-1] == (195, 32, 33)
    rf = receptive_field(nnx.eval_shape(lambda: models.create("alexnet")), (227, 227, 3))
    assert (rf["pool5"].size, rf["pool5"].jump, rf["pool5"].start) == (195, 32, 33)
    assert (rf["conv1"].size, rf["conv1"].jump) == (11, 4)


class TwoBranch(nnx.Module):
    """A residual-style sum of a 1x1 branch and a 5x5 branch: the wider one wins."""

    def __init__(self, *, rngs):
        self.a = nn.Conv(1, 1, kernel_size=1, rngs=rngs)
        self.b = nn.Conv(1, 1, kernel_size=5, padding=2, rngs=rngs)
        self.pool = nn.MaxPool(3, stride=2, padding=1)

    def __call__(self, x):
        return self.pool(self.a(x) + self.b(x))


def test_parallel_branches_take_the_max():
    rf = receptive_field(TwoBranch(rngs=nnx.Rngs(0)), (16, 16, 1))
    assert (rf["a"].size, rf["b"].size) == (1, 5)
    assert (rf["pool"].size, rf["pool"].jump, rf["pool"].start) == (7, 2, 0)


def test_transposed_conv_divides_the_jump():
    class Up(nnx.Module):
        def __init__(self, *, rngs):
            self.down = nn.Conv(1, 1, kernel_size=2, stride=2, rngs=rngs)
            self.up = nn.ConvTranspose(1, 1, kernel_size=2, stride=2, rngs=rngs)

        def __call__(self, x):
            return self.up(self.down(x))

    rf = receptive_field(Up(rngs=nnx.Rngs(0)), (8, 8, 1))
    assert (rf["down"].size, rf["down"].jump) == (2, 2)
    assert rf["up"].jump == 1


def test_stack_rejects_bad_layers():
    with pytest.raises(ValueError, match="layer 0"):
        receptive_field_of_stack([(3,)])
