"""jcnn: a JAX framework for convolutional networks, written functionally.

``jcnn.ops`` holds the pure maths (convolution, pooling, normalisation);
``jcnn.nn`` the Flax NNX modules that own parameters and call those ops;
``jcnn.models`` the model zoo behind one registry; ``jcnn.data``,
``jcnn.train`` and ``jcnn.analysis`` build on them.
"""

__version__ = "0.1.0"

# Before anything starts a JAX backend: XLA-CPU flags are read once, at start.
from jcnn import _xla_cpu  # noqa: E402

_xla_cpu.configure()

from jcnn import ops  # noqa: E402
from jcnn import nn  # noqa: E402
from jcnn import models  # noqa: E402
from jcnn.models.summary import summary  # noqa: E402

__all__ = ["models", "nn", "ops", "summary", "__version__"]
