"""Adversarial examples (Szegedy et al. 2014, section 4): FGSM, PGD, and mixing them into a batch.

All three are pure functions of arrays and a ``loss_fn(x, y) -> scalar`` (e.g.
the mean cross-entropy of a model closed over, or of ``jcnn.nn.apply`` with
the state bound), so they can be used inside a jitted training step.

- :func:`fgsm` (Goodfellow, Shlens & Szegedy 2015): ``x + eps * sign(grad_x loss)``.
- :func:`pgd` (Madry et al. 2018): ``steps`` signed-gradient steps of
  ``step_size``, each projected back into the L-infinity ball of radius ``eps``
  around ``x`` (and into ``clip``), from a uniform random start in the ball.
- :func:`adversarial_batch`: a fraction of a batch replaced by their
  adversarial versions, for adversarial training.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _check(fn, eps, clip):
    if isinstance(eps, (int, float, np.number)) and not eps >= 0:
        raise ValueError(f"{fn}: eps={eps!r} must be >= 0")
    if clip is not None and (len(clip) != 2 or not clip[0] < clip[1]):
        raise ValueError(f"{fn}: clip={clip!r} must be None or (lo, hi) with lo < hi")


def _clip(x, clip):
    return x if clip is None else jnp.clip(x, clip[0], clip[1])


def fgsm(loss_fn, x, y, *, eps, clip=(0.0, 1.0)):
    """Fast gradient sign method: one step of ``eps * sign(d loss / d x)``.

    Args:
      loss_fn: ``loss_fn(x, y) -> scalar``, differentiable in ``x``.
      x: inputs, e.g. (N, H, W, C). y: targets, passed to ``loss_fn``.
      eps: step (L-infinity radius). clip: ``(lo, hi)`` valid pixel range, or None.
    Returns:
      adversarial inputs, the shape and dtype of ``x``.
    """
    _check("fgsm", eps, clip)
    g = jax.grad(loss_fn)(x, y)
    return _clip(x + eps * jnp.sign(g).astype(x.dtype), clip)


def pgd(loss_fn, x, y, *, eps, steps: int = 10, step_size=None, seed=0, random_start: bool = True,
        clip=(0.0, 1.0)):
    """Projected gradient descent on the loss (ascent), in the L-infinity ball of radius ``eps``.

    Args:
      loss_fn: ``loss_fn(x, y) -> scalar``. x: inputs. y: targets.
      eps: radius of the ball around ``x``. steps: number of steps (>= 1).
      step_size: per-step size; default ``2.5 * eps / steps``.
      seed: an int or a PRNG key, for the random start.
      random_start: start at ``x + uniform(-eps, eps)`` (else at ``x``).
      clip: ``(lo, hi)`` valid range, or None.
    Returns:
      adversarial inputs with ``|x_adv - x| <= eps`` elementwise.
    """
    fn = "pgd"
    _check(fn, eps, clip)
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{fn}: steps={steps!r} must be a positive int")
    step_size = 2.5 * eps / steps if step_size is None else step_size
    key = jax.random.key(seed) if isinstance(seed, (int, np.integer)) else seed
    lo, hi = x - eps, x + eps
    if clip is not None:
        lo, hi = jnp.maximum(lo, clip[0]), jnp.minimum(hi, clip[1])
    x0 = x
    if random_start:
        x0 = x + jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0) * eps
    x0 = jnp.clip(x0, lo, hi)
    grad = jax.grad(loss_fn)

    def body(_, xa):
        xa = xa + step_size * jnp.sign(grad(xa, y)).astype(x.dtype)
        return jnp.clip(xa, lo, hi)

    return jax.lax.fori_loop(0, steps, body, x0)


def adversarial_batch(loss_fn, x, y, *, fraction: float, method: str = "fgsm", eps, key=None, steps: int = 10,
                      step_size=None, random_start: bool = True, clip=(0.0, 1.0), return_mask: bool = False):
    """Replace ``round(fraction * N)`` examples of a batch by adversarial ones (adversarial training).

    The attacked examples are the first ones, or a random subset when ``key`` is
    given; the attack's gradient is that of ``loss_fn`` on the attacked subset.
    Pure and jit-able (``fraction``, ``method``, ``steps`` static).

    Args:
      loss_fn: ``loss_fn(x, y) -> scalar``. x: (N, ...) inputs. y: (N, ...) targets.
      fraction: in [0, 1]. method: ``"fgsm"`` or ``"pgd"``. eps: attack radius.
      key: PRNG key choosing the subset (and PGD's random start); None: the first examples.
      steps, step_size, random_start: PGD's. clip: valid range, or None.
      return_mask: also return the (N,) bool mask of replaced examples.
    Returns:
      ``x_new`` (the shape of ``x``), or ``(x_new, mask)``.
    """
    fn = "adversarial_batch"
    if not 0 <= fraction <= 1:
        raise ValueError(f"{fn}: fraction={fraction!r} must be in [0, 1]")
    if method not in ("fgsm", "pgd"):
        raise ValueError(f"{fn}: method={method!r} must be 'fgsm' or 'pgd'")
    n = x.shape[0]
    k = int(round(fraction * n))
    if key is None:
        idx, kp = jnp.arange(k), jax.random.key(0)
    else:
        ks, kp = jax.random.split(key)
        idx = jax.random.permutation(ks, n)[:k]
    mask = jnp.zeros(n, bool).at[idx].set(True)
    if k == 0:
        return (x, mask) if return_mask else x
    xs = x[idx]
    ys = jax.tree.map(lambda a: a[idx], y)
    if method == "fgsm":
        adv = fgsm(loss_fn, xs, ys, eps=eps, clip=clip)
    else:
        adv = pgd(loss_fn, xs, ys, eps=eps, steps=steps, step_size=step_size, seed=kp, random_start=random_start,
                  clip=clip)
    x_new = x.at[idx].set(adv)
    return (x_new, mask) if return_mask else x_new
