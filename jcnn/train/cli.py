"""``python -m jcnn train EXPERIMENT --workdir DIR [--set key=value ...]``.

EXPERIMENT names a file in ``experiments/configs/`` (``NAME:smoke`` for the CI
size), or use ``--config PATH``. Each ``--set field=value`` overrides one
field of the locked config (type-checked; unknown fields list close matches).
Resumes automatically from DIR. Every slip (unknown experiment or field, a value
out of range, an unusable DIR) is one line on stderr and exit status 2, checked
before anything is compiled or written. A run stopped by a signal saved its
state and exits 130 (SIGINT) or 143 (SIGTERM), the shell's codes, so
``jcnn train ... && next`` does not go on; the first Ctrl-C stops after the
current step (saved), a second aborts at once (exit 130, nothing saved past
the last checkpoint); a workdir in use by another run or holding another
config is status 2; 3 is a non-finite loss, 4 an
unreadable checkpoint. Multi-host: ``--coordinator HOST:PORT
--num-processes N --process-id I`` (or JCNN_COORDINATOR, JCNN_NUM_PROCESSES,
JCNN_PROCESS_ID) on every host.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile


#: Exit status of a run stopped by a signal: 128 + the signal's number, as a shell reports it.
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}


class UsageError(ValueError):
    """A slip in the command line: one line on stderr, exit status 2."""


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
    # String defaults go through type=int too: a malformed variable is argparse's one-line error.
    parser.add_argument("--num-processes", type=int, default=os.environ.get("JCNN_NUM_PROCESSES") or "0",
                        help="multi-host: number of processes (JCNN_NUM_PROCESSES)")
    parser.add_argument("--process-id", type=int, default=os.environ.get("JCNN_PROCESS_ID") or "-1",
                        help="multi-host: this process's index (JCNN_PROCESS_ID)")


def check_workdir(workdir: str) -> pathlib.Path:
    """``workdir`` as an absolute path if a run can write there; nothing is created.

    Raises:
      UsageError: it is a file, sits under a file, or its first existing folder is not writable.
    """
    path = pathlib.Path(workdir).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise UsageError(f"--workdir {workdir}: is a file, not a folder; give a folder path")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--workdir {workdir}: sits under the file {existing}; give a folder path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--workdir {workdir}: {existing} is not writable")
    # os.access answers yes to root everywhere; a probe folder (removed at once) asks the file system.
    try:
        tempfile.TemporaryDirectory(dir=existing, prefix=".jcnn-probe-").cleanup()
    except OSError as e:
        raise UsageError(f"--workdir {workdir}: cannot create anything in {existing} ({e.strerror or e})") from None
    return path


def _distributed(args) -> None:
    if not args.coordinator:
        return
    if args.num_processes < 1 or not 0 <= args.process_id < args.num_processes:
        raise UsageError(f"--coordinator needs --num-processes N >= 1 and 0 <= --process-id < N, got "
                         f"{args.num_processes} and {args.process_id}")
    import jax
    # CPU needs a collectives implementation across processes; no effect on GPU/TPU. Must precede
    # anything that initialises a backend (even jax.default_backend()).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id)


def _error(message, status: int) -> int:
    text = " ".join(str(message).split())  # one line, whatever the message held
    text = text[len("train: "):] if text.startswith("train: ") else text
    print(f"jcnn train: error: {text}", file=sys.stderr, flush=True)
    return status


def _prepare(args):
    """The validated config and the checked workdir, or UsageError/ValueError/TypeError (nothing written)."""
    from jcnn.train import config as config_lib

    cfg = config_lib.load(args.experiment, path=args.config, overrides=args.overrides)
    if args.print_config:
        return cfg, None
    # Names (models, augmentations) are checked after _distributed: they import the model zoo, and
    # jax.distributed must be set up first.
    config_lib.validate(cfg, names=False)
    if not args.workdir:
        raise UsageError("--workdir is required (the folder for checkpoints, metrics and the manifest)")
    return cfg, check_workdir(args.workdir)


def run(args) -> int:
    from jcnn.train import config as config_lib, experiment_files

    if args.list:
        names = config_lib.experiment_names()
        if not names:
            return _error(experiment_files.not_found_message(), 2)
        print("\n".join(names))
        return 0
    try:
        cfg, workdir = _prepare(args)
        if args.print_config:
            print(json.dumps(config_lib.to_dict(cfg), indent=2, default=str))
            return 0
        _distributed(args)
        config_lib.validate(cfg)
    except (ValueError, TypeError) as e:
        return _error(e, 2)
    from jcnn.train import loop

    try:
        summary = loop.train(cfg, workdir, progress=not args.no_progress)
    except (ValueError, TypeError) as e:
        return _error(e, 2)
    except loop.NonFiniteLossError as e:
        return _error(e, 3)
    except loop.ckpt_lib.CheckpointError as e:
        return _error(e, 4)
    except KeyboardInterrupt:  # a second Ctrl-C (or one before the loop started): no save, no traceback
        print("jcnn train: aborted by Ctrl-C; the checkpoints saved before are kept; resume with the same command",
              file=sys.stderr, flush=True)
        return SIGNAL_EXIT["SIGINT"]
    print(loop.summary_line(summary), flush=True)
    return SIGNAL_EXIT.get(summary.get("stopped_by"), 0)
