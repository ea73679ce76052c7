"""ResNets (He, Zhang, Ren & Sun 2015): ImageNet ResNet-18 ... 152, the CIFAR family, and a dilated ResNet.

ImageNet (Table 1), input (N, 224, 224, 3)::

    224 -stem 7x7/2, 64-> 112 -maxpool 3x3/2 p1-> 56 -layer1-> 56 -layer2 /2-> 28 -layer3 /2-> 14 -layer4 /2-> 7
    -> global average pool (N, 512 * expansion) -> fc (N, num_classes)

Basic blocks (two 3x3) for 18/34, bottlenecks (1x1-3x3-1x1, expansion 4)
for 50/101/152; projection shortcuts (option B) wherever the shape changes.
The bottleneck strides on its 3x3 conv (torchvision's "ResNet v1.5");
``stride_on="1x1"`` is the paper's v1 (same parameters, ~0.5% less accurate).

CIFAR (section 4.2), input (N, 32, 32, 3): 3x3 conv 16, then three stages
of n basic blocks with 16/32/64 filters (32 -> 16 -> 8), global average
pool, fc 10; depth 6n + 2 (n = 3, 5, 7, 9, 18 for 20 ... 110). Shortcuts are
option A (identity, zero-padded channels, no parameters) as in the paper;
``shortcut="B"`` projects instead.

``dilated_resnet`` is a DRN-C-style network (Yu, Koltun & Funkhouser 2017)
at CIFAR size: ResNet-20 whose third stage trades its stride for dilation 2
(16x16 maps at the end instead of 8x8), then two non-residual degridding blocks.
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn
from jcnn.models.registry import IMAGENET, register

BLOCKS = {"basic": nn.BasicBlock, "bottleneck": nn.Bottleneck}
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class ResNet(nnx.Module):
    """A ResNet: ``stem`` (+ ``maxpool``), stages ``layer1`` ... ``layerK`` (lists of blocks), ``pool``, ``fc``.

    Args:
      block: ``"basic"`` or ``"bottleneck"``. layers: blocks per stage.
      widths: per stage, the 3x3 width; a stage outputs ``width * expansion`` channels.
      stem: ``"imagenet"`` (7x7/2 conv 64 + 3x3/2 max pool) or ``"cifar"`` (3x3 conv ``widths[0]``).
      shortcut: ``"B"`` projection or ``"A"`` zero padding, where the shape changes.
      stage_strides: stride of each stage's first block (default 1, then 2s).
      stage_dilations: dilation of each stage (default all 1); a dilated stage
        uses :class:`jcnn.nn.DilatedResidualBlock` (DRN's ``(d // 2, d)`` in its first block).
      degrid: append DRN-C's two non-residual blocks (dilation 2, then 1) as ``degrid``.
      zero_init_residual: each block's last BN starts at scale 0.
      stride_on: bottleneck stride on its ``"3x3"`` (v1.5) or first ``"1x1"`` (v1) conv.

    Call: ``x`` (N, H, W, in_channels) -> logits (N, num_classes).
    """

    def __init__(self, *, block, layers, widths, stem="imagenet", shortcut="B", stage_strides=None,
                 stage_dilations=None, degrid=False, num_classes=1000, in_channels=3, zero_init_residual=False,
                 stride_on="3x3", kernel_init="he_normal_fan_out", name="ResNet", rngs: nnx.Rngs):
        if block not in BLOCKS:
            raise ValueError(f"{name}: block={block!r} must be one of {sorted(BLOCKS)}")
        if len(widths) != len(layers):
            raise ValueError(f"{name}: widths={widths!r} and layers={layers!r} must have one entry per stage")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"{name}: stem={stem!r} must be 'imagenet' or 'cifar'")
        strides = tuple(stage_strides or (1,) + (2,) * (len(layers) - 1))
        dilations = tuple(stage_dilations or (1,) * len(layers))
        self.name, self.in_channels, self.num_stages = name, in_channels, len(layers)
        kw = dict(shortcut=shortcut, zero_init_residual=zero_init_residual, kernel_init=kernel_init, rngs=rngs)
        if block == "bottleneck":
            kw["stride_on"] = stride_on

        if stem == "imagenet":
            self.stem = nn.ConvBNAct(in_channels, 64, kernel_size=7, stride=2, padding=3, kernel_init=kernel_init,
                                     rngs=rngs)  # (N, H/2, W/2, 64)
            self.maxpool = nn.MaxPool(3, stride=2, padding=1)  # (N, H/4, W/4, 64)
            cin = 64
        else:
            self.stem = nn.ConvBNAct(in_channels, widths[0], kernel_size=3, kernel_init=kernel_init, rngs=rngs)
            self.maxpool = None
            cin = widths[0]

        cls = BLOCKS[block]
        prev_d = 1
        for i, (n, width, stride, d) in enumerate(zip(layers, widths, strides, dilations), start=1):
            cout = width * cls.expansion
            blocks = []
            for j in range(n):
                if d == 1:
                    blocks.append(cls(cin, cout, stride=stride if j == 0 else 1, **kw))
                elif block == "basic":
                    first = (max(d // 2, 1), d) if d != prev_d else d
                    blocks.append(nn.DilatedResidualBlock(cin, cout, stride=stride if j == 0 else 1,
                                                          dilation=first if j == 0 else d, **kw))
                else:
                    blocks.append(cls(cin, cout, stride=stride if j == 0 else 1, dilation=d, **kw))
                cin = cout
            setattr(self, f"layer{i}", nnx.List(blocks))  # stride s_i: (N, H_i, W_i, width * expansion)
            prev_d = d
        self.degrid = nnx.List([
            nn.DilatedResidualBlock(cin, cin, dilation=dd, residual=False, kernel_init=kernel_init, rngs=rngs)
            for dd in (2, 1)
        ]) if degrid else None
        self.pool = nn.GlobalAvgPool()  # (N, C)
        self.fc = nn.Dense(cin, num_classes, kernel_init="torch_default", rngs=rngs)
        self.out_channels = cin

    def stages(self):
        """The stage block lists in order: ``[layer1, ..., layerK]`` (+ ``degrid``)."""
        out = [getattr(self, f"layer{i}") for i in range(1, self.num_stages + 1)]
        return out + ([self.degrid] if self.degrid is not None else [])

    def features(self, x):
        """(N, H, W, in_channels) -> the last stage's map (N, H/s, W/s, out_channels) before pooling."""
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(f"{self.name}: input must be (N, H, W, {self.in_channels}), got {tuple(x.shape)} "
                             f"at layer 'stem'")
        x = self.stem(x)
        if self.maxpool is not None:
            x = self.maxpool(x)
        for stage in self.stages():
            for blk in stage:
                x = blk(x)
        return x

    def __call__(self, x):
        return self.fc(self.pool(self.features(x)))


def _imagenet(name, block, layers, published_params):
    @register(name, input_shape=(224, 224, 3), **IMAGENET, published_params=published_params,
              paper="He et al. 2015, Table 1",
              notes="projection shortcuts (B) on downsampling" + (
                  "; stride on the bottleneck's 3x3 conv (v1.5, torchvision)" if block == "bottleneck" else ""))
    def factory(*, num_classes=1000, in_channels=3, zero_init_residual=False, stride_on="3x3", rngs):
        return ResNet(block=block, layers=layers, widths=(64, 128, 256, 512), stem="imagenet", shortcut="B",
                      num_classes=num_classes, in_channels=in_channels, zero_init_residual=zero_init_residual,
                      stride_on=stride_on, name=name, rngs=rngs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"{name}: {block} blocks {layers}; (N, 224, 224, 3) -> (N, num_classes)."
    return factory


def _cifar(name, n, published_params):
    @register(name, input_shape=(32, 32, 3), num_classes=10, published_params=published_params,
              paper="He et al. 2015, section 4.2 (CIFAR-10)", mean=CIFAR_MEAN, std=CIFAR_STD,
              notes=f"6n+2 layers, n={n}; option-A (zero-padding) shortcuts; shortcut='B' for projections")
    def factory(*, num_classes=10, in_channels=3, shortcut="A", zero_init_residual=False, rngs):
        return ResNet(block="basic", layers=(n, n, n), widths=(16, 32, 64), stem="cifar", shortcut=shortcut,
                      num_classes=num_classes, in_channels=in_channels, zero_init_residual=zero_init_residual,
                      name=name, rngs=rngs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"{name}: 3 stages of {n} basic blocks (16/32/64); (N, 32, 32, 3) -> (N, num_classes)."
    return factory


# Parameter counts at the default classes; tests/models/test_resnet.py derives them from the paper's tables.
resnet18 = _imagenet("resnet18", "basic", (2, 2, 2, 2), 11_689_512)
resnet34 = _imagenet("resnet34", "basic", (3, 4, 6, 3), 21_797_672)
resnet50 = _imagenet("resnet50", "bottleneck", (3, 4, 6, 3), 25_557_032)
resnet101 = _imagenet("resnet101", "bottleneck", (3, 4, 23, 3), 44_549_160)
resnet152 = _imagenet("resnet152", "bottleneck", (3, 8, 36, 3), 60_192_808)
resnet20 = _cifar("resnet20", 3, 269_722)
resnet32 = _cifar("resnet32", 5, 464_154)
resnet44 = _cifar("resnet44", 7, 658_586)
resnet56 = _cifar("resnet56", 9, 853_018)
resnet110 = _cifar("resnet110", 18, 1_727_962)


@register(input_shape=(32, 32, 3), num_classes=10, paper="Yu, Koltun & Funkhouser 2017 (DRN-C), CIFAR-sized",
          mean=CIFAR_MEAN, std=CIFAR_STD,
          notes="resnet20 with stage 3 dilated (2) instead of strided, plus two degridding blocks; not in the paper")
def dilated_resnet(*, num_classes=10, in_channels=3, n=3, shortcut="B", rngs):
    """CIFAR DRN-C: stem 16, stages 16 / 32 (/2) / 64 (dilation 2), degrid; (N, 32, 32, 3) -> (N, num_classes)."""
    return ResNet(block="basic", layers=(n, n, n), widths=(16, 32, 64), stem="cifar", shortcut=shortcut,
                  stage_strides=(1, 2, 1), stage_dilations=(1, 1, 2), degrid=True, num_classes=num_classes,
                  in_channels=in_channels, name="dilated_resnet", rngs=rngs)
