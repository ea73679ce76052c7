"""Checkpoints with orbax (the only module that touches orbax).

A checkpoint at step ``s`` lives in ``WORKDIR/checkpoints/s/`` and holds two
items: ``state`` (params, batch statistics, optimiser state, step: arrays,
via ``StandardSave``) and ``meta`` (JSON: experiment, config, seed, the data
iterator's position, eval accuracy). Saves are asynchronous: ``save`` returns
once the arrays are copied off the devices and orbax writes them in a
background thread while training goes on; the next ``save``, ``restore`` and
``close`` wait for that write first (:meth:`Checkpointer.wait`). Orbax writes
into ``<step>.orbax-checkpoint-tmp*`` and renames when complete, so a process
killed mid-write leaves the previous steps readable and no listed half step.

Retention: the last ``keep`` steps plus the one with the best eval accuracy.
Restoring walks from the newest step to the oldest and warns about each step
that fails to read (damaged at rest), so nothing a completed save held is lost.
The trainer's checkpointer (``quarantine=True``) also moves each damaged step
aside, to ``checkpoints/damaged/<step>-<UTC time>/``, so the run saves that step
again and :func:`jcnn.train.load` no longer returns an older one; readers
(``quarantine=False``, the default) only warn and never change the workdir.
"""

from __future__ import annotations

import datetime
import pathlib
import sys
import warnings

import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """No checkpoint in a directory that has some could be restored."""


class Checkpointer:
    """Save/restore ``(state, meta)`` pairs under ``directory`` keeping the last ``keep`` and the best."""

    def __init__(self, directory, *, keep: int = 3, quarantine: bool = False):
        self.directory = pathlib.Path(directory).resolve()
        self.keep = max(1, int(keep))
        self.quarantine = quarantine
        options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True, enable_async_checkpointing=True)
        self._mgr = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))

    def steps(self) -> list[int]:
        return sorted(self._mgr.all_steps())

    def save(self, step: int, state, meta: dict) -> bool:
        """Start writing ``state`` (a pytree of arrays) and ``meta`` (JSON) at ``step``; False if it already exists.

        Returns when the arrays are on the host (``state`` may then be donated
        or changed); the write finishes in the background (see :meth:`wait`).
        """
        if step in self.steps():  # saved or being saved: nothing to write, nothing to wait for
            return False
        self.wait()
        self._mgr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                     meta=ocp.args.JsonSave(meta)), force=True)
        return True

    def wait(self):
        """Block until the save in flight (if any) is on disk, then apply retention."""
        self._mgr.wait_until_finished()
        self._prune()

    def _best_step(self):
        best, best_acc = None, None
        for s in self.steps():
            acc = self.read_meta(s, quiet=True).get("eval_accuracy")
            if acc is not None and (best_acc is None or acc > best_acc):
                best, best_acc = s, acc
        return best

    def _prune(self):
        steps = self.steps()
        keep = set(steps[-self.keep:])
        best = self._best_step()
        if best is not None:
            keep.add(best)
        for s in steps:
            if s not in keep:
                self._mgr.delete(s)

    def read_meta(self, step: int, *, quiet=False) -> dict:
        """The JSON ``meta`` item of ``step`` ({} if unreadable and ``quiet``)."""
        try:
            out = self._mgr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
            return dict(out["meta"])
        except Exception:  # noqa: BLE001 -- damaged steps are reported by restore()
            if quiet:
                return {}
            raise

    def latest_meta(self) -> dict | None:
        """``meta`` of the newest readable step, or None if there is none."""
        for s in reversed(self.steps()):
            meta = self.read_meta(s, quiet=True)
            if meta:
                return meta
        return None

    def restore(self, abstract_state, step: int | None = None):
        """``(step, state, meta)`` of ``step`` or of the newest good step; None if there are none.

        ``abstract_state`` gives structure, shapes, dtypes and shardings
        (``jax.ShapeDtypeStruct`` leaves, e.g. from ``jax.eval_shape``) or is None
        to restore as saved (optax tuples then come back as lists).
        """
        self.wait()
        steps = self.steps()
        if step is not None:
            if step not in steps:
                raise CheckpointError(f"no checkpoint at step {step} in {self.directory}; have {steps}")
            steps = [step]
        if not steps:
            return None
        _quiet_closed_loop_noise()  # before the first read: the noise may come as soon as one fails
        errors = []
        for s in reversed(steps):
            try:
                item = ocp.args.StandardRestore(abstract_state) if abstract_state is not None \
                    else ocp.args.StandardRestore()
                out = self._mgr.restore(s, args=ocp.args.Composite(state=item, meta=ocp.args.JsonRestore()))
                return s, out["state"], dict(out["meta"])
            except Exception as e:  # noqa: BLE001 -- any failure to read means: try the previous step
                errors.append(f"step {s}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
                moved = f"; moved to {self._move_aside(s)}" if self.quarantine else ""
                warnings.warn(f"checkpoint at step {s} in {self.directory} could not be restored "
                              f"({errors[-1]}){moved}; falling back to the previous one", RuntimeWarning, stacklevel=2)
        raise CheckpointError(f"none of the checkpoints {steps} in {self.directory} could be restored:\n  "
                              + "\n  ".join(errors))

    def _move_aside(self, step: int) -> pathlib.Path:
        """Move damaged ``step`` to ``damaged/<step>-<UTC time>`` (kept for inspection, out of orbax's listing)."""
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = self.directory / "damaged" / f"{step}-{when}"
        target.parent.mkdir(exist_ok=True)
        (self.directory / str(step)).rename(target)
        self._mgr.reload()  # orbax caches the step list
        return target

    def close(self):
        self.wait()
        self._mgr.close()


def _closed_loop_noise(unraisable) -> bool:
    e = unraisable.exc_value
    return isinstance(e, RuntimeError) and str(e) == "Event loop is closed"


def _quiet_closed_loop_noise():
    """Drop the "Event loop is closed" tracebacks a failed orbax restore leaves behind.

    orbax runs a restore in an event loop that it closes when the first read
    fails; tensorstore's other reads of the step, still in flight, then report
    their results to the closed loop from their own threads, and Python prints
    each RuntimeError as an unraisable exception (dozens of tracebacks on a
    successful run). Only that exact error is dropped; anything else goes to
    the previous hook.
    """
    previous = sys.unraisablehook
    if getattr(previous, "_jcnn_closed_loop_filter", False):
        return

    def hook(unraisable):
        if not _closed_loop_noise(unraisable):
            previous(unraisable)

    hook._jcnn_closed_loop_filter = True
    sys.unraisablehook = hook
