"""jcnn.data: data sets by name, offline import, host-side transforms, augmentation and the grain pipeline.

``pipeline(name, split, batch_size=..., seed=...)`` yields channels-last batches
``{"image": (N, H, W, C) uint8, "label": (N,) int32, "index": (N,) int64}``
from a TFDS data set (array_record, no TensorFlow), a data set imported with
``python -m jcnn data import`` (IDX files, CIFAR archives, image folders and
ILSVRC-2012), or the MNIST files shipped in the package. Variable-size images
(ImageNet) are decoded and cropped per example on the host by
``jcnn.data.transforms`` (``transform=``); ``jcnn.data.augment`` holds the
per-example JAX augmentations the training step applies.
"""

from jcnn.data import augment, transforms
from jcnn.data.cifar import import_cifar
from jcnn.data.image_import import import_folder
from jcnn.data.importers import import_idx
from jcnn.data.pipeline import Pipeline, pipeline
from jcnn.data.show import show
from jcnn.data.sources import CATALOGUE, DatasetInfo, DatasetNotFoundError, info, known_names, source
from jcnn.data.store import default_data_dir

__all__ = [
    "CATALOGUE", "DatasetInfo", "DatasetNotFoundError", "Pipeline", "augment", "default_data_dir",
    "import_cifar", "import_folder", "import_idx", "info", "known_names", "pipeline", "show", "source",
    "transforms",
]
