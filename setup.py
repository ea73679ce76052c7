"""Package list for setuptools (everything else is in pyproject.toml).

``jcnn/**`` as found, plus the named experiments' configs: ``experiments/configs``
is mapped to ``jcnn/experiments/configs`` in every wheel, so ``pip install .``
(non-editable) runs ``jcnn train lenet5_mnist`` as a checkout does. The files
stay where they are in the repository; ``jcnn.train.experiment_files`` finds
either copy.
"""

from setuptools import find_namespace_packages, setup

CONFIGS = "jcnn.experiments.configs"

setup(
    packages=[*find_namespace_packages(include=["jcnn", "jcnn.*"], exclude=["*.__pycache__"]), CONFIGS],
    package_dir={CONFIGS: "experiments/configs"},
)
