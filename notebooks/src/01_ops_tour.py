# %% [markdown]
# # A tour of `jcnn.ops`
#
# Convolution as mathematics (seeds 000 and 001): cross-correlation vs true
# convolution, output sizes, the hand-written backward pass, pooling, and the
# "X" template example. Every number below is computed by the library.

# %%
import jax
import jax.numpy as jnp
import numpy as np

from jcnn import ops
from jcnn.ops.demo import X_TEMPLATES, x_image

np.set_printoptions(precision=2, suppress=True)

# %% [markdown]
# ## Cross-correlation and true convolution
# Deep learning's "convolution" is cross-correlation; `flip=True` flips the
# kernel and gives the textbook convolution (here equal to `np.convolve`).

# %%
x = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])[None, :, None]  # (N=1, W=5, C=1)
k = jnp.array([1.0, 0.0, -1.0])[:, None, None]  # (K=3, C_in=1, C_out=1)
print("cross-correlation:", ops.conv(x, k)[0, :, 0])
print("true convolution: ", ops.conv(x, k, flip=True)[0, :, 0])
print("np.convolve:      ", np.convolve([1, 2, 3, 4, 5], [1, 0, -1], mode="valid"))

# %% [markdown]
# ## Output size: `(W - F + 2P) / S + 1`

# %%
for w_, f, p, s in [(32, 5, 0, 1), (227, 11, 0, 4), (224, 7, 3, 2), (55, 3, 0, 2)]:
    print(f"W={w_:3d} F={f:2d} P={p} S={s}: {ops.conv_output_size(w_, f, stride=s, padding=p)}")
print("ceil mode, 13 -> 3x3/2:", ops.conv_output_size(13, 3, stride=2, ceil_mode=True))

# %% [markdown]
# ## The backward pass by hand equals autodiff
# `dL/dK = xcorr(X, dL/dY)`, `dL/dX = full_conv(dL/dY, rot180(K))`.

# %%
key = jax.random.key(0)
x = jax.random.normal(key, (2, 9, 9, 4))
w = jax.random.normal(jax.random.fold_in(key, 1), (3, 3, 2, 6))
cfg = dict(stride=2, padding=((1, 2), (0, 1)), dilation=2, groups=2)
y, vjp = jax.vjp(lambda x, w: ops.conv(x, w, **cfg), x, w)
dy = jax.random.normal(jax.random.fold_in(key, 2), y.shape)
dx_auto, dw_auto = vjp(dy)
dx, dw = ops.conv_grads(x, w, dy, **cfg)
print("max |dx - autodiff|:", float(jnp.abs(dx - dx_auto).max()))
print("max |dw - autodiff|:", float(jnp.abs(dw - dw_auto).max()))

# %% [markdown]
# ## Seed 001's "X": templates, ReLU, max pooling

# %%
img = jnp.asarray(x_image())[None, :, :, None]  # (1, 9, 9, 1)
templates = jnp.asarray(X_TEMPLATES.transpose(1, 2, 0))[:, :, None, :]  # (3, 3, 1, 3)
maps = ops.conv(img, templates) / 9.0
print("correlation with the first diagonal template:\n", np.asarray(maps[0, :, :, 0]))
pooled = ops.max_pool(jax.nn.relu(maps), 2, ceil_mode=True)
print("ReLU + 2x2 max pooling:\n", np.asarray(pooled[0, :, :, 0]))

# %% [markdown]
# ## 1x1 convolution is a dense layer at every pixel

# %%
x = jax.random.normal(key, (2, 5, 5, 8))
w = jax.random.normal(jax.random.fold_in(key, 3), (8, 4))
print("max |pointwise_conv - dense|:", float(jnp.abs(ops.pointwise_conv(x, w) - ops.dense(x, w)).max()))
