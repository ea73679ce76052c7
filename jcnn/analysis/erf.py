"""Effective receptive field (Luo, Li, Urtasun & Zemel 2016, section 2).

The ERF of an output unit is the gradient of that unit with respect to the
input: back-propagate ``dl/dy = 1`` at the centre pixel of the chosen layer's
output (summed over its channels, or one channel) and ``0`` everywhere else,
take ``|dl/dx|`` summed over input channels, average over random inputs (and
over re-initialisations when the model is given as ``seed -> model``) and
normalise to sum 1. For a linear stack of ``L`` uniform 3x3 convolutions it is
exactly the distribution of a sum of ``L`` uniform{-1, 0, 1} variables, whose
standard deviation grows as ``sqrt(2L/3)``: the ERF grows as sqrt(depth)
while the theoretical receptive field grows as depth.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jcnn.analysis import features as F


def _input_shape(input_shape, fn):
    shape = tuple(int(d) for d in input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) not in (3, 4) or any(d < 1 for d in shape):
        raise ValueError(f"{fn}: input_shape={input_shape!r} must be (H, W, C) or (1, H, W, C) of positive ints")
    if len(shape) == 4:
        if shape[0] != 1:
            raise ValueError(f"{fn}: input_shape={input_shape!r}: the batch size must be 1 (samples sets the count)")
        shape = shape[1:]
    return (1, *shape)


def _erf_one(graphdef, state, x, layer, channel, train, key):
    """d y_centre / d x for one input: (1, H, W, C_in), signed."""

    model = nnx.merge(graphdef, state)
    if train and key is not None:
        try:
            nnx.reseed(model, dropout=key)
        except (ValueError, KeyError, AttributeError):
            pass  # no dropout stream

    def f(xx):
        return F.layer_output(model, xx, layer, train=train)

    y, vjp = jax.vjp(f, x)
    ct = jnp.zeros_like(y)
    if y.ndim == 4:
        ci, cj = y.shape[1] // 2, y.shape[2] // 2
        ct = ct.at[0, ci, cj, :].set(1.0) if channel is None else ct.at[0, ci, cj, channel].set(1.0)
    else:  # (1, C): the whole layer is the "centre unit"
        ct = jnp.ones_like(y) if channel is None else ct.at[..., channel].set(1.0)
    (g,) = vjp(ct)
    return g


_erf_jit = jax.jit(_erf_one, static_argnums=(0, 3, 4, 5))

#: How the per-run gradients ``g_s`` (H, W, C_in) become one map, before normalising to sum 1.
REDUCTIONS = {
    "mean_abs": "mean_s sum_c |g_s|  (Luo et al.)",
    "abs_mean": "sum_c |mean_s g_s|",
    "rms": "sqrt(mean_s sum_c g_s**2)",
}


def _factory(model, init_seeds, fn):
    """``(make, seeds)``: ``make(seed) -> nnx.Module`` (None for a module) and the init seeds to use."""
    if isinstance(model, str):
        from jcnn.models import registry

        name = registry.info(model).name  # unknown name: ValueError with close matches

        def make(s):
            return registry.create(name, seed=s)
    elif isinstance(model, nnx.Module):
        if init_seeds is not None:
            raise ValueError(f"{fn}: init_seeds={init_seeds!r} needs a model to re-initialise: pass a registered "
                             f"name or a callable seed -> model, not a {type(model).__name__} instance")
        return None, None
    elif callable(model):
        make = model
    else:
        raise TypeError(f"{fn}: model must be an nnx.Module, a registered name or a callable seed -> model, "
                        f"got {type(model).__name__}")
    if init_seeds is not None:
        seeds = [init_seeds] if isinstance(init_seeds, (int, np.integer)) else list(init_seeds)
        if not seeds or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in seeds):
            raise ValueError(f"{fn}: init_seeds={init_seeds!r} must be a non-empty sequence of ints")
        return make, [int(v) for v in seeds]
    return make, None


def effective_receptive_field(model, input_shape=None, *, layer: str | None = None, samples: int = 8,
                              seed: int = 0, init_seeds=None, reduce: str = "mean_abs",
                              channel: int | None = None, train: bool = False) -> np.ndarray:
    """Luo et al.'s effective receptive field of the centre unit of ``layer``.

    Back-propagates ``dl/dy = 1`` at the centre unit ``(h // 2, w // 2)`` of the
    layer's (1, h, w, K) output (summed over its K channels, or ``channel`` only)
    and 0 at every other output, for standard-normal inputs.

    Args:
      model: an ``nnx.Module``; or, to also average over initialisations, a registered
        model name (:func:`jcnn.models.create`) or a callable ``seed -> nnx.Module``.
      input_shape: (H, W, C) or (1, H, W, C) of the random inputs; for a registered name
        None takes its metadata's input shape.
      layer: a path of :func:`jcnn.nn.capture.layers`; None: the model's output.
      samples: random inputs per model. For a name/callable with ``init_seeds=None``
        there are ``samples`` runs, run ``s`` with init seed ``seed + s`` and its own input.
      seed: seeds the inputs (and, by default, the initialisations).
      init_seeds: initialisation seeds (name/callable only): ``samples`` inputs for each.
      reduce: one of :data:`REDUCTIONS`; ``"mean_abs"`` (default) averages ``|dl/dx|``
        summed over the C input channels.
      channel: the output channel of the centre unit; None sums over channels.
      train: run in train mode (dropout reseeded per run).
    Returns:
      (H, W) float64, nonnegative, summing to 1 (all zeros if every gradient is 0).
    Raises:
      ValueError: unknown model name or layer, channel out of range, bad ``input_shape``,
        ``samples``, ``init_seeds`` or ``reduce``.
    """
    fn = "effective_receptive_field"
    if reduce not in REDUCTIONS:
        raise ValueError(f"{fn}: reduce={reduce!r} must be one of {sorted(REDUCTIONS)}")
    if not isinstance(samples, (int, np.integer)) or isinstance(samples, bool) or samples < 1:
        raise ValueError(f"{fn}: samples={samples!r} must be a positive int")
    make, seeds = _factory(model, init_seeds, fn)
    if input_shape is None and isinstance(model, str):
        from jcnn.models import registry

        input_shape = registry.info(model).input_shape
    shape = _input_shape(input_shape, fn)
    if make is None:
        runs = [(None, s) for s in range(samples)]
    elif seeds is None:
        runs = [(seed + s, s) for s in range(samples)]
    else:
        runs = [(m, i * samples + s) for i, m in enumerate(seeds) for s in range(samples)]

    key = jax.random.key(seed)
    acc_abs = np.zeros(shape[1:3], np.float64)
    acc_sq = np.zeros(shape[1:3], np.float64)
    acc_sig = np.zeros(shape[1:], np.float64)
    current, m, checked = object(), None, False
    for init, s in runs:
        if make is None:
            m = model
        elif init != current:
            m, current = make(init), init
        if not checked:
            if layer is not None:
                F.check_layer(m, layer, fn)
            F.check_input(m, jax.ShapeDtypeStruct(shape, jnp.float32), fn, "input_shape")
            out = jax.eval_shape(lambda v, m=m: F.layer_output(m, v, layer, train=False),
                                 jax.ShapeDtypeStruct(shape, jnp.float32))
            if channel is not None:
                F.check_channel(channel, out.shape[-1], fn, f"layer {layer or 'output'!r} (shape {out.shape})")
            checked = True
        graphdef, state = nnx.split(m)
        kx, kd = jax.random.split(jax.random.fold_in(key, s))
        x = jax.random.normal(kx, shape, jnp.float32)
        g = np.asarray(_erf_jit(graphdef, state, x, layer, None if channel is None else int(channel),
                                bool(train), kd), np.float64)[0]  # (H, W, C_in)
        acc_abs += np.abs(g).sum(axis=-1)
        acc_sq += (g**2).sum(axis=-1)
        acc_sig += g
    n = len(runs)
    if reduce == "mean_abs":
        total = acc_abs / n
    elif reduce == "abs_mean":
        total = np.abs(acc_sig / n).sum(axis=-1)
    else:
        total = np.sqrt(acc_sq / n)
    mass = total.sum()
    return total / mass if mass > 0 else total


def _centre_of_mass(erf):
    erf = np.asarray(erf, np.float64)
    if erf.ndim != 2:
        raise ValueError(f"erf must have shape (H, W), got {erf.shape}")
    mass = erf.sum()
    if not mass > 0:
        raise ValueError("erf has no mass (all zeros)")
    p = erf / mass
    ii, jj = np.indices(p.shape)
    return p, ii, jj, (p * ii).sum(), (p * jj).sum()


def erf_radius(erf, fraction: float = 0.95) -> float:
    """Smallest radius around the ERF's centre of mass holding ``fraction`` of its mass.

    Args:
      erf: (H, W), nonnegative. fraction: in (0, 1].
    Returns:
      the Euclidean distance (pixels) of the pixel at which the cumulative mass,
      taken in order of distance from the centre of mass, first reaches ``fraction``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"erf_radius: fraction={fraction!r} must be in (0, 1]")
    p, ii, jj, ci, cj = _centre_of_mass(erf)
    d = np.hypot(ii - ci, jj - cj).ravel()
    order = np.argsort(d, kind="stable")
    cum = np.cumsum(p.ravel()[order])
    k = int(np.searchsorted(cum, fraction * cum[-1] - 1e-12))
    return float(d[order][min(k, len(d) - 1)])


