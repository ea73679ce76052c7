"""Dropout layer: owns a ``dropout`` RNG stream, calls :func:`jcnn.ops.dropout`."""

from __future__ import annotations

from flax import nnx

from jcnn import ops


class Dropout(nnx.Module):
    """Inverted dropout, active in training mode only (``model.train()`` / ``model.eval()``).

    Keys come from the ``dropout`` stream of the ``rngs`` given at
    construction. :func:`jcnn.nn.apply` with ``rngs=key`` reseeds every such
    stream from ``key`` before the call, so a step's masks are a pure function
    of that key (the training loop passes ``fold_in(seed, step)``).

    Call: ``x`` any shape -> same shape.
    """

    def __init__(self, rate, *, broadcast_dims=(), rngs: nnx.Rngs | None = None):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate={rate!r} must be in [0, 1)")
        self.rate, self.broadcast_dims = rate, tuple(broadcast_dims)
        self.rngs = rngs["dropout"].fork() if rngs is not None else nnx.data(None)
        self.deterministic = False

    def __call__(self, x):
        if self.deterministic or self.rate == 0.0:
            return x
        if self.rngs is None:
            raise ValueError("Dropout: training mode needs a key; build the layer with rngs=nnx.Rngs(dropout=...) "
                             "or call the model through jcnn.nn.apply(..., rngs=key), or use model.eval()")
        return ops.dropout(x, self.rngs(), rate=self.rate, broadcast_dims=self.broadcast_dims)
