"""``python -m jcnn train EXPERIMENT --workdir DIR [--set key=value ...]``.

EXPERIMENT names a file in ``experiments/configs/`` (``NAME:smoke`` for the CI
size), or use ``--config PATH``. Each ``--set field=value`` overrides one
field of the locked config (type-checked; unknown fields list close matches).
Resumes automatically from DIR. Multi-host: ``--coordinator HOST:PORT
--num-processes N --process-id I`` (or JCNN_COORDINATOR, JCNN_NUM_PROCESSES,
JCNN_PROCESS_ID) on every host.
"""

from __future__ import annotations

import json
import os
import sys


def add_arguments(parser) -> None:
    parser.add_argument("experiment", nargs="?", help="experiment name (experiments/configs/NAME.py), NAME:ARG")
    parser.add_argument("--config", metavar="PATH", help="a config file instead of a named experiment")
    parser.add_argument("--workdir", help="run directory: checkpoints, metrics.jsonl, tb/, manifest.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set optimizer.lr=0.05 (repeatable)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--coordinator", default=os.environ.get("JCNN_COORDINATOR"),
                        help="multi-host: coordinator address HOST:PORT")
    parser.add_argument("--num-processes", type=int, default=int(os.environ.get("JCNN_NUM_PROCESSES", "0") or 0))
    parser.add_argument("--process-id", type=int, default=int(os.environ.get("JCNN_PROCESS_ID", "-1") or -1))


def _distributed(args) -> None:
    if not args.coordinator:
        return
    if args.num_processes < 1 or not 0 <= args.process_id < args.num_processes:
        raise ValueError(f"--coordinator needs --num-processes N >= 1 and 0 <= --process-id < N, got "
                         f"{args.num_processes} and {args.process_id}")
    import jax
    # CPU needs a collectives implementation across processes; no effect on GPU/TPU. Must precede
    # anything that initialises a backend (even jax.default_backend()).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id)


def run(args) -> int:
    from jcnn.train import config as config_lib

    if args.list:
        print("\n".join(config_lib.experiment_names()))
        return 0
    try:
        cfg = config_lib.load(args.experiment, path=args.config, overrides=args.overrides)
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(config_lib.to_dict(cfg), indent=2, default=str))
        return 0
    if not args.workdir:
        print("error: --workdir is required", file=sys.stderr)
        return 2
    try:
        _distributed(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from jcnn.train import loop

    try:
        summary = loop.train(cfg, args.workdir, progress=not args.no_progress)
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except loop.NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except loop.ckpt_lib.CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 4
    print(loop.summary_line(summary), flush=True)
    return 0
