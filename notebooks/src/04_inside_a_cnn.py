# %% [markdown]
# # Inside a CNN (seeds 000 and 003)
#
# Classical filters on a real photograph, then a LeNet-5 trained for a few hundred
# steps: its first-layer kernels, feature maps, a filter visualised by gradient
# ascent, a saliency map, and ZFNet's deconvnet projection.

# %%
import os
import tempfile

import jax.numpy as jnp
import numpy as np

import jcnn
import jcnn.data
import jcnn.train
from jcnn.analysis import (classical, deconvnet, feature_maps, plot_feature_maps, plot_filters, saliency,
                           visualize_filter)

# %% [markdown]
# ## Sobel, blur and sharpen on scikit-image's camera photo (`jcnn.ops.conv`)

# %%
res = classical.demo()
print({k: v.shape for k, v in res.items()})
print("largest gradient magnitude:", float(res["gradient_magnitude"].max()))
classical.plot_classical(res)

# %% [markdown]
# ## A briefly trained LeNet-5

# %%
workdir = tempfile.mkdtemp()
os.environ.setdefault("JCNN_DATA_DIR", os.path.join(workdir, "data"))
cfg = jcnn.train.load_config("lenet5_mnist", overrides=["train.steps=300", "eval.max_batches=2", "checkpoint.every=0"])
print("test accuracy:", round(jcnn.train.train(cfg, workdir, progress=False, log=lambda m: None)["test_accuracy"], 3))
model = jcnn.train.load_model(workdir)  # the trained network, eval mode
images, labels = jcnn.data.source("mnist", "test").get_batch(np.arange(4))
x = (jnp.asarray(images, jnp.float32) / 255.0 - 0.1307) / 0.3081  # (4, 28, 28, 1), normalised as in training

# %%
plot_filters(model)  # conv1's six 5x5 kernels

# %%
maps = feature_maps(model, x, ["conv1", "act2"])
print({k: v.shape for k, v in maps.items()})
plot_feature_maps(maps["conv1"])

# %% [markdown]
# ## A conv2 channel visualised by gradient ascent, started small and upscaled

# %%
vis = visualize_filter(model, "conv2", 3, steps=10, octaves=3, start_size=20, in_channels=1, seed=0)
print("activation before / after:", round(float(vis.history[0]), 3), round(float(vis.history[-1]), 3),
      "image sizes:", vis.sizes)

# %% [markdown]
# ## Saliency and the deconvnet projection of conv2, channel 3

# %%
s = saliency(model, x, labels)
proj = deconvnet(model, x, "conv2", 3)
print("saliency", s.shape, "projection", proj.shape)
