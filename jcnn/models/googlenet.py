"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going deeper with convolutions", Table 1).

Input (N, 224, 224, 3); the rows of Table 1 (``GoogLeNet.intermediates``)::

    conv1 7x7/2 112x112x64 -> pool1 3x3/2 56x56x64 -> conv2 (1x1 64, 3x3 192) 56x56x192
    -> pool2 28x28x192 -> 3a 28x28x256 -> 3b 28x28x480 -> pool3 14x14x480 -> 4a 512 -> 4b 512
    -> 4c 512 -> 4d 528 -> 4e 832 -> pool4 7x7x832 -> 5a 7x7x832 -> 5b 7x7x1024
    -> avg pool 7x7/1 1x1x1024 -> dropout (40%) -> linear 1x1x1000

As in the paper: 5x5 convolutions in the Inception modules (torchvision
uses 3x3 there), biases, ReLU, no BatchNorm (``norm=True`` adds it), LRN
after pool1 and after conv2 (``lrn=False`` drops it; its constants are the
Caffe reference model's: size 5, alpha 1e-4 / 5 since :func:`jcnn.ops.lrn`
does not divide by the size, beta 0.75, k 1). The 3x3/2 max pools round up
(``ceil_mode``) as in Caffe, which is what gives the paper's 56, 28, 14 and 7.