def erf_gaussian_sigma(erf) -> float:
    """Standard deviation of the Gaussian with the ERF's second moments: ``sqrt((var_row + var_col) / 2)``.

    Args:
      erf: (H, W), nonnegative (normalised or not).
    Returns:
      sigma in pixels (``sqrt(2L/3)`` for L uniform 3x3 linear convolutions).
    """
    p, ii, jj, ci, cj = _centre_of_mass(erf)
    var_i = (p * (ii - ci) ** 2).sum()
    var_j = (p * (jj - cj) ** 2).sum()
    return float(np.sqrt((var_i + var_j) / 2))


def plot_erf(erf, *, title: str | None = None, log: bool = False, fraction: float = 0.95):
    """Heat map of the ERF with the ``fraction``-mass radius drawn as a circle.

    Args:
      erf: (H, W). log: colour by ``log10`` of the ERF.
    Returns:
      a ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    e = np.asarray(erf, np.float64)
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot(1, 1, 1)
    img = np.log10(e + 1e-12) if log else e
    im = ax.imshow(img, cmap="inferno")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if e.sum() > 0:
        _, _, _, ci, cj = _centre_of_mass(e)
        r = erf_radius(e, fraction)
        ax.add_patch(Circle((cj, ci), r, fill=False, color="cyan", lw=1))
        sigma = erf_gaussian_sigma(e)
        ax.set_title(title or f"ERF: r{int(fraction * 100)}={r:.1f}px, sigma={sigma:.2f}px", fontsize=9)
    return fig


__all__ = ["REDUCTIONS", "effective_receptive_field", "erf_radius", "erf_gaussian_sigma", "plot_erf"]
