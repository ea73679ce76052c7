"""Convolution as mathematics: cross-correlation, true convolution, its transpose and its gradients.

Layout is channels-last throughout: inputs ``(N, *spatial, C)`` with 1, 2 or 3
spatial dims, kernels ``(*K, C_in // groups, C_out)``; the kernel's rank sets
the number of spatial dims, and the input must match it (batch dim included). Every function here
lowers to one ``lax.conv_general_dilated`` call, made in
``_conv_impl.conv_general`` (the single place that calls it), or on CPU to
the faster formulation that ``_conv_impl`` selects for ``conv``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jcnn.ops import _args, _conv_impl

_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def _check_groups(groups, fn):
    if not _args.is_int(groups) or groups < 1:
        raise ValueError(f"{fn}: groups={groups!r} must be a positive int")
    return int(groups)


def _check_kernel(x, w, b, groups, fn, *, c_name="C_in", x_channels=None, xname="x"):
    """Shared rank/dtype/channel checks. Returns the number of spatial dims, which the kernel sets.

    The kernel, not the input, says how many spatial dims there are: a single
    ``(H, W, C)`` image under a 2-D kernel is an error naming the missing batch
    dim, never a 1-D convolution over its rows.
    """
    for name, a in ((xname, x), ("w", w)):
        if getattr(a, "shape", None) is None:
            raise TypeError(f"{fn}: {name} must be an array, got {type(a).__name__}")
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        x_nd = x.ndim - 2
        want = f"rank {x_nd + 2} (*K, C_in // groups, C_out) to match {xname} {tuple(x.shape)}" if x_nd in (1, 2, 3) \
            else "rank 3, 4 or 5 (*K, C_in // groups, C_out)"
        raise ValueError(f"{fn}: w must have {want}, got w {tuple(w.shape)}")
    if x.ndim not in (nd + 1, nd + 2) and x.ndim - 2 in (1, 2, 3):
        raise ValueError(
            f"{fn}: w must have rank {x.ndim} (*K, C_in // groups, C_out) to match {xname} {tuple(x.shape)}, "
            f"got w {tuple(w.shape)} (a {nd}-D kernel, which takes {xname} of rank {nd + 2})"
        )
    hint = f"; for a {nd - 1}-D convolution, w must have rank {nd + 1}" if x.ndim == nd + 1 else ""
    _args.check_batched(x, nd, fn, name=xname, why=f"w {tuple(w.shape)} is a {nd}-D kernel", hint=hint)
    _args.check_float(fn, **{xname: x, "w": w, "b": b})
    groups = _check_groups(groups, fn)
    c_in, c_out = w.shape[-2] * groups, w.shape[-1]
    if c_out % groups:
        raise ValueError(f"{fn}: groups={groups} must divide C_out={c_out} (w {tuple(w.shape)})")
    want = c_in if x_channels is None else x_channels(c_in, c_out)
    if x.shape[-1] % groups:
        raise ValueError(f"{fn}: groups={groups} must divide the channels of {xname} {tuple(x.shape)}")
    if x.shape[-1] != want:
        raise ValueError(
            f"{fn}: {xname} has {x.shape[-1]} channels but w expects {c_name}={want} "
            f"(w.shape[-2] * groups = {w.shape[-2]} * {groups}); {_args.shape_str(xname, x, 'w', w)}"
        )
    if b is not None and tuple(b.shape) != (c_out,):
        raise ValueError(f"{fn}: b must have shape ({c_out},) = (C_out,), got {tuple(b.shape)} (w {tuple(w.shape)})")
    return nd


def _check_out_sizes(fn, sizes, kernel, stride, dilation, pads, x, w):
    for n, k, s, d, (lo, hi) in zip(sizes, kernel, stride, dilation, pads):
        if _args.out_size(n, k, s, d, lo, hi) < 1:
            raise ValueError(
                f"{fn}: spatial size {n} padded by ({lo}, {hi}) is smaller than the dilated kernel "
                f"{d * (k - 1) + 1} (k={k}, dilation={d}); {_args.shape_str('x', x, 'w', w)}"
            )


def _add_bias(y, b):
    return y if b is None else y + b.astype(y.dtype)


def conv(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, flip=False, precision=None, impl=None):
    """Cross-correlation (deep learning's "convolution") of a channels-last batch.

    ``y[n, p, o] = b[o] + sum_{k, i} x_pad[n, p*stride + k*dilation, g(o)*C_in/groups + i] * w[k, i, o]``,
    with ``g(o)`` the group of output channel ``o``. ``flip=True`` flips the
    kernel in every spatial dim first, which makes this a true convolution.
    Depthwise convolution is ``groups=C_in``.

    Args:
      x: (N, *spatial, C_in) with 1, 2 or 3 spatial dims.
      w: (*K, C_in // groups, C_out). b: (C_out,) or None.
      stride, dilation: int or one int per spatial dim.
      padding: int, one int per dim, one (lo, hi) pair per dim, 'same' or 'valid'.
      groups: number of channel groups; must divide C_in and C_out.
      flip: flip the kernel (true convolution instead of cross-correlation).
      precision: passed to ``lax.conv_general_dilated``.
      impl: formulation; None uses the :func:`conv_impl` context (default
        ``'auto'``: XLA's convolution off CPU, on CPU the faster formulation for
        the shape, see ``jcnn/ops/_conv_impl.py``). ``'xla'`` pins XLA's path.
    Returns:
      (N, *out, C_out) with ``out = floor((n + lo + hi - dilation*(K - 1) - 1) / stride) + 1``
      (``ceil(n / stride)`` for 'same').
    """
    fn = "conv"
    nd = _check_kernel(x, w, b, groups, fn)
    kernel = tuple(w.shape[:nd])
    stride = _args.as_tuple(stride, nd, "stride", fn)
    dilation = _args.as_tuple(dilation, nd, "dilation", fn)
    pads = _args.resolve_padding(padding, x.shape[1:-1], kernel, stride, dilation, fn)
    _check_out_sizes(fn, x.shape[1:-1], kernel, stride, dilation, pads, x, w)
    if flip:
        w = jnp.flip(w, axis=tuple(range(nd)))
    y = _conv_impl.conv_impl_call(x, w, stride=stride, pads=pads, dilation=dilation, groups=groups,
                                  precision=precision, impl=impl)
    return _add_bias(y, b)


def _transposed_kernel(w, groups):
    """(*K, C_in/g, C_out) -> rot180 and per-group swap -> (*K, C_out/g, C_in)."""
    nd = w.ndim - 2
    k, ci_g, co = w.shape[:nd], w.shape[-2], w.shape[-1]
    w = jnp.flip(w, axis=tuple(range(nd)))
    w = w.reshape(*k, ci_g, groups, co // groups)  # (*K, C_in/g, g, C_out/g)
    w = jnp.moveaxis(w, -3, -1)  # (*K, g, C_out/g, C_in/g)
    w = jnp.swapaxes(w, -3, -2)  # (*K, C_out/g, g, C_in/g)
    return w.reshape(*k, co // groups, groups * ci_g)


def conv_transpose(y, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1, precision=None):
    """Transposed convolution: exactly the input gradient of :func:`conv` with the same ``w``.

    ``dL/dX = full_conv(dL/dY, rot180(K))`` (Dumoulin & Visin 2016, section 4): ``y`` is dilated by
    ``stride`` (``stride - 1`` zeros between samples), padded to a full
    convolution (``dilation*(K-1) - lo`` low, ``dilation*(K-1) - hi +
    output_padding`` high) and correlated with the 180-degree-rotated kernel,
    whose in/out channel roles are swapped within each group.

    Args:
      y: (N, *spatial, C_out), the shape of ``conv``'s output.
      w: (*K, C_in // groups, C_out), the same kernel ``conv`` used. b: (C_in,) or None.
      stride, dilation: int or per dim. padding: the forward conv's padding
        (int, per dim, (lo, hi) pairs, 'valid'; 'same' makes the output ``n * stride``).
      output_padding: int or per dim, each ``< stride``: extra length on the high
        side, to recover the rows the forward conv's floor division dropped.
    Returns:
      (N, *out, C_in) with ``out = (n - 1)*stride - lo - hi + dilation*(K - 1) + 1 + output_padding``.
    """
    fn = "conv_transpose"
    nd = _check_kernel(y, w, None, groups, fn, c_name="C_out", x_channels=lambda ci, co: co, xname="y")
    c_in = w.shape[-2] * groups
    if b is not None and tuple(b.shape) != (c_in,):
        raise ValueError(f"{fn}: b must have shape ({c_in},) = (C_in,), got {tuple(b.shape)} (w {tuple(w.shape)})")
    kernel = tuple(w.shape[:nd])
    stride = _args.as_tuple(stride, nd, "stride", fn)
    dilation = _args.as_tuple(dilation, nd, "dilation", fn)
    out_pad = _args.as_tuple(output_padding, nd, "output_padding", fn, minimum=0)
    if any(op >= s for op, s in zip(out_pad, stride)):
        raise ValueError(f"{fn}: output_padding={output_padding!r} must be smaller than stride={stride}, per dim")
    sizes = y.shape[1:-1]
    pad = _args.as_padding(padding, nd, fn)
    if pad == "SAME":
        if any(out_pad):
            raise ValueError(f"{fn}: output_padding={output_padding!r} cannot be combined with padding='same'")
        pads = _args.same_pairs([n * s for n, s in zip(sizes, stride)], kernel, stride, dilation)
        # Pick output_padding so that the output is exactly n * stride.
        out_pad = tuple(n * s - ((n - 1) * s - lo - hi + d * (k - 1) + 1)
                        for n, s, d, k, (lo, hi) in zip(sizes, stride, dilation, kernel, pads))
    else:
        pads = ((0, 0),) * nd if pad == "VALID" else pad
    full = []
    for n, s, d, k, op, (lo, hi) in zip(sizes, stride, dilation, kernel, out_pad, pads):
        size = (n - 1) * s - lo - hi + d * (k - 1) + 1 + op
        if size < 1:
            raise ValueError(f"{fn}: padding {pads} removes the whole output (length {size}); y {tuple(y.shape)}")
        full.append((d * (k - 1) - lo, d * (k - 1) - hi + op))
    x = _conv_impl.conv_general(y, _transposed_kernel(w, groups), strides=(1,) * nd, padding=full, lhs_dilation=stride,
                      rhs_dilation=dilation, groups=groups, precision=precision)
    return _add_bias(x, b)


def conv_grads(x, w, dy, *, stride=1, padding=0, dilation=1, groups=1, precision=None):
    """The backward pass of :func:`conv`, written by hand (Dumoulin & Visin 2016, sections 2 and 4).

    ``dL/dK = xcorr(X, dL/dY)``: the kernel gradient correlates the padded
    input with the output gradient, summing over the batch; the output
    gradient is dilated by ``stride`` and the input sampled every
    ``dilation``. ``dL/dX = full_conv(dL/dY, rot180(K))`` is
    :func:`conv_transpose`. Neither uses ``jax.vjp``; both equal it.

    Args:
      x: (N, *spatial, C_in). w: (*K, C_in // groups, C_out).
      dy: (N, *out, C_out), the gradient of the loss w.r.t. ``conv(x, w, ...)``.
    Returns:
      ``(dx, dw)`` with the shapes of ``x`` and ``w``.
    """
    fn = "conv_grads"
    nd = _check_kernel(x, w, None, groups, fn)
    _args.check_float(fn, dy=dy)
    kernel, sizes = tuple(w.shape[:nd]), tuple(x.shape[1:-1])
    stride = _args.as_tuple(stride, nd, "stride", fn)
    dilation = _args.as_tuple(dilation, nd, "dilation", fn)
    pads = _args.resolve_padding(padding, sizes, kernel, stride, dilation, fn)
    _check_out_sizes(fn, sizes, kernel, stride, dilation, pads, x, w)
    outs = tuple(_args.out_size(n, k, s, d, lo, hi) for n, k, s, d, (lo, hi) in zip(sizes, kernel, stride, dilation, pads))
    want = (x.shape[0], *outs, w.shape[-1])
    if tuple(dy.shape) != want:
        raise ValueError(f"{fn}: dy must have the conv's output shape {want}, got {tuple(dy.shape)} "
                         f"({_args.shape_str('x', x, 'w', w)})")
    # Rows the forward conv's floor division never read: crop them off the
    # high side (negative padding), and give them back to dx as output_padding.
    spare = [n + lo + hi - (s * (m - 1) + d * (k - 1) + 1)
             for n, m, k, s, d, (lo, hi) in zip(sizes, outs, kernel, stride, dilation, pads)]
    sp = _SPATIAL[nd]
    dw = _conv_impl.conv_general(
        x, dy, strides=dilation, padding=[(lo, hi - e) for (lo, hi), e in zip(pads, spare)],
        rhs_dilation=stride, batch_groups=groups, precision=precision,
        # Batch and channel roles swapped by relabelling, not transposing:
        # x's channels act as the batch, its batch as the contracted features.
        specs=(f"C{sp}N", f"I{sp}O", f"{sp}NC"),
    )
    dx = conv_transpose(dy, w, stride=stride, padding=pads, output_padding=spare, dilation=dilation,
                        groups=groups, precision=precision)
    return dx, dw.astype(w.dtype)
