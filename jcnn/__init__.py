"""jcnn: a JAX framework for convolutional networks, written functionally.

``jcnn.ops`` holds the pure maths (convolution, pooling, normalisation);
``jcnn.nn`` the Flax NNX modules that own parameters and call those ops;
``jcnn.models`` the model zoo behind one registry; ``jcnn.data``,
``jcnn.train`` and ``jcnn.analysis`` build on them.

The subpackages load on first use (PEP 562 ``__getattr__``): ``import jcnn``
alone does not import JAX, so ``python -m jcnn --help`` answers at once.
"""

__version__ = "0.1.0"

# Before anything starts a JAX backend: XLA-CPU flags are read once, at start, and
# malloc's arena limit only reaches threads created after it (XLA's pool).
from jcnn import _xla_cpu  # noqa: E402

_xla_cpu.configure()
_xla_cpu.configure_malloc()

__all__ = ["models", "nn", "ops", "summary", "__version__"]

_SUBPACKAGES = ("analysis", "data", "models", "nn", "ops", "train")


def __getattr__(name):
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f"jcnn.{name}")
    if name == "summary":
        return importlib.import_module("jcnn.models.summary").summary
    raise AttributeError(f"module 'jcnn' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__, *_SUBPACKAGES})
