"""AlexNet (Krizhevsky, Sutskever & Hinton 2012): one tower (the two GPU halves merged), and the paper's two towers.

Input (N, 227, 227, 3) or (N, 224, 224, 3); both reach 6x6 at pool5::

    227 -conv1 11x11/4-> 55 -pool 3x3/2-> 27 -conv2 5x5 p2-> 27 -pool-> 13 -conv3,4,5 3x3 p1-> 13 -pool-> 6
    224 -conv1 11x11/4-> 54 -pool 3x3/2 (ceil)-> 27 -> ... the same from here

conv1 is unpadded, as in Caffe's reference model. The overlapping 3x3/2 pools round up
(``ceil_mode``, as Caffe's pooling does), which is what rescues 224: the 54x54
conv1 map pools to 27 (floor mode would give 26, and pool5 5x5). Padding
conv1 by 2 instead (torchvision's choice with floor pooling) would break
227: 56 -> 28 -> 14 -> 7 at pool5 with ceil mode.

Following the paper (section 3.5: ReLU on every convolutional and fully connected
layer): ReLU after fc6 and fc7; no ``log_softmax`` (the model returns logits). Dropout 0.5
drops the outputs of the two hidden fully connected layers (section 4.2:
"dropout in the first two fully-connected layers"), i.e. after relu6 and
relu7, as in Caffe's reference model (torchvision drops the
inputs of fc6 and fc7 instead; the parameter count is the same).
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn, ops
from jcnn.models.registry import IMAGENET, register


class TowerLRN(nnx.Module):
    """LRN within each of ``groups`` channel groups (the paper normalises on each GPU's own maps).

    Call: ``x`` (N, H, W, C) -> same shape; with ``groups=1`` it is :class:`jcnn.nn.LRN`.
    """

    def __init__(self, *, groups=1, size=5, alpha=1e-4, beta=0.75, k=2.0):
        self.groups, self.size, self.alpha, self.beta, self.k = groups, size, alpha, beta, k

    def __call__(self, x):
        g = self.groups
        y = x.reshape(*x.shape[:-1], g, x.shape[-1] // g)  # (N, H, W, g, C/g): neighbours stay inside a tower
        y = ops.lrn(y, size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)
        return y.reshape(x.shape)


class AlexNet(nnx.Module):
    """AlexNet: 5 convolutions (96-256-384-384-256) with LRN and overlapping pooling, 3 dense layers.

    ``groups=2`` is the paper's two-GPU network: conv2, conv4 and conv5 see only
    their own tower's maps (conv3 and the dense layers see both), and LRN
    normalises within a tower. LRN is the paper's (k=2, n=5, alpha=1e-4,
    beta=0.75; :func:`jcnn.ops.lrn` does not divide alpha by n).

    ``paper_init=True`` uses the paper's initialisation (weights N(0, 0.01);
    biases 1 in conv2, conv4, conv5, fc6, fc7, else 0); the default is He
    normal with zero biases, which trains without the paper's schedule.

    Call: ``x`` (N, 227, 227, C) or (N, 224, 224, C) -> logits (N, num_classes).
    """

    def __init__(self, *, num_classes=1000, in_channels=3, groups=1, dropout=0.5, paper_init=False,
                 rngs: nnx.Rngs):
        kinit = "normal_0.01" if paper_init else "he_normal"
        one = "ones" if paper_init else "zeros"

        def conv(cin, cout, k, *, stride=1, padding=0, groups=1, bias_init="zeros"):
            return nn.Conv(cin, cout, kernel_size=k, stride=stride, padding=padding, groups=groups,
                           kernel_init=kinit, bias_init=bias_init, rngs=rngs)

        self.conv1 = conv(in_channels, 96, 11, stride=4)  # (N, 55, 55, 96) from 227; 54 from 224
        self.relu1 = nn.Activation("relu")
        self.lrn1 = TowerLRN(groups=groups)
        self.pool1 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 27, 27, 96)
        self.conv2 = conv(96, 256, 5, padding=2, groups=groups, bias_init=one)
        self.relu2 = nn.Activation("relu")
        self.lrn2 = TowerLRN(groups=groups)
        self.pool2 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 13, 13, 256)
        self.conv3 = conv(256, 384, 3, padding=1)
        self.relu3 = nn.Activation("relu")
        self.conv4 = conv(384, 384, 3, padding=1, groups=groups, bias_init=one)
        self.relu4 = nn.Activation("relu")
        self.conv5 = conv(384, 256, 3, padding=1, groups=groups, bias_init=one)
        self.relu5 = nn.Activation("relu")
        self.pool5 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 6, 6, 256)
        self.flatten = nn.Flatten()  # (N, 9216)
        self.fc6 = nn.Dense(6 * 6 * 256, 4096, kernel_init=kinit, bias_init=one, rngs=rngs)
        self.relu6 = nn.Activation("relu")
        self.drop6 = nn.Dropout(dropout, rngs=rngs)
        self.fc7 = nn.Dense(4096, 4096, kernel_init=kinit, bias_init=one, rngs=rngs)
        self.relu7 = nn.Activation("relu")
        self.drop7 = nn.Dropout(dropout, rngs=rngs)
        self.fc8 = nn.Dense(4096, num_classes, kernel_init=kinit, rngs=rngs)

    def __call__(self, x):
        x = self.pool1(self.lrn1(self.relu1(self.conv1(x))))
        x = self.pool2(self.lrn2(self.relu2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = self.flatten(x)
        x = self.drop6(self.relu6(self.fc6(x)))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


_IMAGENET = dict(input_shape=(227, 227, 3), **IMAGENET)


@register(**_IMAGENET, paper="Krizhevsky et al. 2012", published_params=62_378_344,
          notes="one tower (the paper's two GPU towers merged, Section 3.2), with the paper's ReLU after fc6/fc7; 224 input also gives 6x6 at pool5")
def alexnet(*, num_classes=1000, in_channels=3, dropout=0.5, paper_init=False, rngs):
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout, paper_init=paper_init,
                   rngs=rngs)


@register(**_IMAGENET, paper="Krizhevsky et al. 2012, Figure 2", published_params=60_965_224,
          notes="the paper's two towers: conv2, conv4, conv5 with groups=2, LRN within each tower")
def alexnet_grouped(*, num_classes=1000, in_channels=3, dropout=0.5, paper_init=False, rngs):
    return AlexNet(num_classes=num_classes, in_channels=in_channels, groups=2, dropout=dropout,
                   paper_init=paper_init, rngs=rngs)
