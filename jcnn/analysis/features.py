"""Feature maps of named layers (Zeiler & Fergus 2014, section 4), first-layer filters as images.

Layers are addressed by the dot-joined paths of :func:`jcnn.nn.capture.layers`
(``"conv1"``, ``"layer1.0.conv1"``, ``"layers.2"``). The helpers here
(:func:`layer_output`, :func:`check_layer`, :func:`check_input`,
:func:`check_channel`) are shared by the other :mod:`jcnn.analysis` tools.
"""

from __future__ import annotations

import difflib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import nn
from jcnn.nn import capture as capture_lib

# ----------------------------------------------------------------------------
# Shared helpers: checking arguments, running a model up to a layer


def layer_names(model) -> list[str]:
    """The paths of :func:`jcnn.nn.capture.layers`, in definition order."""
    return [p for p, _ in capture_lib.layers(model)]


def check_layer(model, layer, fn: str) -> str:
    """``layer`` must be one of ``model``'s layer paths; the error lists them (and close matches)."""
    valid = layer_names(model)
    if not isinstance(layer, str) or layer not in valid:
        close = difflib.get_close_matches(str(layer), valid, n=3)
        raise ValueError(f"{fn}: unknown layer {layer!r} in {type(model).__name__}; close matches: {close}; "
                         f"valid layers: {valid}")
    return layer


def first_conv(model):
    """``(path, module)`` of the first :class:`jcnn.nn.Conv` in definition order, or None."""
    for path, m in capture_lib.layers(model):
        if isinstance(m, nn.Conv):
            return path, m
    return None