``aux_logits=True`` adds the two auxiliary classifiers on 4a and 4d
(section 5: 5x5/3 average pool, 1x1 conv 128, fc 1024, dropout 70%, linear);
in training mode the model then returns ``(logits, aux1, aux2)``, in
evaluation mode the logits only. The paper weights their losses by 0.3.
Initialisation: Glorot uniform ("xavier", as Caffe's reference model), zero biases.
"""

from __future__ import annotations

from flax import nnx

from jcnn import nn
from jcnn.models.registry import IMAGENET, register

#: Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) per Inception module.
INCEPTION_TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class AuxHead(nnx.Module):
    """An auxiliary classifier (section 5): avg pool 5x5/3 -> 1x1 conv 128 -> fc 1024 -> dropout 0.7 -> linear.

    Call: ``x`` (N, 14, 14, C) -> (N, 4, 4, C) after the pool -> logits (N, num_classes).
    """

    def __init__(self, in_channels, num_classes, *, norm=False, kernel_init="glorot_uniform", rngs: nnx.Rngs):
        self.pool = nn.AvgPool(5, stride=3)  # (N, 4, 4, C)
        self.conv = nn.ConvBNAct(in_channels, 128, kernel_size=1, norm=norm, kernel_init=kernel_init, rngs=rngs)
        self.flatten = nn.Flatten()  # (N, 2048)
        self.fc1 = nn.Dense(4 * 4 * 128, 1024, kernel_init=kernel_init, rngs=rngs)
        self.relu = nn.Activation("relu")
        self.dropout = nn.Dropout(0.7, rngs=rngs)
        self.fc2 = nn.Dense(1024, num_classes, kernel_init=kernel_init, rngs=rngs)

    def __call__(self, x):
        x = self.flatten(self.conv(self.pool(x)))
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nnx.Module):
    """GoogLeNet: ``conv1``, ``pool1``, ``conv2_reduce``, ``conv2``, ``pool2``, ``inception3a`` ... ``inception5b``,
    ``avgpool``, ``dropout``, ``fc`` (+ ``aux1``, ``aux2``).

    Call: ``x`` (N, 224, 224, C) -> logits (N, num_classes); with ``aux_logits``
    in training mode ``(logits, aux1, aux2)``. Inputs must be at least
    223x223 so that pool4 leaves the 7x7 map the 7x7 average pool needs.
    """

    def __init__(self, *, num_classes=1000, in_channels=3, lrn=True, norm=False, aux_logits=False, dropout=0.4,
                 kernel_init="glorot_uniform", rngs: nnx.Rngs):
        def conv(cin, cout, k, **kw):
            return nn.ConvBNAct(cin, cout, kernel_size=k, norm=norm, kernel_init=kernel_init, rngs=rngs, **kw)

        def lrn_layer():
            return nn.LRN(size=5, alpha=1e-4 / 5, beta=0.75, k=1.0) if lrn else None

        self.in_channels, self.aux_logits = in_channels, aux_logits
        self.conv1 = conv(in_channels, 64, 7, stride=2, padding=3)  # (N, 112, 112, 64)
        self.pool1 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 56, 56, 64)
        self.lrn1 = lrn_layer()
        self.conv2_reduce = conv(64, 64, 1)
        self.conv2 = conv(64, 192, 3)  # (N, 56, 56, 192)
        self.lrn2 = lrn_layer()
        self.pool2 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 28, 28, 192)
        cin = 192
        for key, (c1, c3r, c3, c5r, c5, pp) in INCEPTION_TABLE.items():
            block = nn.Inception(cin, ch1x1=c1, ch3x3red=c3r, ch3x3=c3, ch5x5red=c5r, ch5x5=c5, pool_proj=pp,
                                 norm=norm, kernel_init=kernel_init, rngs=rngs)
            setattr(self, f"inception{key}", block)
            cin = block.out_channels
        self.pool3 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 14, 14, 480)
        self.pool4 = nn.MaxPool(3, stride=2, ceil_mode=True)  # (N, 7, 7, 832)
        self.avgpool = nn.AvgPool(7, stride=1)  # (N, 1, 1, 1024)
        self.dropout = nn.Dropout(dropout, rngs=rngs)
        self.fc = nn.Dense(1024, num_classes, kernel_init=kernel_init, rngs=rngs)  # (N, 1, 1, num_classes)
        self.flatten = nn.Flatten()
        self.aux1 = AuxHead(512, num_classes, norm=norm, kernel_init=kernel_init, rngs=rngs) if aux_logits else None
        self.aux2 = AuxHead(528, num_classes, norm=norm, kernel_init=kernel_init, rngs=rngs) if aux_logits else None
        self.deterministic = False  # set by model.train() / model.eval(): aux outputs in training only

    def intermediates(self, x):
        """Every row of Table 1 in order: a dict ``{"conv1": (N, 112, 112, 64), ..., "fc": (N, 1, 1, classes)}``."""
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(f"googlenet: input must be (N, H, W, {self.in_channels}), got {tuple(x.shape)} "
                             f"at layer 'conv1'")
        out = {}
        out["conv1"] = x = self.conv1(x)
        x = self.pool1(x)
        out["pool1"] = x = x if self.lrn1 is None else self.lrn1(x)
        x = self.conv2(self.conv2_reduce(x))
        out["conv2"] = x = x if self.lrn2 is None else self.lrn2(x)
        out["pool2"] = x = self.pool2(x)
        for key in INCEPTION_TABLE:
            if key in ("4a", "5a"):
                pool = self.pool3 if key == "4a" else self.pool4
                out[f"pool{int(key[0]) - 1}"] = x = pool(x)  # pool3 (N, 14, 14, 480), pool4 (N, 7, 7, 832)
            out[f"inception{key}"] = x = getattr(self, f"inception{key}")(x)
        if x.shape[1] < 7 or x.shape[2] < 7:
            raise ValueError(f"googlenet: layer 'avgpool' (7x7/1) needs a 7x7 map, got inception5b output "
                             f"{tuple(x.shape)}; inputs must be at least 223x223 (224x224 in the paper)")
        out["avgpool"] = x = self.avgpool(x)
        out["dropout"] = x = self.dropout(x)
        out["fc"] = self.fc(x)
        return out

    def __call__(self, x):
        out = self.intermediates(x)
        logits = self.flatten(out["fc"])  # (N, num_classes) at 224x224
        if self.aux_logits and not self.deterministic:
            return logits, self.aux1(out["inception4a"]), self.aux2(out["inception4d"])
        return logits


@register(input_shape=(224, 224, 3), **IMAGENET, published_params=6_998_552,
          paper="Szegedy et al. 2014, Table 1",
          notes="5x5 branches, biases, no BN, LRN (Caffe constants); aux heads optional (aux_logits=True)")
def googlenet(*, num_classes=1000, in_channels=3, lrn=True, norm=False, aux_logits=False, dropout=0.4, rngs):
    """Inception v1: (N, 224, 224, 3) -> (N, num_classes); ``(logits, aux1, aux2)`` in training with aux heads."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, lrn=lrn, norm=norm, aux_logits=aux_logits,
                     dropout=dropout, rngs=rngs)
