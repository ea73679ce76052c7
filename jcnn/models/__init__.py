"""The model zoo: every architecture registered by name in :mod:`jcnn.models.registry`.

``jcnn.models.create("resnet20", num_classes=10, seed=0)``; ``jcnn.models.names("vgg*")``.
"""

from jcnn.models.registry import ModelInfo, create, info, names, register

# Model files register themselves on import (keep this list sorted).
from jcnn.models import lenet  # noqa: E402,F401  isort: skip

__all__ = ["ModelInfo", "create", "info", "names", "register"]
