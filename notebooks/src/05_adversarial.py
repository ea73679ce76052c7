# %% [markdown]
# # Adversarial examples (seed 000's "flying pig")
#
# One gradient-sign step on the input (FGSM, Goodfellow et al. 2015) flips a
# classifier's answer while the image barely changes. Here a small LeNet-5 is
# trained for a few hundred steps on MNIST with `jcnn.train`, then attacked with
# `jcnn.analysis.fgsm` and `pgd`.

# %%
import os
import tempfile

import jax.numpy as jnp
import numpy as np
import optax

import jcnn
import jcnn.data
import jcnn.train
from jcnn.analysis import fgsm, pgd

# The stored run's setting; the test suite sets these smaller to check that the notebook runs.
steps = int(os.environ.get("JCNN_NOTEBOOK_STEPS", "300"))
n_digits = int(os.environ.get("JCNN_NOTEBOOK_DIGITS", "500"))

workdir = tempfile.mkdtemp()
os.environ.setdefault("JCNN_DATA_DIR", os.path.join(workdir, "data"))
cfg = jcnn.train.load_config("lenet5_mnist", overrides=[f"train.steps={steps}", "eval.max_batches=2",
                                                        "checkpoint.every=0"])
summary = jcnn.train.train(cfg, workdir, progress=False, log=lambda m: None)
print(f"test accuracy after {summary['step']} steps: {summary['test_accuracy']:.3f}")

# %%
model = jcnn.train.load_model(workdir)  # the trained network, eval mode; it takes normalised input


def net_input(x):  # pixels in [0, 1] -> the input the training step fed the network
    return jcnn.ops.standardize_images(x, mean=cfg.data.mean, std=cfg.data.std, pad=cfg.data.pad)


src = jcnn.data.source("mnist", "test")
images, labels = src.get_batch(np.arange(n_digits))
x = jnp.asarray(images, jnp.float32) / 255.0  # (n_digits, 28, 28, 1) in [0, 1]
y = jnp.asarray(labels)


def loss_fn(x, y):
    logits = model(net_input(x))
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def accuracy(x):
    return float(jnp.mean(jnp.argmax(model(net_input(x)), -1) == y))


print(f"{'eps':>5} {'FGSM':>6} {'PGD':>6}")
for eps in (0.0, 0.05, 0.1, 0.2):
    xf = fgsm(loss_fn, x, y, eps=eps)
    xp = pgd(loss_fn, x, y, eps=eps, steps=5, seed=0) if eps else x
    print(f"{eps:5.2f} {accuracy(xf):6.3f} {accuracy(xp):6.3f}")

# %% [markdown]
# The perturbation is `eps * sign(gradient)`: every pixel moves by exactly eps.

# %%
import matplotlib.pyplot as plt  # noqa: E402

xf = fgsm(loss_fn, x[:1], y[:1], eps=0.2)
fig, axes = plt.subplots(1, 3, figsize=(6, 2))
for ax, img, title in zip(axes, [x[0], xf[0] - x[0], xf[0]], ["clean", "perturbation", "adversarial"]):
    ax.imshow(np.asarray(img[..., 0]), cmap="gray")
    ax.set_title(title)
    ax.axis("off")
pred = int(jnp.argmax(model(net_input(xf)), -1)[0])
print("label", int(y[0]), "-> prediction on the adversarial image", pred)
