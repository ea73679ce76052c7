# %% [markdown]
# # Inside a CNN
#
# Classical filters on a real photograph; a LeNet-5 trained for a few hundred steps (its
# first-layer kernels, feature maps, a filter visualised by gradient ascent, a saliency map,
# Zeiler & Fergus's 2014 deconvnet); then the same tools on an ImageNet VGG-16 (Simonyan &
# Zisserman 2015) with torchvision's weights when a weights file is given, plus Grad-CAM
# (Selvaraju et al. 2017).

# %%
import os
import tempfile

import jax
import numpy as np
import skimage.data
from IPython import get_ipython

import jcnn
import jcnn.data
import jcnn.models
import jcnn.train
from jcnn.analysis import (classical, deconvnet, feature_maps, grad_cam, plot_deconvnet, plot_feature_maps,
                           plot_filter_visualization, plot_filters, plot_saliency, saliency, visualize_filter)

get_ipython().run_line_magic("matplotlib", "inline")  # the figures jcnn.analysis returns display as images
get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['jpeg']")  # photographs: a small notebook

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
steps = int(os.environ.get("JCNN_NOTEBOOK_STEPS", "300"))  # the stored run's; the test suite runs fewer
workdir = tempfile.mkdtemp()
os.environ.setdefault("JCNN_DATA_DIR", os.path.join(workdir, "data"))
cfg = jcnn.train.load_config("lenet5_mnist", overrides=[f"train.steps={steps}", "eval.max_batches=2",
                                                        "checkpoint.every=0"])
print("test accuracy:", round(jcnn.train.train(cfg, workdir, progress=False, log=lambda m: None)["test_accuracy"], 3))
model = jcnn.train.load_model(workdir)  # the trained network, eval mode
images, labels = jcnn.data.source("mnist", "test").get_batch(np.arange(4))
x = jcnn.models.preprocess(cfg.model.name)(images)  # (4, 28, 28, 1), normalised as in training

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

# %% [markdown]
# ## A real network: VGG-16 on a photograph
#
# Set `JCNN_VGG16_WEIGHTS` to torchvision's `vgg16-397923af.pth` (from
# `https://download.pytorch.org/models/vgg16-397923af.pth`; reading it needs PyTorch) or to the
# `model.safetensors` of timm's `vgg16.tv_in1k` on the Hugging Face hub (no PyTorch needed).
# Without it the network has random weights, and the maps below show what an untrained
# network does: nothing learned.

# %%
weights_file = os.environ.get("JCNN_VGG16_WEIGHTS", "")
pretrained = bool(weights_file) and os.path.isfile(weights_file)
vgg = jcnn.models.create("vgg16", weights=weights_file if pretrained else None)
vgg.eval()
print(f"VGG-16 with ImageNet weights from {weights_file}" if pretrained else
      "No weights file (JCNN_VGG16_WEIGHTS unset): VGG-16 has RANDOM weights; nothing below is a learned feature.")
pre = jcnn.models.preprocess("vgg16")
photo = pre.image(skimage.data.chelsea())  # (224, 224, 3) uint8: shorter side to 256, centre crop
x = pre(photo[None])  # (1, 224, 224, 3), ImageNet mean/std
logits = jax.jit(lambda v: vgg(v))(x)
top5 = np.argsort(-np.asarray(logits[0]))[:5]
print("top-5 ImageNet classes:", top5.tolist(), "(281-285 are cats)")

# %% [markdown]
# ## Grad-CAM of the top class on the last convolution, and saliency in pixel space

# %%
cam = grad_cam(vgg, x, int(top5[0]), "stage5.convs.2.act")
pixel_net = jcnn.models.Preprocessed(vgg, "vgg16")  # takes [0, 1] pixels: gradients in pixel space
sal = saliency(pixel_net, photo[None] / np.float32(255), int(top5[0]))
print("Grad-CAM", cam.shape, "saliency", sal.shape)
plot_saliency(photo[None], cam, titles=("photo", "Grad-CAM, top class"))

# %%
plot_saliency(photo[None], sal / sal.max(), titles=("photo", "saliency (pixels)"))

# %% [markdown]
# ## Deconvnet projection of the strongest stage-4 channel, and one stage-3 channel visualised

# %%
act = feature_maps(vgg, x, ["stage4.convs.2.act"])["stage4.convs.2.act"]  # (1, 28, 28, 512)
channel = int(np.argmax(np.asarray(act).max(axis=(0, 1, 2))))
proj = deconvnet(vgg, x, "stage4.convs.2.act", channel, top="max")
print("channel", channel, "projection", proj.shape)
plot_deconvnet(proj, photo[None])

# %%
vis = visualize_filter(vgg, "stage3.convs.2.act", 7, steps=5, octaves=2, start_size=48, seed=0)
print("activation before / after:", round(float(vis.history[0]), 3), round(float(vis.history[-1]), 3))
plot_filter_visualization(vis, title="stage3.convs.2 channel 7")
