# %% [markdown]
# # LeNet-5 end to end
#
# The `lenet5_mnist` config, a short training run with `jcnn.train` (a small
# setting: 150 steps on a 2,000-digit MNIST subset, so it runs in seconds),
# the learning curve from `metrics.jsonl`, and per-class accuracy plus a
# confusion matrix on the test digits. The full setting (10 epochs, 0.96%
# test error here) is `python experiments/lenet5_mnist.py`.

# %%
import pathlib
import sys
import tempfile

import jax
import matplotlib.pyplot as plt
import numpy as np

import jcnn
import jcnn.train

sys.path.insert(0, str(pathlib.Path("../experiments").resolve()))
sys.path.insert(0, str(pathlib.Path("experiments").resolve()))
import _subsets  # noqa: E402  (experiments/_subsets.py: a class-balanced MNIST subset as a data set)

# %% [markdown]
# ## The config

# %%
base = jcnn.train.load_config("lenet5_mnist")
print(base.model.name, "| optimizer", base.optimizer.name, base.optimizer.lr, "| steps", base.train.steps,
      "| batch", base.train.batch_size)
jcnn.summary(jcnn.models.create("lenet5_modern"), (28, 28, 1));

# %% [markdown]
# ## A short run

# %%
tmp = pathlib.Path(tempfile.mkdtemp(prefix="nb06_"))
data = _subsets.mnist_subset(tmp / "data", 2000, 1000)
cfg = jcnn.train.load_config("lenet5_mnist", overrides=[
    f"data.name={data}", f"data.data_dir={tmp / 'data'}", "train.steps=150", "train.batch_size=64",
    "train.log_every=10", "eval.every=50", "checkpoint.every=0", "checkpoint.keep=1", "schedule.warmup_steps=10"])
summary = jcnn.train.train(cfg, tmp / "run", progress=False, log=lambda m: None)
print(f"test accuracy {100 * summary['test_accuracy']:.2f}% after {summary['step']} steps")

# %% [markdown]
# ## Learning curve

# %%
records = jcnn.train.read_metrics(tmp / "run")
tr = [r for r in records if r["split"] == "train"]
ev = [r for r in records if r["split"] in ("eval", "test")]
fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
a1.plot([r["step"] for r in tr], [r["loss"] for r in tr]); a1.set(xlabel="step", ylabel="training loss")
a2.plot([r["step"] for r in ev], [100 * r["accuracy"] for r in ev], "o-"); a2.set(xlabel="step", ylabel="test accuracy (%)")
fig.tight_layout()

# %% [markdown]
# ## Per-class accuracy and confusion matrix
# `jcnn.train.predictor` rebuilds the trained network from the checkpoint (eval mode) with the run's
# preprocessing (padding, mean/std), so it takes the pipeline's raw images; `jcnn.train.load_model` is the
# bare network (normalised input);
# `jcnn.train.load` gives the raw pytrees (parameters, statistics, optimiser state).

# %%
# The trained network with the run's own preprocessing: raw uint8 batches in, logits out.
predict = jcnn.train.predictor(tmp / "run")
batch = next(iter(jcnn.data.pipeline(data, "test", batch_size=1000, seed=0, num_epochs=1, shuffle=False,
                                      drop_remainder=False, data_dir=str(tmp / "data"))))
pred = np.asarray(jax.numpy.argmax(predict(batch["image"]), -1))
labels = np.asarray(batch["label"])
confusion = np.zeros((10, 10), int)
np.add.at(confusion, (labels, pred), 1)
print("per-class accuracy:", np.round(confusion.diagonal() / confusion.sum(1), 3))
print("overall:", (pred == labels).mean(), "| trainer's per-class:", np.round(summary["per_class_accuracy"], 3))
plt.figure(figsize=(4, 4)); plt.imshow(confusion, cmap="Blues"); plt.xlabel("predicted"); plt.ylabel("true")
plt.title("confusion matrix");
