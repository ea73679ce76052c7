"""Pure, jittable steps: ``train_step(state, batch, step) -> (state, metrics)`` and ``eval_step``.

No logging, checkpointing, host callbacks or float64 in here: a step is one
XLA program that a GPU or TPU runs without waiting for the host. Randomness
comes only from ``fold_in(key(seed), step)``: one sub-key for augmentation,
one for dropout (classification), or for the latent noise and each network's
dropout (GAN).

Mixed precision (``train.precision="bfloat16"``), the policy of Micikevicius
et al. 2018 (section 3) as the Flax ImageNet example and timm's AMP apply it:
parameters and optimiser state stay float32; images are standardised straight
into bfloat16, so every layer runs its convolution or matrix product in
bfloat16 on its float32 parameters cast at the call (:mod:`jcnn.nn`);
BatchNorm statistics and normalisation, the softmax and the loss are float32;
gradients arrive in float32 through those casts. No loss scaling: bfloat16 has
float32's exponent range (Kalamkar et al. 2019; only float16 needs it).

Gradient accumulation (``train.accum_steps = k``): the global batch is split
into k micro-batches of N / k examples, run one after another in a
``lax.scan``; their mean gradient gives one optimiser update, so the update is
the one of the whole batch while only N / k examples' activations are live.
Micro-batch ``i`` takes rows ``i, i + k, i + 2k, ...``: each device's
contiguous shard of the batch holds an equal part of every micro-batch, so no
data moves between devices. Without BatchNorm this is the big batch's maths
exactly (up to float summation order). With BatchNorm, each micro-batch is
normalised with its own moments (a "ghost batch" of N / k, Hoffer et al.
2017; the same as per-device BN under data parallelism, Goyal et al. 2017,
section 2.3), and the running statistics are updated k times per step,
once per micro-batch, as k small steps would; the gradient therefore differs
from the big batch's by the difference between micro- and whole-batch moments.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jcnn import nn, ops

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(cfg):
    if cfg.train.precision not in _DTYPES:
        raise ValueError(f"train.precision={cfg.train.precision!r}: expected one of {tuple(_DTYPES)}")
    return _DTYPES[cfg.train.precision]


def check(cfg) -> None:
    """Validate the step's config fields (precision, accumulation) before anything is built. Raises ValueError."""
    compute_dtype(cfg)
    k, b = cfg.train.accum_steps, cfg.train.batch_size
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"train.accum_steps={k!r}: must be a positive int (1 = no accumulation)")
    if b % k:
        raise ValueError(f"train.accum_steps={k} must divide train.batch_size={b} (micro-batches of equal size)")
    if k > 1 and cfg.task == "gan":
        raise ValueError(f"train.accum_steps={k}: gradient accumulation is for task='classify' only, "
                         f"not {cfg.task!r}")


def forward(net, params, batch_stats, rngs, x, *, train: bool, key=None):
    """A split network (:class:`jcnn.train.state.Net`) on ``x`` as a pure function: ``-> (y, new_batch_stats)``.

    ``key`` reseeds every dropout stream first (training); the returned batch
    statistics have ``batch_stats``' structure (unchanged in evaluation).
    """
    y, (_, new_stats, _) = nn.apply(net.graphdef, (params, batch_stats, rngs), x, train=train, rngs=key)
    return y, new_stats


def make_preprocess(cfg):
    """``fn(images, *, step=None, indices=None) -> model input``: augment (train), pad, normalise, cast."""
    mean, std = tuple(cfg.data.mean), tuple(cfg.data.std)
    pad, dtype = int(cfg.data.pad), compute_dtype(cfg)
    augment = None
    if cfg.data.augment:
        from jcnn.data import augment as aug  # the data package owns augmentation ops
        augment = (aug.build(cfg.data.augment), aug.apply_batch)

    aug_key = jax.random.fold_in(jax.random.key(int(cfg.seed)), 0xA06)  # per-example: fold_in(step, index)

    def preprocess(images, *, step=None, indices=None):
        x = images  # (N, H, W, C): uint8 pixels, or floats in [0, 1]
        if augment is not None and step is not None:
            if jnp.issubdtype(x.dtype, jnp.integer):
                x = x.astype(jnp.float32) * np.float32(1 / 255)  # augmentation ops work in [0, 1]
            fn, apply_batch = augment
            x = apply_batch(fn, aug_key, x, indices, step=step)
        return ops.standardize_images(x, mean=mean, std=std, pad=pad, dtype=dtype)

    return preprocess


def _step_keys(seed, step, n):
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), step), n)


