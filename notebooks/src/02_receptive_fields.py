# %% [markdown]
# # Receptive fields, traced from the models themselves
#
# Seed 002: the theoretical receptive field (RF) of a unit is the input region it
# can see. `jcnn.analysis.receptive_field` traces it through a model's jaxpr
# (convolutions, pooling, dilation, parallel branches), so it holds for any model,
# including your own. `jcnn.summary` shows it beside shapes, parameters and FLOPs.

# %%
from flax import nnx

import jcnn
from jcnn import nn
from jcnn.analysis import receptive_field, receptive_field_of_stack

# %% [markdown]
# ## Seed 002's worked examples
# Two 3x3 convolutions with stride 2 and padding 1 see 3 then 7 pixels; with
# stride 1, 3 then 5. Dilation 2 grows the field without subsampling.

# %%
for label, stack in [("3x3/s2/p1 twice", [(3, 2, 1), (3, 2, 1)]),
                     ("3x3/s1 twice", [(3, 1, 0), (3, 1, 0)]),
                     ("3x3/s1 dilation 2 twice", [(3, 1, 0, 2), (3, 1, 0, 2)])]:
    print(f"{label:26s}", [(int(size), int(jump)) for size, jump, _ in receptive_field_of_stack(stack)])

# %% [markdown]
# ## Any model: a user-defined stack


# %%
class Stack(nnx.Module):
    def __init__(self, *, rngs):
        self.conv1 = nn.Conv(1, 8, kernel_size=3, stride=2, padding=1, rngs=rngs)
        self.conv2 = nn.Conv(8, 8, kernel_size=3, stride=2, padding=1, rngs=rngs)
        self.pool = nn.MaxPool(2)
        self.conv3 = nn.Conv(8, 8, kernel_size=3, dilation=2, padding=2, rngs=rngs)

    def __call__(self, x):
        return self.conv3(self.pool(self.conv2(self.conv1(x))))


for name, rf in receptive_field(Stack(rngs=nnx.Rngs(0)), (64, 64, 1)).items():
    print(f"{name:6s} size {rf.size:3}  jump {rf.jump}  start {rf.start}")

# %% [markdown]
# ## The zoo, beside published values (Araujo et al., Distill 2019)
# The full table is `experiments/receptive_fields.py`; a few rows here.

# %%
for name, kw in [("alexnet", {}), ("vgg16", {}), ("resnet50", {"stride_on": "1x1"}), ("mobilenet_v1", {})]:
    model = nnx.eval_shape(lambda: jcnn.models.create(name, **kw))
    table = jcnn.summary(model, (224, 224, 3), depth=1, print_=False)
    last = [r for r in table.rows if r.jump is not None and max(r.output_shape[1:3]) > 1][-1]
    print(f"{name:13s} {last.name:8s} RF {last.rf}")

# %% [markdown]
# ## A whole summary: LeNet-5

# %%
jcnn.summary("lenet5_modern", (28, 28, 1));
