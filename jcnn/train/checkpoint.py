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
"""

from __future__ import annotations

import pathlib
import warnings

import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """No checkpoint in a directory that has some could be restored."""


class Checkpointer:
    """Save/restore ``(state, meta)`` pairs under ``directory`` keeping the last ``keep`` and the best."""

    def __init__(self, directory, *, keep: int = 3):
        self.directory = pathlib.Path(directory).resolve()
        self.keep = max(1, int(keep))
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
        errors = []
        for s in reversed(steps):
            try:
                item = ocp.args.StandardRestore(abstract_state) if abstract_state is not None \
                    else ocp.args.StandardRestore()
                out = self._mgr.restore(s, args=ocp.args.Composite(state=item, meta=ocp.args.JsonRestore()))
                return s, out["state"], dict(out["meta"])
            except Exception as e:  # noqa: BLE001 -- any failure to read means: try the previous step
                errors.append(f"step {s}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
                warnings.warn(f"checkpoint at step {s} in {self.directory} could not be restored "
                              f"({errors[-1]}); falling back to the previous one", RuntimeWarning, stacklevel=2)
        raise CheckpointError(f"none of the checkpoints {steps} in {self.directory} could be restored:\n  "
                              + "\n  ".join(errors))

    def close(self):
        self.wait()
        self._mgr.close()
