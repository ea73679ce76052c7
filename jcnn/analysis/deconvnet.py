"""ZFNet's deconvnet (Zeiler & Fergus 2014): project one channel's activations back to pixel space.

Going up, the model's leaf layers are run in call order, recording max-pooling
"switches" (:func:`jcnn.ops.max_pool_with_argmax`). At ``layer`` the *top
signal* is that layer's output with every channel but ``channel`` set to zero
(``top="max"``: only the channel's largest activation per image is kept).
Going down, each layer is undone: max-pooling by :func:`jcnn.ops.max_unpool`
with the recorded switches, ReLU by ReLU (the deconvnet rectifies the signal
going down, it does not use the forward pass's mask), and a convolution by
:func:`jcnn.ops.conv_transpose` with the same kernel (no bias).

For a network of convolutions only this is exactly the input gradient
``jax.vjp(layer_output, x)[1](top)``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import nn, ops
from jcnn.analysis import features as F
from jcnn.nn import capture as capture_lib
from jcnn.ops import _args


def _conv_geometry(m, in_shape):
    """``(pads, stride, dilation, kernel, sizes)`` of conv layer ``m`` applied to ``in_shape``."""
    sizes = tuple(in_shape[1:-1])
    nd = len(sizes)
    kernel = tuple(m.kernel.shape[:nd])
    stride = _args.as_tuple(m.stride, nd, "stride", "deconvnet")
    dilation = _args.as_tuple(m.dilation, nd, "dilation", "deconvnet")
    pads = _args.resolve_padding(m.padding, sizes, kernel, stride, dilation, "deconvnet")
    return pads, stride, dilation, kernel, sizes


def _top_signal(y, channel, top):
    mask = jnp.zeros(y.shape[-1], y.dtype).at[channel].set(1)
    t = y * mask
    if top == "max":
        flat = t[..., channel].reshape(t.shape[0], -1)
        keep = jax.nn.one_hot(jnp.argmax(flat, axis=1), flat.shape[1], dtype=y.dtype).reshape(t.shape[:-1])
        t = t * keep[..., None]
    return t


def deconvnet(model, x, layer: str, channel: int, *, top: str = "map") -> np.ndarray:
    """Project ``channel`` of ``layer`` back to the input through ZFNet's deconvnet.

    Args:
      model: a network whose forward pass is the chain of its leaf layers, each a
        :class:`jcnn.nn.Conv`, an :class:`jcnn.nn.Activation` ``"relu"`` (or ``"identity"``)
        or a :class:`jcnn.nn.MaxPool` (dilation 1, no ceil mode), up to ``layer``.
      x: (N, H, W, C) input.
      layer: a path of :func:`jcnn.nn.capture.layers`, the layer whose channel is projected.
      channel: in ``[0, C_layer)``.
      top: ``"map"`` keeps the channel's whole feature map as the top signal,
        ``"max"`` only its largest activation per image (ZFNet's figures).
    Returns:
      (N, H, W, C) projection in pixel space.
    Raises:
      ValueError: unknown layer, channel out of range, wrong input shape, a layer type the
        deconvnet cannot invert, or a model whose forward pass is not the chain of its layers.
    """
    fn = "deconvnet"
    F.check_layer(model, layer, fn)
    x = F.check_input(model, x, fn)
    if top not in ("map", "max"):
        raise ValueError(f"{fn}: top={top!r} must be 'map' or 'max'")
    records = capture_lib.trace(model, x)
    modules = dict(capture_lib.layers(model))
    chain, paths = [], []
    for rec in records:
        chain.append((rec.name, modules[rec.path]))
        paths.append(rec.path)
        if rec.path == layer:
            break
    else:
        raise ValueError(f"{fn}: layer {layer!r} is not a leaf layer called by {type(model).__name__}; "
                         f"leaf calls: {[r.name for r in records]}")
    for name, m in chain:
        ok = (isinstance(m, nn.Conv)
              or (isinstance(m, nn.Activation) and m.name in ("relu", "identity", None))
              or (isinstance(m, nn.MaxPool) and m.dilation in (1, (1, 1)) and not m.ceil_mode))
        if not ok:
            what = f"Activation({m.name!r})" if isinstance(m, nn.Activation) else type(m).__name__
            raise ValueError(f"{fn}: layer {name!r} ({what}) is not supported; the deconvnet handles only Conv, "
                             f"Activation('relu') and MaxPool (dilation 1, no ceil mode) up to {layer!r}")

    out = jax.eval_shape(lambda v: F.layer_output(model, v, layer), x)
    F.check_channel(channel, out.shape[-1], fn, f"layer {layer!r} (output {tuple(out.shape)})")
    graphdef, state = nnx.split(model)
    steps = tuple((name, path) for (name, _), path in zip(chain, paths))
    not_chain = (f"{fn}: {type(model).__name__}'s forward pass up to {layer!r} is not the chain of its "
                 f"layers {[n for n, _ in chain]} (its __call__ does more); the deconvnet needs a plain chain")
    try:
        h, ref, g = _run(graphdef, steps, layer, int(channel), top, state, x)
    except (ValueError, TypeError) as e:  # a layer rejected the previous layer's output
        raise ValueError(f"{not_chain}: {e}") from e
    if ref.shape != h.shape or not bool(jnp.allclose(ref, h, rtol=1e-4, atol=1e-4 * (1 + float(jnp.abs(ref).max())))):
        raise ValueError(not_chain)
    return np.asarray(g)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _run(graphdef, steps, layer, channel, top, state, x):
    """``(chain output, layer_output, projection)``; one compiled program instead of one per op."""
    model = nnx.merge(graphdef, state)
    modules = dict(capture_lib.layers(model))
    chain = [(name, modules[path]) for name, path in steps]

    # Up: the forward pass, recording what the way down needs.
    h, saved = x, []
    for _, m in chain:
        if isinstance(m, nn.MaxPool):
            y, switches = ops.max_pool_with_argmax(h, m.window, stride=m.stride, padding=m.padding)
            saved.append((h.shape, switches))
            h = y
        else:
            saved.append((h.shape, None))
            h = m(h)
    ref = F.layer_output(model, x, layer)

    # Down.
    g = _top_signal(h, channel, top)
    for (_, m), (in_shape, switches) in zip(reversed(chain), reversed(saved)):
        if isinstance(m, nn.MaxPool):
            g = ops.max_unpool(g, switches, output_shape=in_shape)
        elif isinstance(m, nn.Activation):
            g = jax.nn.relu(g) if m.name == "relu" else g
        else:
            w = m.kernel[...]
            pads, stride, dilation, kernel, sizes = _conv_geometry(m, in_shape)
            if m.flip:
                w = jnp.flip(w, axis=tuple(range(len(kernel))))
            full = tuple((n - 1) * s - lo - hi + d * (k - 1) + 1
                         for n, s, d, k, (lo, hi) in zip(g.shape[1:-1], stride, dilation, kernel, pads))
            out_pad = tuple(a - b for a, b in zip(sizes, full))
            g = ops.conv_transpose(g.astype(w.dtype), w, stride=stride, padding=pads, output_padding=out_pad,
                                   dilation=dilation, groups=m.groups)
    return h, ref, g


def plot_deconvnet(projection, image=None, *, sample: int = 0):
    """The projection (min-max normalised) next to the input image. Returns a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure

    def show(ax, a, title):
        a = np.asarray(a, np.float32)
        a = (a - a.min()) / max(float(a.max() - a.min()), 1e-12)
        ax.imshow(a if a.shape[-1] == 3 else a.mean(-1), cmap=None if a.shape[-1] == 3 else "gray")
        ax.set_title(title, fontsize=9), ax.set_xticks([]), ax.set_yticks([])

    n = 1 if image is None else 2
    fig = Figure(figsize=(3.2 * n, 3.2))
    if image is not None:
        show(fig.add_subplot(1, n, 1), np.asarray(image)[sample], "input")
    show(fig.add_subplot(1, n, n), np.asarray(projection)[sample], "deconvnet")
    fig.tight_layout()
    return fig
