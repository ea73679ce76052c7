"""ZFNet (Zeiler & Fergus 2013/2014, "Visualizing and Understanding Convolutional Networks", Figure 3).

AlexNet with a 7x7 stride-2 first layer (instead of 11x11/4) and a stride-2
conv2, on one GPU (dense connections in conv3-5). Input (N, 224, 224, 3);
the sizes of Figure 3::

    224 -conv1 7x7/2 p1-> 110 -pool 3x3/2-> 55 -conv2 5x5/2-> 26 -pool-> 13
        -conv3,4,5 3x3 p1-> 13 -pool-> 6 -> fc6 4096 -> fc7 4096 -> fc8 num_classes

Each layer is conv -> ReLU -> [max pool 3x3/2] -> contrast normalisation
across feature maps (the figure's order: the normalisation follows the
pooling), here AlexNet's LRN (k=2, n=5, alpha=1e-4, beta=0.75), after
layers 1 and 2. Figure 3 needs conv1 padded by 1 (224 -> 110) and the pools
to round up (110 -> 55, 26 -> 13); the paper does not say how, we pad conv1
and use ``ceil_mode`` pooling. Dropout 0.5 on the outputs of fc6 and fc7
(section 3). Not modelled: the renormalisation of conv filters whose RMS
exceeds 0.1 (a training-time constraint).
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn
from jcnn.models.registry import IMAGENET, register


class ZFNet(nnx.Module):
    """ZFNet, Figure 3 of the paper: 96-256-384-384-256 convolutions, 4096-4096 dense layers.

    ``paper_init=True`` draws weights from N(0, 0.01) (biases 0) as the paper
    does; the default is He normal.

    Call: ``x`` (N, 224, 224, C) -> logits (N, num_classes).
    """

    def __init__(self, *, num_classes=1000, in_channels=3, dropout=0.5, paper_init=False, rngs: nnx.Rngs):
        kinit = "normal_0.01" if paper_init else "he_normal"

        def conv(cin, cout, k, *, stride=1, padding=0):
            return nn.Conv(cin, cout, kernel_size=k, stride=stride, padding=padding, kernel_init=kinit, rngs=rngs)

        self.conv1 = conv(in_channels, 96, 7, stride=2, padding=1)  # (N, 110, 110, 96)
        self.relu1 = nn.Activation("relu")
        self.pool1 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 55, 55, 96)
        self.lrn1 = nn.LRN()
        self.conv2 = conv(96, 256, 5, stride=2)  # (N, 26, 26, 256)
        self.relu2 = nn.Activation("relu")
        self.pool2 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 13, 13, 256)
        self.lrn2 = nn.LRN()
        self.conv3 = conv(256, 384, 3, padding=1)
        self.relu3 = nn.Activation("relu")
        self.conv4 = conv(384, 384, 3, padding=1)
        self.relu4 = nn.Activation("relu")
        self.conv5 = conv(384, 256, 3, padding=1)
        self.relu5 = nn.Activation("relu")
        self.pool5 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 6, 6, 256)
        self.flatten = nn.Flatten()  # (N, 9216)
        self.fc6 = nn.Dense(6 * 6 * 256, 4096, kernel_init=kinit, rngs=rngs)
        self.relu6 = nn.Activation("relu")
        self.drop6 = nn.Dropout(dropout, rngs=rngs)
        self.fc7 = nn.Dense(4096, 4096, kernel_init=kinit, rngs=rngs)
        self.relu7 = nn.Activation("relu")
        self.drop7 = nn.Dropout(dropout, rngs=rngs)
        self.fc8 = nn.Dense(4096, num_classes, kernel_init=kinit, rngs=rngs)

    def __call__(self, x):
        x = self.lrn1(self.pool1(self.relu1(self.conv1(x))))
        x = self.lrn2(self.pool2(self.relu2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = self.flatten(x)
        x = self.drop6(self.relu6(self.fc6(x)))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


@register(input_shape=(224, 224, 3), **IMAGENET, paper="Zeiler & Fergus 2014, Figure 3",
          published_params=62_357_608,
          notes="7x7/2 conv1 (padded by 1), 5x5/2 conv2, ceil-mode 3x3/2 pools, LRN after pool1 and pool2")
def zfnet(*, num_classes=1000, in_channels=3, dropout=0.5, paper_init=False, rngs):
    return ZFNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout, paper_init=paper_init, rngs=rngs)
