"""Output-size arithmetic of convolution and pooling, shared by the ops' own checks."""

from __future__ import annotations

from jcnn.ops import _args


def _one_dim_padding(n, k, padding, stride, dilation, fn):
    """Padding of one dim as a ``(lo, hi)`` pair (int, pair, 'same' or 'valid')."""
    if isinstance(padding, str):
        return _args.resolve_padding(padding, (n,), (k,), (stride,), (dilation,), fn)[0]
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        return _args.as_padding((tuple(padding),), 1, fn)[0]
    return _args.as_padding(padding, 1, fn)[0]


def conv_output_size(n: int, k: int, *, stride: int = 1, padding=0, dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling window along one dim.

    The usual ``(W - F + 2P) / S + 1`` (Dumoulin & Visin 2016, section 2) generalised to dilation and asymmetric
    padding: ``floor((n + lo + hi - dilation*(k - 1) - 1) / stride) + 1``.
    With ``ceil_mode=True`` the division rounds up, and the last window must
    still start inside the input or its low padding (PyTorch's rule, used by
    AlexNet's overlapping pooling).

    Args:
      n: input length. k: kernel (window) length.
      stride, dilation: positive ints. padding: int, ``(lo, hi)``, ``'same'`` or ``'valid'``.
    Returns:
      the output length (raises ``ValueError`` if it would be below 1).
    """
    fn = "conv_output_size"
    (n,), (k,) = _args.as_tuple(n, 1, "n", fn), _args.as_tuple(k, 1, "k", fn)
    (s,), (d,) = _args.as_tuple(stride, 1, "stride", fn), _args.as_tuple(dilation, 1, "dilation", fn)
    lo, hi = _one_dim_padding(n, k, padding, s, d, fn)
    out = _args.out_size(n, k, s, d, lo, hi, ceil_mode)
    if out < 1:
        raise ValueError(
            f"{fn}: input length {n} with padding ({lo}, {hi}) is smaller than the dilated kernel "
            f"{d * (k - 1) + 1} (k={k}, dilation={d}); output would be empty"
        )
    return out


def conv_transpose_output_size(
    n: int, k: int, *, stride: int = 1, padding=0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a transposed convolution along one dim.

    ``(n - 1)*stride - lo - hi + dilation*(k - 1) + 1 + output_padding``: the
    input length of the forward convolution whose input gradient this is.
    ``'same'`` means the output is ``n * stride``; ``'valid'`` means no padding.
    """
    fn = "conv_transpose_output_size"
    (n,), (k,) = _args.as_tuple(n, 1, "n", fn), _args.as_tuple(k, 1, "k", fn)
    (s,), (d,) = _args.as_tuple(stride, 1, "stride", fn), _args.as_tuple(dilation, 1, "dilation", fn)
    (op,) = _args.as_tuple(output_padding, 1, "output_padding", fn, minimum=0)
    # The same rules as conv_transpose itself, so the size helper never promises a shape the op refuses.
    if op >= s:
        raise ValueError(f"{fn}: output_padding={output_padding!r} must be smaller than stride={s}")
    if isinstance(padding, str) and padding.upper() == "SAME":
        if op:
            raise ValueError(f"{fn}: output_padding={output_padding!r} cannot be combined with padding='same'")
        return n * s
    lo, hi = _one_dim_padding(n * s, k, padding, s, d, fn)
    out = (n - 1) * s - lo - hi + d * (k - 1) + 1 + op
    if out < 1:
        raise ValueError(f"{fn}: padding ({lo}, {hi}) removes the whole output (length {out})")
    return out
