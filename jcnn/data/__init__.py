"""jcnn.data: data sets by name, offline import, augmentation and the grain pipeline.

``pipeline(name, split, batch_size=..., seed=...)`` yields channels-last batches
``{"image": (N, H, W, C) float32, "label": (N,) int32, "index": (N,) int64}``
from a TFDS data set (array_record, no TensorFlow), a data set imported with
``python -m jcnn data import``, or the MNIST files shipped in the package.
``jcnn.data.augment`` holds the per-example JAX augmentations.
"""

from jcnn.data import augment
from jcnn.data.importers import import_folder, import_idx
from jcnn.data.pipeline import Pipeline, pipeline
from jcnn.data.show import show
from jcnn.data.sources import CATALOGUE, DatasetInfo, DatasetNotFoundError, info, known_names, source
from jcnn.data.store import default_data_dir

__all__ = [
    "CATALOGUE", "DatasetInfo", "DatasetNotFoundError", "Pipeline", "augment", "default_data_dir",
    "import_folder", "import_idx", "info", "known_names", "pipeline", "show", "source",
]
