"""Pure, jittable steps: ``train_step(state, batch, step) -> (state, metrics)`` and ``eval_step``.

No logging or checkpointing in here. Randomness comes only from
``fold_in(key(seed), step)``: one sub-key for augmentation, one for dropout
(classification), or for the latent noise and each network's dropout (GAN).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jcnn import ops
from jcnn.train.state import run_model

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(cfg):
    if cfg.train.precision not in _DTYPES:
        raise ValueError(f"train.precision={cfg.train.precision!r}: expected one of {tuple(_DTYPES)}")
    return _DTYPES[cfg.train.precision]


def _cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _restore_dtypes(new, old):
    return jax.tree.map(lambda n, o: n.astype(o.dtype), new, old)


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


def make_classify_steps(cfg, net, tx, lr_schedule):
    """``(train_step, eval_step)`` for a classifier ``net`` (a :class:`jcnn.train.state.Net`)."""
    preprocess, dtype = make_preprocess(cfg), compute_dtype(cfg)
    num_classes, smoothing, seed = int(cfg.model.num_classes), float(cfg.train.label_smoothing), int(cfg.seed)

    adv = cfg.train.adversarial
    std, mean = np.asarray(cfg.data.std, np.float32), np.asarray(cfg.data.mean, np.float32)
    # The attack runs on normalised inputs: pixel-unit eps and the [0, 1] range, mapped through (x - mean) / std.
    adv_eps = float(adv.eps) / float(std.mean())
    adv_clip = (float(np.min((0.0 - mean) / std)), float(np.max((1.0 - mean) / std)))

    def attack(state, x, labels, key):
        """Replace ``adv.fraction`` of the batch by adversarial examples of the current model (eval mode)."""
        def loss(xa, ya):
            logits, _ = run_model(net, _cast(state["params"], dtype), state["batch_stats"], state["rngs"], xa,
                                  train=False)
            return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), ya).mean()

        x_adv = ops.adversarial_batch(loss, x.astype(jnp.float32), labels, fraction=float(adv.fraction),
                                      method=adv.method, eps=adv_eps, key=key, steps=int(adv.steps), clip=adv_clip)
        return jax.lax.stop_gradient(x_adv).astype(x.dtype)

    def train_step(state, batch, step):
        (k_drop,) = _step_keys(seed, step, 1)
        k_adv = jax.random.fold_in(k_drop, 0xAD7)  # derived, so runs without the attack keep their keys
        x = preprocess(batch["image"], step=step, indices=batch["index"])
        if adv.fraction > 0:
            x = attack(state, x, batch["label"], k_adv)
        targets = optax.smooth_labels(jax.nn.one_hot(batch["label"], num_classes), smoothing) \
            if smoothing else jax.nn.one_hot(batch["label"], num_classes)

        def loss_fn(params):
            logits, stats = run_model(net, _cast(params, dtype), state["batch_stats"], state["rngs"], x,
                                      train=True, key=k_drop)
            logits = logits.astype(jnp.float32)  # (N, num_classes)
            return optax.softmax_cross_entropy(logits, targets).mean(), (logits, stats)

        (loss, (logits, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new_state = dict(state, step=state["step"] + 1, params=params, opt_state=opt_state,
                         batch_stats=_restore_dtypes(stats, state["batch_stats"]))
        metrics = {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"]),
                   "grad_norm": optax.global_norm(grads), "lr": lr_schedule(step)}
        return new_state, metrics

    def eval_step(state, batch):
        """Sums over the batch (``batch["mask"]`` marks real examples): loss, top-1, top-5, per class."""
        x = preprocess(batch["image"])
        logits, _ = run_model(net, _cast(state["params"], dtype), state["batch_stats"], state["rngs"], x,
                              train=False)
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
    cross-entropies on them. Real images are normalised by ``data.mean/std``
    (to [-1, 1], the generator's tanh range).
    """
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
            fake, g_stats = run_model(g, _cast(p["g"], dtype), s["g"], r["g"], z, train=True, key=k_gd)
            fake = jax.lax.stop_gradient(fake)
            pd = _cast(pd, dtype)
            real_logits, d_stats = run_model(d, pd, s["d"], r["d"], real, train=True, key=k_dd)
            fake_logits, d_stats = run_model(d, pd, d_stats, r["d"], fake.astype(dtype), train=True, key=k_dd)
            loss = bce(real_logits, 1.0) + bce(fake_logits, 0.0)
            acc = 0.5 * (jnp.mean(real_logits > 0) + jnp.mean(fake_logits < 0))
            return loss, (acc, g_stats, d_stats)

        (d_loss, (acc, g_stats, d_stats)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(p["d"])
        d_upd, d_opt = tx["d"].update(d_grads, state["opt_state"]["d"], p["d"])
        new_pd = optax.apply_updates(p["d"], d_upd)

        def g_loss_fn(pg):
            fake, stats = run_model(g, _cast(pg, dtype), s["g"], r["g"], z, train=True, key=k_gg)
            logits, _ = run_model(d, _cast(new_pd, dtype), d_stats, r["d"], fake.astype(dtype), train=True,
                                  key=k_dg)
            return bce(logits, 1.0), stats

        (g_loss, g_stats), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(p["g"])
        g_upd, g_opt = tx["g"].update(g_grads, state["opt_state"]["g"], p["g"])
        new_state = dict(state, step=state["step"] + 1,
                         params={"g": optax.apply_updates(p["g"], g_upd), "d": new_pd},
                         opt_state={"g": g_opt, "d": d_opt},
                         batch_stats={"g": _restore_dtypes(g_stats, s["g"]), "d": _restore_dtypes(d_stats, s["d"])})
        metrics = {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss, "accuracy": acc,
                   "lr": lr_schedule(step)}
        return new_state, metrics

    return train_step
