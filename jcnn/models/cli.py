"""``jcnn summary NAME [--input 224,224,3] [--json] [--depth K]``: the per-layer table of a registered model."""

from __future__ import annotations

import sys

from flax import nnx


def add_arguments(parser):
    parser.add_argument("name", help="a registered model name (see jcnn.models.names())")
    parser.add_argument("--input", default=None, help="input shape H,W,C (default: the model's own)")
    parser.add_argument("--json", action="store_true", help="print JSON: {layers: [...], total: {...}}")
    parser.add_argument("--depth", type=int, default=None, help="one row per module at this path depth")
    parser.add_argument("--num-classes", type=int, default=None, help="override the model's number of classes")


def run(args) -> int:
    from jcnn.models import registry
    from jcnn.models.summary import summary

    try:
        meta = registry.info(args.name)
    except ValueError as e:
        print(f"jcnn summary: {e}", file=sys.stderr)
        return 2
    shape = meta.input_shape
    if args.input:
        try:
            shape = tuple(int(v) for v in args.input.replace("x", ",").split(",") if v.strip())
        except ValueError:
            print(f"jcnn summary: --input {args.input!r} must be comma-separated ints, e.g. 224,224,3", file=sys.stderr)
            return 2
    for option, value in (("--num-classes", args.num_classes), ("--depth", args.depth)):
        if value is not None and value < 1:
            print(f"jcnn summary: {option} {value} must be a positive int", file=sys.stderr)
            return 2
    try:
        # Abstract parameters: nothing is initialised or computed, so 224x224 models are instant.
        model = nnx.eval_shape(lambda: registry.create(meta.name, num_classes=args.num_classes))
        table = summary(model, shape, depth=args.depth, print_=False)
    except (ValueError, TypeError) as e:
        print(f"jcnn summary: {meta.name} at input {shape}: {e}", file=sys.stderr)
        return 2
    table.model = meta.name
    print(table.to_json() if args.json else table)
    return 0
