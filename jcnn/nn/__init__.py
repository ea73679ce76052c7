"""Flax NNX modules that own parameters and call :mod:`jcnn.ops`; blocks built from them.

Modules add parameters, not maths. Train/eval mode with ``model.train()`` /
``model.eval()``; the functional view is :func:`apply`. Mixed precision: a
layer computes in its input's floating dtype unless built with ``dtype=``, so
bfloat16 input runs a model in bfloat16 on its float32 parameters (BatchNorm
keeps its statistics and normalisation in float32).
"""

from flax.nnx import Sequential

from jcnn.nn import init
from jcnn.nn.activations import Activation
from jcnn.nn.blocks import ConvBNAct, VGGStage
from jcnn.nn.conv import Conv, ConvTranspose
from jcnn.nn.dropout import Dropout
from jcnn.nn.functional import apply
from jcnn.nn.inception import Inception
from jcnn.nn.linear import Dense, Flatten
from jcnn.nn.mobile import DepthwiseSeparable, InvertedResidual, make_divisible
from jcnn.nn.norm import LRN, BatchNorm
from jcnn.nn.pool import AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool
from jcnn.nn.residual import BasicBlock, Bottleneck, DilatedResidualBlock, ShortcutA

__all__ = [
    "Activation", "AvgPool", "BatchNorm", "Conv", "ConvBNAct", "VGGStage", "ConvTranspose", "Dense", "Dropout", "Flatten",
    "GlobalAvgPool", "GlobalMaxPool", "LRN", "MaxPool", "Sequential", "apply", "init",
    "BasicBlock", "Bottleneck", "DepthwiseSeparable", "DilatedResidualBlock", "Inception", "InvertedResidual",
    "ShortcutA", "make_divisible",
]
