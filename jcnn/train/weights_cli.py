"""``python -m jcnn weights import|export``: pretrained weights in and out of jcnn checkpoints.

    python -m jcnn weights import resnet50 --from resnet50-11ad3fa6.pth --out runs/resnet50_tv
    python -m jcnn weights import resnet18 --from model.safetensors --out runs/r18_10 --num-classes 10
    python -m jcnn weights export runs/r18_finetuned --to r18.safetensors   # a torchvision state dict

``import`` writes a checkpoint that ``jcnn.train.load_model(DIR)`` and
``--set model.init_from=DIR`` read; ``.pth`` files need PyTorch (``pip install
'jcnn[torch]'``), ``.safetensors`` do not. Mistakes print one line and exit 2.
"""

from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="a torchvision/timm state dict file -> a jcnn checkpoint directory")
    imp.add_argument("name", help="zoo model: resnet18/34/50/101/152, vgg11/13/16/19[_bn], mobilenet_v2")
    imp.add_argument("--from", dest="source", required=True, metavar="FILE",
                     help="state dict: .pth/.pt (torchvision, needs torch), .safetensors (timm/HF), .npz")
    imp.add_argument("--out", required=True, metavar="DIR", help="new directory for the checkpoint")
    imp.add_argument("--num-classes", type=int, default=None,
                     help="replace the 1000-way classifier by a fresh one of this size (fine-tuning)")
    imp.add_argument("--seed", type=int, default=0, help="initialises a new classifier (default 0)")
    exp = sub.add_parser("export", help="a jcnn run or import directory -> a torchvision state dict file")
    exp.add_argument("workdir", help="directory holding checkpoints/")
    exp.add_argument("--to", required=True, metavar="FILE", help=".safetensors, .npz, or .pth (needs torch)")


def run(args) -> int:
    try:
        if args.action == "import":
            from jcnn.train import pretrained

            if args.num_classes is not None and args.num_classes < 1:
                raise ValueError(f"--num-classes={args.num_classes} must be a positive int")
            out = pretrained.import_weights(args.name, args.source, args.out, num_classes=args.num_classes,
                                            seed=args.seed)
            print(f"jcnn weights: {args.name} from {args.source} -> {out} "
                  f"(jcnn.train.load_model({str(out)!r}); --set model.init_from={out})")
            return 0
        import ml_collections

        from jcnn.models import weights
        from jcnn.train import load, load_model

        name = ml_collections.ConfigDict(load(args.workdir)["meta"]["config"]).model.name
        weights.check_supported(name, "weights export")
        path = weights.save_state_dict(weights.to_torchvision(load_model(args.workdir), name), args.to)
        print(f"jcnn weights: {name} from {args.workdir} -> {path} (torchvision.models.{name}().load_state_dict)")
        return 0
    except (ValueError, TypeError, FileNotFoundError, ImportError) as e:
        print(f"jcnn weights {args.action}: " + " ".join(line.strip() for line in str(e).splitlines()), file=sys.stderr)
        return 2