def _micro_batches(a, k):
    """(N, ...) -> (k, N / k, ...); micro-batch ``i`` holds rows ``i, i + k, ...`` (see the module docstring)."""
    return jnp.swapaxes(a.reshape(a.shape[0] // k, k, *a.shape[1:]), 0, 1)


def make_classify_steps(cfg, net, tx, lr_schedule):
    """``(train_step, eval_step)`` for a classifier ``net`` (a :class:`jcnn.train.state.Net`)."""
    check(cfg)
    preprocess, dtype = make_preprocess(cfg), compute_dtype(cfg)
    num_classes, smoothing, seed = int(cfg.model.num_classes), float(cfg.train.label_smoothing), int(cfg.seed)
    accum = int(cfg.train.accum_steps)

    adv = cfg.train.adversarial
    std, mean = np.asarray(cfg.data.std, np.float32), np.asarray(cfg.data.mean, np.float32)
    # The attack runs on normalised inputs: pixel-unit eps and the [0, 1] range, mapped through (x - mean) / std.
    adv_eps = float(adv.eps) / float(std.mean())
    adv_clip = (float(np.min((0.0 - mean) / std)), float(np.max((1.0 - mean) / std)))

    def attack(state, x, labels, key):
        """Replace ``adv.fraction`` of the batch by adversarial examples of the current model (eval mode)."""
        def loss(xa, ya):
            logits, _ = forward(net, state["params"], state["batch_stats"], state["rngs"], xa.astype(dtype),
                                train=False)
            return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), ya).mean()

        x_adv = ops.adversarial_batch(loss, x.astype(jnp.float32), labels, fraction=float(adv.fraction),
                                      method=adv.method, eps=adv_eps, key=key, steps=int(adv.steps), clip=adv_clip)
        return jax.lax.stop_gradient(x_adv).astype(x.dtype)

    def grads_of(state, batch_stats, x, labels, k_drop, k_adv):
        """One (micro-)batch: ``(grads, new_batch_stats, mean loss, accuracy)``, all float32."""
        if adv.fraction > 0:
            x = attack(dict(state, batch_stats=batch_stats), x, labels, k_adv)
        targets = jax.nn.one_hot(labels, num_classes)
        if smoothing:
            targets = optax.smooth_labels(targets, smoothing)

        def loss_fn(params):
            logits, stats = forward(net, params, batch_stats, state["rngs"], x, train=True, key=k_drop)
            logits = logits.astype(jnp.float32)  # (N, num_classes): softmax and loss in float32
            return optax.softmax_cross_entropy(logits, targets).mean(), (logits, stats)

        (loss, (logits, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        return grads, stats, loss, jnp.mean(jnp.argmax(logits, -1) == labels).astype(jnp.float32)

    def train_step(state, batch, step):
        (k_drop,) = _step_keys(seed, step, 1)
        k_adv = jax.random.fold_in(k_drop, 0xAD7)  # derived, so runs without the attack keep their keys
        x = preprocess(batch["image"], step=step, indices=batch["index"])
        labels = batch["label"]
        if accum == 1:
            grads, stats, loss, acc = grads_of(state, state["batch_stats"], x, labels, k_drop, k_adv)
        else:
            if x.shape[0] % accum:
                raise ValueError(f"train_step: train.accum_steps={accum} must divide the batch's "
                                 f"{x.shape[0]} examples; image {tuple(batch['image'].shape)}")

            def micro(carry, inp):
                g_sum, stats = carry
                i, xi, li = inp
                g, stats, loss, acc = grads_of(state, stats, xi, li, jax.random.fold_in(k_drop, i),
                                               jax.random.fold_in(k_adv, i))
                return (jax.tree.map(jnp.add, g_sum, g), stats), (loss, acc)

            zeros = jax.tree.map(jnp.zeros_like, state["params"])
            (g_sum, stats), (losses, accs) = jax.lax.scan(
                micro, (zeros, state["batch_stats"]),
                (jnp.arange(accum), _micro_batches(x, accum), _micro_batches(labels, accum)))
            grads = jax.tree.map(lambda g: g / accum, g_sum)
            loss, acc = jnp.mean(losses), jnp.mean(accs)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new_state = dict(state, step=state["step"] + 1, params=params, opt_state=opt_state, batch_stats=stats)
        metrics = {"loss": loss, "accuracy": acc, "grad_norm": optax.tree.norm(grads), "lr": lr_schedule(step)}
        return new_state, {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

    def eval_step(state, batch):
        """Sums over the batch (``batch["mask"]`` marks real examples): loss, top-1, top-5, per class."""
        x = preprocess(batch["image"])
        logits, _ = forward(net, state["params"], state["batch_stats"], state["rngs"], x, train=False)
        logits = logits.astype(jnp.float32)
        labels, mask = batch["label"], batch["mask"]
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        top1 = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
        k = min(5, num_classes)
        topk = jnp.any(jax.lax.top_k(logits, k)[1] == labels[:, None], axis=-1).astype(jnp.float32)
        onehot = jax.nn.one_hot(labels, num_classes) * mask[:, None]
        return {"loss": jnp.sum(loss * mask), "top1": jnp.sum(top1 * mask), "top5": jnp.sum(topk * mask),
                "count": jnp.sum(mask), "class_correct": jnp.sum(onehot * top1[:, None], 0),
                "class_count": jnp.sum(onehot, 0)}

    return train_step, eval_step


def make_gan_step(cfg, nets, tx, lr_schedule):
    """``train_step`` of a DCGAN: one discriminator update, then one generator update (non-saturating).

    The discriminator outputs logits (N,); both losses are sigmoid
    cross-entropies on them, in float32. Real images are normalised by
    ``data.mean/std`` (to [-1, 1], the generator's tanh range).
    """
    check(cfg)
    preprocess, dtype = make_preprocess(cfg), compute_dtype(cfg)
    seed, latent = int(cfg.seed), int(cfg.model.latent_dim)
    g, d = nets["g"], nets["d"]

    def bce(logits, target):
        return optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32), jnp.full(logits.shape, target)).mean()

    def train_step(state, batch, step):
        k_z, k_gd, k_dd, k_gg, k_dg = _step_keys(seed, step, 5)
        real = preprocess(batch["image"], step=step, indices=batch["index"])
        z = jax.random.normal(k_z, (real.shape[0], latent), jnp.float32).astype(dtype)
        p, s, r = state["params"], state["batch_stats"], state["rngs"]

        def d_loss_fn(pd):
            fake, g_stats = forward(g, p["g"], s["g"], r["g"], z, train=True, key=k_gd)
            fake = jax.lax.stop_gradient(fake)
            real_logits, d_stats = forward(d, pd, s["d"], r["d"], real, train=True, key=k_dd)
            fake_logits, d_stats = forward(d, pd, d_stats, r["d"], fake, train=True, key=k_dd)
            loss = bce(real_logits, 1.0) + bce(fake_logits, 0.0)
            acc = 0.5 * (jnp.mean(real_logits > 0) + jnp.mean(fake_logits < 0))
            return loss, (acc, g_stats, d_stats)

        (d_loss, (acc, g_stats, d_stats)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(p["d"])
        d_upd, d_opt = tx["d"].update(d_grads, state["opt_state"]["d"], p["d"])
        new_pd = optax.apply_updates(p["d"], d_upd)

        def g_loss_fn(pg):
            fake, stats = forward(g, pg, s["g"], r["g"], z, train=True, key=k_gg)
            logits, _ = forward(d, new_pd, d_stats, r["d"], fake, train=True, key=k_dg)
            return bce(logits, 1.0), stats

        (g_loss, g_stats), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(p["g"])
        g_upd, g_opt = tx["g"].update(g_grads, state["opt_state"]["g"], p["g"])
        new_state = dict(state, step=state["step"] + 1,
                         params={"g": optax.apply_updates(p["g"], g_upd), "d": new_pd},
                         opt_state={"g": g_opt, "d": d_opt}, batch_stats={"g": g_stats, "d": d_stats})
        metrics = {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss, "accuracy": acc,
                   "lr": lr_schedule(step)}
        return new_state, {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

    return train_step


def interval_zeros(metrics) -> dict:
    """The empty interval of :func:`with_interval`, on the host: zero sums shaped like ``metrics``.

    ``metrics``: the step's metrics dict (arrays or ``jax.ShapeDtypeStruct``, e.g.
    from ``jax.eval_shape``). ``first_bad`` is -1 while every step was finite.
    """
    return {"sums": {k: np.zeros(v.shape, np.float32) for k, v in metrics.items()},
            "count": np.zeros((), np.int32), "finite": np.ones((), np.bool_), "first_bad": np.full((), -1, np.int32)}


def _all_finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def with_interval(train_step):
    """``loop_step(state, interval, batch) -> (state, interval)``: ``train_step`` at ``state["step"]``, with
    the metrics summed on the device over the logging interval.

    The host reads ``interval`` only at logging, evaluation and checkpoint steps,
    so the steps between run without a device-to-host transfer (and the step
    number comes from the state, without a host-to-device one). ``interval``
    holds ``sums`` (each metric summed), ``count`` (steps summed), ``finite``
    (the loss, the new parameters and, where the step reports it, the gradient
    norm were finite at every step so far) and ``first_bad`` (the 1-based number
    of the first step that was not, -1 if none), kept with ``jnp.where`` so it
    survives later steps. See :func:`interval_zeros`.
    """
    def loop_step(state, interval, batch):
        step = state["step"]
        state, metrics = train_step(state, batch, step)
        ok = jnp.isfinite(metrics["loss"]) & _all_finite(state["params"])
        if "grad_norm" in metrics:
            ok &= jnp.isfinite(metrics["grad_norm"])
        first_bad = jnp.where(interval["finite"] & ~ok, step + 1, interval["first_bad"])
        return state, {"sums": jax.tree.map(jnp.add, interval["sums"], metrics), "count": interval["count"] + 1,
                       "finite": interval["finite"] & ok, "first_bad": first_bad.astype(jnp.int32)}

    return loop_step