def check_input(model, x, fn: str, name: str = "x"):
    """``x`` must be (N, H, W, C), with C the first convolution's ``in_channels`` when the model has one."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 4:
        raise ValueError(f"{fn}: {name} must have shape (N, H, W, C), got {shape}")
    conv = first_conv(model)
    if conv is not None and shape[-1] != conv[1].in_channels:
        path, m = conv
        raise ValueError(f"{fn}: {name} has {shape[-1]} channels (shape {shape}) but the model's first convolution "
                         f"{path!r} takes in_channels={m.in_channels}")
    return x if isinstance(x, jax.ShapeDtypeStruct) else jnp.asarray(x)


def check_channel(channel, num_channels: int, fn: str, where: str):
    if not isinstance(channel, (int, np.integer)) or isinstance(channel, bool) or not 0 <= channel < num_channels:
        raise ValueError(f"{fn}: channel={channel!r} out of range: {where} has {num_channels} channels "
                         f"(0..{num_channels - 1})")
    return int(channel)


def layer_output(model, x, layer: str | None, *, train: bool = False, delta=None):
    """The output of ``layer`` when running ``model(x)``; the forward pass stops there.

    Unlike :func:`jcnn.nn.capture.capture` without ``stop_after``, nothing after
    ``layer`` runs, so a convolutional layer of a model with a dense head can be
    evaluated at any input size. Differentiable; usable under ``jax.jit`` /
    ``jax.grad`` / ``jax.eval_shape`` on a model built outside them (it runs on a
    copy; ``model`` itself is never changed).

    Args:
      model: an ``nnx.Module``. x: its input, e.g. (N, H, W, C).
      layer: a path from :func:`jcnn.nn.capture.layers`, or None for the model's output.
      delta: if given, added to the layer's output (then the model runs to the
        end and the model's output is returned): used for gradients w.r.t. a layer.
    Returns:
      the layer's (first-call) output, or the model's output when ``layer`` is None or ``delta`` is given.
    """
    # A fresh copy made at the current trace level: setting its mode (and whatever the call
    # writes, BatchNorm statistics, RNG counters) is allowed under jit/grad/eval_shape and
    # never reaches ``model``.
    model = nnx.merge(*nnx.split(model), copy=True)
    if layer is None:
        with capture_lib.mode(model, train):
            return model(x)
    if delta is None:
        return capture_lib.capture(model, x, layers=layer, train=train, stop_after=layer)[layer]
    done = []

    def around(path, module, call, args):
        y = call()
        if done:
            return y
        done.append(True)
        return y + delta

    with capture_lib.mode(model, train), capture_lib.intercept(model, around, paths={layer}):
        out = model(x)
    if not done:
        raise ValueError(f"layer {layer!r} of {type(model).__name__} was never called on input {tuple(x.shape)}")
    return out


def pure(model, layer, *, train: bool = False):
    """``(f, state)`` with ``f(state, x)`` = :func:`layer_output` as a pure, jitted function."""
    graphdef, state = nnx.split(model)

    def f(st, x):
        return layer_output(nnx.merge(graphdef, st), x, layer, train=train)

    return jax.jit(f), state


# ----------------------------------------------------------------------------
# Feature maps


def feature_maps(model, x, layers, *, train: bool = False) -> dict[str, np.ndarray]:
    """Activations of the named layers for input ``x``.

    Args:
      model: any ``nnx.Module``.
      x: (N, H, W, C) input.
      layers: one path or a list of paths of :func:`jcnn.nn.capture.layers` (``"output"``: the model's output).
      train: run in train mode (default eval). ``model`` is never changed (it runs on a copy).
    Returns:
      ``{name: array}``, e.g. ``{"conv1": (N, H', W', C')}``; a layer called twice gives ``name#2`` too.
    Raises:
      ValueError: an unknown layer (listing the valid names), or an input of the wrong shape.
    """
    fn = "feature_maps"
    wanted = [layers] if isinstance(layers, str) else list(layers)
    if not wanted:
        raise ValueError(f"{fn}: layers must name at least one layer; valid layers: {layer_names(model)}")
    for name in wanted:
        if name != "output":
            check_layer(model, name, fn)
    x = check_input(model, x, fn)
    # On a copy: in train mode the call would write BatchNorm statistics and RNG counters into ``model``.
    out = capture_lib.capture(nnx.merge(*nnx.split(model), copy=True), x, layers=wanted, train=train)
    return {k: np.asarray(v) for k, v in out.items()}


def _grid(n, max_cols=8):
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


def plot_feature_maps(maps, *, sample: int = 0, max_channels: int = 16, cmap="viridis"):
    """One figure: a row block per layer, one panel per channel (the first ``max_channels``).

    Args:
      maps: ``{name: (N, H, W, C)}`` from :func:`feature_maps`, or one (N, H, W, C) array.
      sample: which image of the batch.
    Returns:
      a ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    if not isinstance(maps, dict):
        maps = {"features": maps}
    spatial = {k: np.asarray(v) for k, v in maps.items() if np.ndim(v) == 4}
    if not spatial:
        raise ValueError(f"plot_feature_maps: no (N, H, W, C) maps among {[(k, np.shape(v)) for k, v in maps.items()]}")
    rows_per = {k: _grid(min(v.shape[-1], max_channels))[0] for k, v in spatial.items()}
    cols = max(_grid(min(v.shape[-1], max_channels))[1] for v in spatial.values())
    total = sum(rows_per.values())
    fig = Figure(figsize=(1.5 * cols, 1.6 * total))
    r0 = 0
    for name, v in spatial.items():
        c = min(v.shape[-1], max_channels)
        for i in range(c):
            ax = fig.add_subplot(total, cols, r0 * cols + i + 1)
            ax.imshow(v[sample, :, :, i], cmap=cmap)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
            ax.set_title(str(i), fontsize=7)
        r0 += rows_per[name]
    fig.tight_layout()
    return fig


def filter_images(kernel) -> np.ndarray:
    """First-layer kernels as images, each normalised to [0, 1] on its own.

    Args:
      kernel: (K_h, K_w, C_in, C_out).
    Returns:
      (C_out, K_h, K_w, 3) for RGB kernels (C_in == 3), else (C_out, K_h, K_w)
      (C_in == 1, or the mean over input channels).
    """
    w = np.asarray(kernel, np.float32)
    if w.ndim != 4:
        raise ValueError(f"filter_images: kernel must have shape (K_h, K_w, C_in, C_out), got {w.shape}")
    w = np.moveaxis(w, -1, 0)  # (C_out, K, K, C_in)
    w = w if w.shape[-1] == 3 else w.mean(axis=-1)
    axes = tuple(range(1, w.ndim))
    lo, hi = w.min(axis=axes, keepdims=True), w.max(axis=axes, keepdims=True)
    return (w - lo) / np.where(hi > lo, hi - lo, 1.0)


def plot_filters(kernel_or_model, *, max_filters: int = 64):
    """The first convolution's kernels as a grid of RGB (C_in == 3) or grayscale images.

    Args:
      kernel_or_model: a (K_h, K_w, C_in, C_out) kernel, or a model (its first :class:`jcnn.nn.Conv`).
    Returns:
      a ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    if isinstance(kernel_or_model, nnx.Module):
        conv = first_conv(kernel_or_model)
        if conv is None:
            raise ValueError(f"plot_filters: {type(kernel_or_model).__name__} has no jcnn.nn.Conv layer; "
                             f"layers: {layer_names(kernel_or_model)}")
        kernel = conv[1].kernel[...]
    else:
        kernel = kernel_or_model
    imgs = filter_images(kernel)[:max_filters]
    rows, cols = _grid(len(imgs))
    fig = Figure(figsize=(1.2 * cols, 1.2 * rows))
    for i, im in enumerate(imgs):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(im, cmap=None if im.ndim == 3 else "gray", interpolation="nearest", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
