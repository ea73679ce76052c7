"""The model zoo: every architecture registered by name in :mod:`jcnn.models.registry`.

``jcnn.models.create("resnet20", num_classes=10, seed=0)``; ``jcnn.models.names("vgg*")``.
"""

from jcnn.models.registry import IMAGENET_MEAN, IMAGENET_STD, ModelInfo, create, info, names, register

# Model files register themselves on import (keep this list sorted).
from jcnn.models import alexnet  # noqa: E402,F401  isort: skip
from jcnn.models import dcgan  # noqa: E402,F401  isort: skip
from jcnn.models import googlenet  # noqa: E402,F401  isort: skip
from jcnn.models import lenet  # noqa: E402,F401  isort: skip
from jcnn.models import mobilenet  # noqa: E402,F401  isort: skip
from jcnn.models import resnet  # noqa: E402,F401  isort: skip
from jcnn.models import vgg  # noqa: E402,F401  isort: skip
from jcnn.models import zfnet  # noqa: E402,F401  isort: skip
from jcnn.models.pattern import from_pattern, normalize_pattern, to_pattern  # noqa: E402  isort: skip
from jcnn.models.summary import check_input  # noqa: E402  isort: skip
from jcnn.models.preprocessing import Preprocess, Preprocessed, eval_image, preprocess  # noqa: E402  isort: skip

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ModelInfo", "Preprocess", "Preprocessed", "check_input", "create",
           "eval_image", "from_pattern", "info", "names", "normalize_pattern", "preprocess", "register", "to_pattern"]
