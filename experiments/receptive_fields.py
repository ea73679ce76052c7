"""Experiment 2: theoretical receptive fields of the zoo beside published values.

    python experiments/receptive_fields.py --out runs/receptive_fields [--small]

For each model, the receptive field of the last spatial feature map (before
global pooling / the classifier), traced from the model's own jaxpr by
``jcnn.analysis.receptive_field`` at 224x224. Published values: Araujo, Norris
& Sim, "Computing Receptive Fields of Convolutional Neural Networks",
Distill 2019, Table 1 (TF-slim variants: ``alexnet_v2``, ``vgg_16``,
``resnet_v1_*``, ``mobilenet_v1``). ResNet-50 appears twice: jcnn's default
strides on the bottleneck's 3x3 conv (v1.5, torchvision), the paper's v1 on
the 1x1 — only v1 is comparable to the published 483.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from flax import nnx

import jcnn
from jcnn.analysis import receptive_field

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _report  # noqa: E402

# (label, registered name, create kwargs, published RF or None)
MODELS = [
    ("AlexNet", "alexnet", {}, 195),
    ("ZFNet", "zfnet", {}, None),
    ("VGG-11 (A)", "vgg11", {}, None),
    ("VGG-13 (B)", "vgg13", {}, None),
    ("VGG-16 C", "vgg16_c", {}, None),
    ("VGG-16 (D)", "vgg16", {}, 212),
    ("VGG-19 (E)", "vgg19", {}, None),
    ("GoogLeNet", "googlenet", {}, None),
    ("ResNet-18", "resnet18", {}, None),
    ("ResNet-50 v1.5", "resnet50", {}, None),
    ("ResNet-50 v1", "resnet50", {"stride_on": "1x1"}, 483),
    ("ResNet-101 v1", "resnet101", {"stride_on": "1x1"}, 1027),
    ("ResNet-152 v1", "resnet152", {"stride_on": "1x1"}, 1507),
    ("MobileNet v1", "mobilenet_v1", {}, 315),
    ("MobileNet v2", "mobilenet_v2", {}, None),
]
SMALL = {"AlexNet", "VGG-16 (D)", "MobileNet v1"}


def last_spatial(model, size: int) -> tuple[str, object]:
    """The last layer whose output is still a spatial map larger than 1x1 (before global pooling)."""
    table = jcnn.summary(model, (size, size, 3), depth=1, print_=False)
    rows = [r for r in table.rows if r.jump is not None and len(r.output_shape) == 4
            and max(r.output_shape[1:3]) > 1]
    return rows[-1].name, receptive_field(model, (size, size, 3), depth=1)[rows[-1].name]


def run(out, *, small=False, size=224):
    rows = []
    for label, name, kwargs, published in MODELS:
        if small and label not in SMALL:
            continue
        model = nnx.eval_shape(lambda: jcnn.models.create(name, **kwargs))
        layer, rf = last_spatial(model, size)
        rows.append({"model": label, "name": name, "layer": layer, "rf": rf.size, "jump": rf.jump,
                     "published_rf": published,
                     "match": None if published is None else rf.size == published})
    return _report.write(out, title="Theoretical receptive fields of the zoo (224x224 input)", rows=rows,
                         columns=["model", "layer", "rf", "jump", "published_rf", "match"],
                         notes=__doc__.split("\n\n", 2)[2], input_size=size, small=small)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/receptive_fields")
    ap.add_argument("--small", action="store_true", help="three models only (the test setting)")
    args = ap.parse_args(argv)
    out = run(args.out, small=args.small)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
