"""Pooling layers: hold the window hyperparameters, call :mod:`jcnn.ops.pool`."""

from __future__ import annotations

from flax import nnx

from jcnn import ops


class MaxPool(nnx.Module):
    """Max pooling. Call: ``x`` (N, *spatial, C) -> (N, *out, C), see :func:`jcnn.ops.max_pool`.

    An int ``window`` (with int ``stride``/``padding``/``dilation``) is 2-D; give
    ``window=(k,)`` or ``(k, k, k)`` for 1-D or 3-D inputs.
    """

    def __init__(self, window, *, stride=None, padding=0, dilation=1, ceil_mode=False):
        self.window, self.stride, self.padding, self.dilation, self.ceil_mode = window, stride, padding, dilation, ceil_mode

    def __call__(self, x):
        return ops.max_pool(x, self.window, stride=self.stride, padding=self.padding, dilation=self.dilation,
                            ceil_mode=self.ceil_mode)


class AvgPool(nnx.Module):
    """Average pooling. Call: ``x`` (N, *spatial, C) -> (N, *out, C), see :func:`jcnn.ops.avg_pool`."""

    def __init__(self, window, *, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        self.window, self.stride, self.padding = window, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def __call__(self, x):
        return ops.avg_pool(x, self.window, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode,
                            count_include_pad=self.count_include_pad)


class GlobalAvgPool(nnx.Module):
    """(N, *spatial, C) -> (N, C), the mean over all positions; ``spatial_dims`` (default 2) as in the op."""

    def __init__(self, *, spatial_dims=2):
        self.spatial_dims = spatial_dims

    def __call__(self, x):
        return ops.global_avg_pool(x, spatial_dims=self.spatial_dims)


class GlobalMaxPool(nnx.Module):
    """(N, *spatial, C) -> (N, C), the max over all positions; ``spatial_dims`` (default 2) as in the op."""

    def __init__(self, *, spatial_dims=2):
        self.spatial_dims = spatial_dims

    def __call__(self, x):
        return ops.global_max_pool(x, spatial_dims=self.spatial_dims)
