"""VGG (Simonyan & Zisserman 2015), configurations A, A-LRN, B, C, D and E of Table 1, with BatchNorm variants.

Five stages of 3x3 convolutions (stride 1, padding 1) each closed by 2x2/2
max pooling, widths 64-128-256-512-512; then fc6 4096 -> fc7 4096 -> fc8.
Input (N, 224, 224, 3) -> (N, 7, 7, 512) after stage 5 -> logits (N, num_classes).

Configuration C replaces the last convolution of stages 3-5 by a 1x1
convolution (Table 1's "conv1-256" and "conv1-512"); A-LRN adds AlexNet's LRN after the first
convolution. The ``_bn`` variants put BatchNorm after every convolution,
before the ReLU (not in the paper; the convolution then has no bias).

``input_size`` (default 224) sizes fc6 for other inputs: a 32x32 image ends
stage 5 at 1x1x512, so fc6 is 512 -> 4096. At 224 this is the paper's
network. The paper regularises "the
first two fully-connected layers" with dropout 0.5 (section 3.1), which we
follow, dropping the outputs of relu6 and relu7.
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn, ops
from jcnn.models.registry import IMAGENET, register

#: Table 1, per stage: (width, kernel size of each convolution).
CONFIGS = {
    "A": ((64, (3,)), (128, (3,)), (256, (3, 3)), (512, (3, 3)), (512, (3, 3))),
    "B": ((64, (3, 3)), (128, (3, 3)), (256, (3, 3)), (512, (3, 3)), (512, (3, 3))),
    "C": ((64, (3, 3)), (128, (3, 3)), (256, (3, 3, 1)), (512, (3, 3, 1)), (512, (3, 3, 1))),
    "D": ((64, (3, 3)), (128, (3, 3)), (256, (3, 3, 3)), (512, (3, 3, 3)), (512, (3, 3, 3))),
    "E": ((64, (3, 3)), (128, (3, 3)), (256, (3, 3, 3, 3)), (512, (3, 3, 3, 3)), (512, (3, 3, 3, 3))),
}


class VGG(nnx.Module):
    """A VGG network: ``stage1`` ... ``stage5`` (:class:`jcnn.nn.VGGStage`), then fc6, fc7, fc8.

    Args:
      config: a key of :data:`CONFIGS` ("A" ... "E").
      batch_norm: BatchNorm after each convolution. lrn: LRN after the first convolution (A-LRN).
      input_size: H (= W) or (H, W) of the input; fc6 takes (H/32)*(W/32)*512 features.

    Call: ``x`` (N, H, W, C) -> logits (N, num_classes); (N, 224, 224, 3) as in the paper.
    """

    def __init__(self, *, config, num_classes=1000, in_channels=3, batch_norm=False, lrn=False, input_size=224,
                 dropout=0.5, kernel_init="he_normal", rngs: nnx.Rngs):
        if config not in CONFIGS:
            raise ValueError(f"VGG: config={config!r} must be one of {sorted(CONFIGS)}")
        h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        cin = in_channels
        for i, (width, kernels) in enumerate(CONFIGS[config], start=1):
            # A-LRN's first stage stops before its pool: conv -> ReLU -> LRN -> pool.
            split = lrn and i == 1
            setattr(self, f"stage{i}", nn.VGGStage(cin, width, num_convs=len(kernels), kernel_sizes=kernels,
                                                   batch_norm=batch_norm, pool=not split, kernel_init=kernel_init,
                                                   rngs=rngs))
            h, w = (ops.conv_output_size(n, 2, stride=2) for n in (h, w))  # (N, H/2^i, W/2^i, width)
            cin = width
        self.lrn = nn.LRN() if lrn else None
        self.pool1 = nn.MaxPool(2) if lrn else None
        self.flatten = nn.Flatten()  # (N, (H/32)*(W/32)*512)
        self.fc6 = nn.Dense(h * w * cin, 4096, kernel_init=kernel_init, rngs=rngs)
        self.relu6 = nn.Activation("relu")
        self.drop6 = nn.Dropout(dropout, rngs=rngs)
        self.fc7 = nn.Dense(4096, 4096, kernel_init=kernel_init, rngs=rngs)
        self.relu7 = nn.Activation("relu")
        self.drop7 = nn.Dropout(dropout, rngs=rngs)
        self.fc8 = nn.Dense(4096, num_classes, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, x):
        x = self.stage1(x)
        if self.lrn is not None:
            x = self.pool1(self.lrn(x))
        x = self.stage5(self.stage4(self.stage3(self.stage2(x))))  # (N, H/32, W/32, 512)
        x = self.flatten(x)
        x = self.drop6(self.relu6(self.fc6(x)))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


def _vgg(name, config, *, depth, lrn=False, batch_norm=False, published_params):
    """Register one configuration under ``name``."""
    table = "Table 1 configuration " + config + ("-LRN" if lrn else "")
    notes = f"{depth} weight layers" + (", BatchNorm after each conv (not in the paper)" if batch_norm else "")

    @register(name, input_shape=(224, 224, 3), **IMAGENET, published_params=published_params,
              paper=f"Simonyan & Zisserman 2015, {table}", notes=notes)
    def factory(*, num_classes=1000, in_channels=3, input_size=224, dropout=0.5, kernel_init="he_normal", rngs):
        return VGG(config=config, num_classes=num_classes, in_channels=in_channels, batch_norm=batch_norm, lrn=lrn,
                   input_size=input_size, dropout=dropout, kernel_init=kernel_init, rngs=rngs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"VGG {table} ({depth} layers): (N, 224, 224, 3) -> (N, num_classes)."
    return factory


# Parameter counts at 1000 classes (tests/models/test_vgg.py derives them from Table 1);
# with BatchNorm each convolution trades its bias for a scale and a bias (+C per conv).
vgg11 = _vgg("vgg11", "A", depth=11, published_params=132_863_336)
vgg11_lrn = _vgg("vgg11_lrn", "A", depth=11, lrn=True, published_params=132_863_336)
vgg13 = _vgg("vgg13", "B", depth=13, published_params=133_047_848)
vgg16_c = _vgg("vgg16_c", "C", depth=16, published_params=133_638_952)
vgg16 = _vgg("vgg16", "D", depth=16, published_params=138_357_544)
vgg19 = _vgg("vgg19", "E", depth=19, published_params=143_667_240)
vgg11_bn = _vgg("vgg11_bn", "A", depth=11, batch_norm=True, published_params=132_866_088)
vgg13_bn = _vgg("vgg13_bn", "B", depth=13, batch_norm=True, published_params=133_050_792)
vgg16_c_bn = _vgg("vgg16_c_bn", "C", depth=16, batch_norm=True, published_params=133_643_176)
vgg16_bn = _vgg("vgg16_bn", "D", depth=16, batch_norm=True, published_params=138_361_768)
vgg19_bn = _vgg("vgg19_bn", "E", depth=19, batch_norm=True, published_params=143_672_744)
