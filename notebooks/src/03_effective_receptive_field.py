# %% [markdown]
# # The effective receptive field (seed 002; Luo et al. 2016)
#
# Back-propagate 1 from the centre output unit (0 everywhere else) to the input:
# the gradient's magnitude shows which input pixels actually matter. For a stack
# of uniform 3x3 filters it is exactly a binomial, so it looks Gaussian and its
# width grows like sqrt(depth), while the theoretical receptive field grows like depth.

# %%
import sys

import numpy as np

sys.path.insert(0, "../experiments")
from erf import Stack  # the experiment's conv stack, built from jcnn.nn layers  # noqa: E402
from flax import nnx  # noqa: E402

from jcnn.analysis import effective_receptive_field, erf_gaussian_sigma, plot_erf, receptive_field  # noqa: E402

# %% [markdown]
# ## Uniform weights: the exact binomial

# %%
for depth in (1, 2, 4, 8):
    make = lambda seed, d=depth: Stack(d, channels=1, kernel_init="constant_0.1111111111111111", rngs=nnx.Rngs(seed))
    erf = effective_receptive_field(make, (33, 33, 1), samples=1)
    rf = list(receptive_field(make(0), (33, 33, 1)).values())[-1].size
    print(f"depth {depth}: ERF sigma {erf_gaussian_sigma(erf):.3f} (theory sqrt(2L/3) = {np.sqrt(2 * depth / 3):.3f}),"
          f" theoretical RF {rf}")

# %% [markdown]
# ## Random weights with ReLU, averaged over inputs and initialisations

# %%
make = lambda seed: Stack(8, relu=True, rngs=nnx.Rngs(seed))
erf = effective_receptive_field(make, (33, 33, 1), samples=4)
print("sigma:", round(erf_gaussian_sigma(erf), 3), "theoretical RF:", list(receptive_field(make(0), (33, 33, 1)).values())[-1].size)
plot_erf(erf, title="8 random 3x3 convs + ReLU")
