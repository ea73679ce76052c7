"""Normalisation layers: BatchNorm (running statistics) and LRN."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jcnn import ops


class BatchNorm(nnx.Module):
    """Batch normalisation (Ioffe & Szegedy 2015) over every axis but the channels.

    Owns ``scale`` and ``bias`` (C,) as parameters and ``mean``/``var`` (C,) as
    running statistics (``nnx.BatchStat``, not trained). In training mode
    (``model.train()``, the default) it normalises with the batch's moments and
    updates ``running = momentum * running + (1 - momentum) * batch``, where
    the running variance takes the unbiased batch variance (the paper's
    inference rule ``m / (m - 1)``); in evaluation mode (``model.eval()``) it
    uses the running statistics. The maths is :func:`jcnn.ops.batch_norm_train` (training)
    and :func:`jcnn.ops.batch_norm` (evaluation).

    Precision: statistics, normalisation and the float32 ``scale``/``bias``
    are computed in float32 whatever the input dtype (mixed precision keeps
    BatchNorm in float32); the output has ``dtype``, or the input's dtype.
    Training mode wants many values per channel (N * H * W): with 2, each
    normalised value is +-d / sqrt(d^2 + eps) for their half-difference d,
    whose derivative reaches 1 / sqrt(eps) where the two nearly agree, and a
    deep network's gradient explodes (a 1x1 last stage at batch 2).

    Call: ``x`` (N, *spatial, C) or (N, C) -> same shape.
    """

    def __init__(self, num_features, *, momentum=0.9, eps=1e-5, use_scale=True, use_bias=True,
                 scale_init=1.0, dtype=None, param_dtype=jnp.float32, rngs: nnx.Rngs | None = None):
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"BatchNorm: num_features={num_features!r} must be a positive int")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm: momentum={momentum!r} must be in [0, 1)")
        c = num_features
        self.scale = nnx.Param(jnp.full((c,), scale_init, param_dtype)) if use_scale else None
        self.bias = nnx.Param(jnp.zeros((c,), param_dtype)) if use_bias else None
        self.mean = nnx.BatchStat(jnp.zeros((c,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((c,), jnp.float32))
        self.num_features, self.momentum, self.eps, self.dtype = c, momentum, eps, dtype
        self.use_running_average = False

    def __call__(self, x):
        if x.shape[-1] != self.num_features:
            raise ValueError(f"BatchNorm: x has {x.shape[-1]} channels, expected {self.num_features}; "
                             f"x {tuple(x.shape)}")
        scale = None if self.scale is None else self.scale[...]
        bias = None if self.bias is None else self.bias[...]
        if self.use_running_average:
            y = ops.batch_norm(x.astype(jnp.float32), self.mean[...], self.var[...], scale, bias, eps=self.eps)
        else:
            y, mean, var = ops.batch_norm_train(x.astype(jnp.float32), scale, bias, eps=self.eps)
            m = x.size // x.shape[-1]
            unbiased = var * (m / max(m - 1, 1))
            self.mean[...] = self.momentum * self.mean[...] + (1 - self.momentum) * mean
            self.var[...] = self.momentum * self.var[...] + (1 - self.momentum) * unbiased
        return y.astype(self.dtype or x.dtype)


class LRN(nnx.Module):
    """Local response normalisation across channels (AlexNet); see :func:`jcnn.ops.lrn` for the convention.

    Call: ``x`` (N, *spatial, C) -> same shape.
    """

    def __init__(self, *, size=5, alpha=1e-4, beta=0.75, k=2.0):
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def __call__(self, x):
        return ops.lrn(x, size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)
