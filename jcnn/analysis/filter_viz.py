"""Filter visualisation by gradient ascent on the input (Erhan, Bengio, Courville & Vincent 2009, section 3).

Start from a small noisy image, climb the gradient of one channel's mean
activation, then upscale the image (``jax.image.resize``) and climb again, for
``octaves`` rounds. Olah, Mordvintsev & Schubert 2017 (Distill, "Feature Visualization",
section "The Enemy of Feature Visualization") show why: ascent at full size from the start
finds high-frequency noise that excites the channel but means nothing to a
person; growing the image step by step keeps the low frequencies found early.
Optional regularisers: random ``jitter`` (roll the image by up to ``jitter``
pixels before each step, roll back after), Gaussian ``blur`` of the image after
each step, and an ``l2`` penalty on the image.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn import ops
from jcnn.analysis import features as F


class FilterVisualization(NamedTuple):
    """``image`` (H, W, C) float32 (unclipped); ``history`` (octaves * steps + 1,) the
    channel's mean activation before the first step and after every step (without
    jitter); ``sizes`` the image side of each octave."""

    image: np.ndarray
    history: np.ndarray
    sizes: tuple


def _blur(img, sigma):
    k = 2 * int(np.ceil(2 * sigma)) + 1
    return ops.filter2d(img, ops.gaussian(k, sigma), padding="same")


def visualize_filter(model, layer: str, channel: int, *, steps: int = 20, lr: float = 0.05, octaves: int = 4,
                     upscale: float = 1.2, jitter: int = 0, blur: float = 0.0, l2: float = 0.0,
                     start_size: int = 32, in_channels: int | None = None, seed: int = 0) -> FilterVisualization:
    """The input that maximises the mean activation of ``channel`` of ``layer``.

    Each step: ``img += lr * g / (std(g) + 1e-8)`` with ``g`` the gradient of
    ``mean(act[..., channel]) - l2 * mean(img**2)`` (normalised ascent).

    Args:
      model: an ``nnx.Module`` whose input is (N, H, W, C). Layers after ``layer`` are not run,
        so the size may change between octaves even for a model with a dense head.
      layer: a path of :func:`jcnn.nn.capture.layers`. channel: in ``[0, C_layer)``.
      steps: ascent steps per octave. lr: step size. octaves: number of sizes.
      upscale: factor between octaves (the image is resized with ``jax.image.resize``, cubic).
      jitter: max random roll in pixels per step (0: off). blur: Gaussian sigma applied after
        each step (0: off). l2: weight of the L2 penalty on the image.
      start_size: side of the first (square) image, noise ``0.5 + 0.1 * N(0, 1)``.
      in_channels: the input's channels; default the first :class:`jcnn.nn.Conv`'s ``in_channels``.
      seed: seeds the start image and the jitter.
    Returns:
      :class:`FilterVisualization` ``(image (H, W, C), history, sizes)``.
    Raises:
      ValueError: unknown layer, channel out of range, or bad hyperparameters.
    """
    fn = "visualize_filter"
    F.check_layer(model, layer, fn)
    for name, v, lo in (("steps", steps, 1), ("octaves", octaves, 1), ("start_size", start_size, 1),
                        ("jitter", jitter, 0)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{fn}: {name}={v!r} must be an int >= {lo}")
    if not upscale >= 1:
        raise ValueError(f"{fn}: upscale={upscale!r} must be >= 1")
    if blur < 0 or l2 < 0:
        raise ValueError(f"{fn}: blur={blur!r} and l2={l2!r} must be >= 0")
    if in_channels is None:
        conv = F.first_conv(model)
        if conv is None:
            raise ValueError(f"{fn}: cannot tell the input's channels ({type(model).__name__} has no jcnn.nn.Conv); "
                             "pass in_channels")
        in_channels = conv[1].in_channels
    shape = (1, start_size, start_size, in_channels)
    out = jax.eval_shape(lambda v: F.layer_output(model, v, layer), jax.ShapeDtypeStruct(shape, jnp.float32))
    if len(out.shape) < 2:
        raise ValueError(f"{fn}: layer {layer!r} output {out.shape} has no channel axis")
    F.check_channel(channel, out.shape[-1], fn, f"layer {layer!r} (output {out.shape})")

    graphdef, state = nnx.split(model)

    def objective(st, img):
        act = F.layer_output(nnx.merge(graphdef, st), img, layer)
        return jnp.mean(act[..., channel])

    @jax.jit
    def step(st, img, key):
        shift = jax.random.randint(key, (2,), -jitter, jitter + 1) if jitter else jnp.zeros(2, jnp.int32)
        rolled = jnp.roll(img, (shift[0], shift[1]), axis=(1, 2))
        g = jax.grad(lambda v: objective(st, v) - l2 * jnp.mean(v**2))(rolled)
        g = jnp.roll(g, (-shift[0], -shift[1]), axis=(1, 2))
        img = img + lr * g / (jnp.std(g) + 1e-8)
        if blur > 0:
            img = _blur(img, blur)
        return img, objective(st, img)

    key = jax.random.key(seed)
    key, k0 = jax.random.split(key)
    img = 0.5 + 0.1 * jax.random.normal(k0, shape, jnp.float32)
    history = [float(jax.jit(objective)(state, img))]
    sizes = []
    size = start_size
    for o in range(octaves):
        if o > 0:
            size = max(size + 1, int(round(size * upscale))) if upscale > 1 else size
            img = jax.image.resize(img, (1, size, size, in_channels), "cubic")
        sizes.append(size)
        for _ in range(steps):
            key, k = jax.random.split(key)
            img, act = step(state, img, k)
            history.append(float(act))
    return FilterVisualization(np.asarray(img[0]), np.asarray(history, np.float32), tuple(sizes))


def plot_filter_visualization(result: FilterVisualization, *, title: str | None = None):
    """The image (min-max normalised) and its activation history. Returns a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure

    img = np.asarray(result.image, np.float32)
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-12)
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot(1, 2, 1)
    ax.imshow(img if img.shape[-1] == 3 else img.mean(-1), cmap=None if img.shape[-1] == 3 else "gray")
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title or f"{img.shape[0]}x{img.shape[1]}", fontsize=9)
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(result.history)
    ax.set_xlabel("step"), ax.set_ylabel("mean activation")
    fig.tight_layout()
    return fig
