"""``train(cfg, workdir)``: set-up, data, state, resume, the loop, evaluation, checkpoints.

Data parallel over every device (a ``Mesh`` over ``jax.devices()``, batch
sharded on ``"data"``, state replicated; :func:`jcnn.train.builder.build`);
each process reads its part ``(process_index, process_count)`` of every global
batch, so the batches, and the parameters up to reduction order, do not depend
on how the devices are spread over processes. The step is jitted once.

Built to keep an accelerator busy: between logging, evaluation and checkpoint
steps the host only dispatches (:func:`run_steps`): batches are put on the
devices two ahead by a background thread (:mod:`jcnn.train.prefetch`), the
metrics are summed on the devices and read every ``train.log_every`` steps
(``metrics.jsonl`` holds their means over the interval), a non-finite loss,
gradient or parameter is flagged on the device and checked at every such
read and before every save, and checkpoints are written asynchronously
(:mod:`jcnn.train.checkpoint`). Time blocked waiting for data vs the rest
goes to ``timing.jsonl``, TensorBoard and the progress bar.

Multi-host: checkpoints are written collectively (each process its part) and
read back with the reader's shardings, so a run saved on 8 devices or 2 hosts
resumes on another device count or loads (:func:`load`) on one device. A
signal on one process stops every process at the same step (:func:`_agree_stop`).
"""

from __future__ import annotations

import _thread
import base64
import collections
import contextlib
import json
import os
import pathlib
import signal
import sys
import threading
import time

import jax
import ml_collections
import numpy as np
from flax import nnx

from jcnn import data as data_lib
from jcnn import models
from jcnn.data import transforms as transforms_lib
from jcnn.train import builder, prefetch
from jcnn.train import checkpoint as ckpt_lib
from jcnn.train import metrics as metrics_lib
from jcnn.train import optim, state as state_lib, step as step_lib
from jcnn.train import workdir as workdir_lib
from jcnn.train.config import to_dict


class NonFiniteLossError(RuntimeError):
    """The training loss, a gradient or a parameter became NaN or infinite."""


# ----------------------------------------------------------------------------- checks (before any compile)

def check(cfg) -> dict:
    """Validate ``cfg`` against this process's devices; returns the batch layout. Raises ValueError."""
    optim.check(cfg)
    step_lib.compute_dtype(cfg)
    if cfg.task not in ("classify", "gan"):
        raise ValueError(f"task={cfg.task!r}: expected 'classify' or 'gan'")
    models.info(cfg.model.name)
    if cfg.task == "gan":
        models.info(cfg.model.discriminator)
    for field in ("train.steps", "train.batch_size", "eval.batch_size", "checkpoint.keep"):
        sec, key = field.split(".")
        if int(cfg[sec][key]) < 1:
            raise ValueError(f"{field}={cfg[sec][key]!r}: must be a positive int")
    n_dev, n_proc = jax.device_count(), jax.process_count()
    layout = {"devices": n_dev, "processes": n_proc}
    for name, b in (("train.batch_size", cfg.train.batch_size), ("eval.batch_size", cfg.eval.batch_size)):
        if b % n_dev:
            raise ValueError(f"{name}={b} is not divisible by the device count {n_dev} "
                             f"({n_proc} process(es)); use a multiple of {n_dev}")
    layout.update(global_batch=cfg.train.batch_size, per_device_batch=cfg.train.batch_size // n_dev,
                  per_process_batch=cfg.train.batch_size // n_proc, eval_per_process=cfg.eval.batch_size // n_proc)
    return layout


def check_workdir(cfg, workdir: pathlib.Path, ckpt) -> dict:
    """Refuse a workdir that holds another run: any config difference but a larger ``train.steps``.

    The run's config is ``WORKDIR/config.json`` (or, in a workdir from before that file, the
    newest checkpoint's or ``manifest.json``'s); see :func:`jcnn.train.workdir.check` for what
    may differ (evaluation settings too once the run is finished: a rerun then only evaluates). Returns the accepted differences; raises ValueError (one line) before anything
    is written.
    """
    recorded, where = workdir_lib.read_config(workdir), workdir_lib.CONFIG
    if recorded is None:
        meta = ckpt.latest_meta()
        recorded, where = (meta or {}).get("config"), "newest checkpoint"
    manifest = workdir / "manifest.json"
    if recorded is None and manifest.exists():
        recorded, where = json.loads(manifest.read_text()).get("config"), "manifest.json"
    finished = max(ckpt.steps(), default=-1) >= int(cfg.train.steps)
    return workdir_lib.check(to_dict(cfg), workdir, recorded, where=where, finished=finished)


# ----------------------------------------------------------------------------- data

def _encode_iter_state(st):
    if isinstance(st, (bytes, bytearray)):
        return {"bytes": base64.b64encode(bytes(st)).decode()}
    return {"json": st}


def _decode_iter_state(st):
    return base64.b64decode(st["bytes"]) if "bytes" in st else st["json"]


def _shard():
    return None if jax.process_count() == 1 else (jax.process_index(), jax.process_count())


def _data_dir(cfg):
    return cfg.data.data_dir or None


def train_iterator(cfg, per_process_batch):
    """The endless, shuffled training batches of this process (host side: decode, crop, flip; uint8)."""
    ds = data_lib.pipeline(cfg.data.name, cfg.data.train_split, batch_size=per_process_batch, seed=cfg.seed,
                          shard=_shard(), num_epochs=None, shuffle=True, drop_remainder=True,
                          data_dir=_data_dir(cfg), worker_count=cfg.data.worker_count,
                          transform=transforms_lib.for_config(cfg.data, train=True))
    return iter(ds)


def eval_batches(cfg, per_process_batch):
    """Evaluation batches with a ``mask``; the last one padded to full size."""
    ds = data_lib.pipeline(cfg.data.name, cfg.data.eval_split, batch_size=per_process_batch, seed=cfg.seed,
                          shard=_shard(), num_epochs=1, shuffle=False, drop_remainder=False,
                          data_dir=_data_dir(cfg), worker_count=0,
                          transform=transforms_lib.for_config(cfg.data, train=False))
    for i, b in enumerate(ds):
        if cfg.eval.max_batches and i >= cfg.eval.max_batches:
            break
        n = len(b["label"])
        out = {k: np.asarray(b[k]) for k in ("image", "label", "index")}
        out["mask"] = np.ones((n,), np.float32)
        if n < per_process_batch:
            out = {k: np.concatenate([v, np.zeros((per_process_batch - n, *v.shape[1:]), v.dtype)])
                   for k, v in out.items()}
        yield out


# ----------------------------------------------------------------------------- devices

_replicate = builder.replicate  # older names, kept for callers elsewhere in jcnn.train
_global_batch = builder.global_batch


# ----------------------------------------------------------------------------- the loop

class _Stop:
    """SIGTERM/SIGINT set a flag: the loop saves a checkpoint after the current step and returns.

    The first signal is announced on stderr at once, by a thread woken through
    ``signal.set_wakeup_fd``: Python runs signal handlers only in the main thread
    between bytecodes, so a handler would wait for a running XLA call (seconds in
    a large step). A second SIGINT (Ctrl-C twice) raises KeyboardInterrupt in the
    main thread: the run aborts without saving, and the checkpoints already saved
    stay good (orbax renames a finished save into place, so an abort mid-save
    leaves no step behind). A second SIGTERM changes nothing.

    Attributes:
      signal: the first signal's name, once the main thread has handled it; None before.
      flag_when_announced: ``signal`` as it was when the announcement was written (None
        when the announcement came first, e.g. while the main thread was in an XLA call).
    """

    _SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal = None
        self.flag_when_announced = "not announced"
        self._abort = self._raised = False
        self._old = {}
        self._old_fd = None
        self._watcher = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self._SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
            r, w = os.pipe()
            os.set_blocking(w, False)  # the C-level handler must never block on a full pipe
            self._old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            self._w = w
            self._watcher = threading.Thread(target=self._announce, args=(r,), name="jcnn-stop", daemon=True)
            self._watcher.start()
        return self

    def _announce(self, r):
        """Watcher thread: the wakeup fd gets one byte (the signal number) per signal delivered.

        It counts, not the handler: signals that arrive before the main thread
        handles the first one are handled by one handler call.
        """
        announced = False
        try:
            while data := os.read(r, 64):
                for signum in data:
                    if signum not in self._SIGNALS:
                        continue
                    if not announced:
                        announced, self.flag_when_announced = True, self.signal
                        what = ("Ctrl-C again to abort" if signum == signal.SIGINT
                                else f"{signal.Signals(signum).name} received")
                        # os.write, not print: the main thread may be inside a print to stderr.
                        os.write(2, f"\njcnn train: stopping after this step ({what})\n".encode())
                    elif signum == signal.SIGINT and not self._abort:
                        self._abort = True
                        os.write(2, b"\njcnn train: aborting\n")
                        _thread.interrupt_main(signal.SIGINT)  # the main thread's handler raises
        finally:
            os.close(r)

    def _handle(self, signum, frame):
        if self._abort and not self._raised:
            self._raised = True
            raise KeyboardInterrupt
        if self.signal is None:
            self.signal = signal.Signals(signum).name

    def __exit__(self, *exc):
        if self._watcher is not None:
            signal.set_wakeup_fd(self._old_fd)
            os.close(self._w)  # the watcher reads end-of-file and stops
            self._watcher.join(timeout=5)
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _stop_every(cfg) -> int:
    """Steps between stop checks: every step alone; every ``train.log_every`` steps across processes."""
    return 1 if jax.process_count() == 1 else int(cfg.train.log_every)


def _agree_stop(local: str | None) -> str | None:
    """The stop request all processes act on: this process's signal name (or None) reduced over processes.

    A preempted host gets SIGTERM alone; every process must still save the same step (an orbax
    save is collective) and stop. With several processes this is a collective -- an all-gather
    of one int32 per process, the largest signal number wins (SIGTERM over SIGINT) -- that every
    process calls at the same steps, the multiples of :func:`_stop_every`: a signal stops the run
    within ``train.log_every`` steps, at one tiny host sync per ``log_every`` steps. One process
    returns ``local`` with no device work at all.
    """
    if jax.process_count() == 1:
        return local
    from jax.experimental import multihost_utils
    codes = multihost_utils.process_allgather(np.int32(signal.Signals[local].value if local else 0))
    code = int(np.max(codes))
    return signal.Signals(code).name if code else None


def train(cfg: ml_collections.ConfigDict, workdir, *, progress: bool = True, log=None) -> dict:
    """Train ``cfg`` in ``workdir`` (resuming from its newest good checkpoint); returns the summary dict.

    Before anything is compiled: the config is checked, the workdir locked
    (``run.lock``; a second run there is a ValueError naming the holder's pid and
    host) and compared with the run it already holds (:func:`check_workdir`), then
    its config is recorded in ``WORKDIR/config.json``. Damaged checkpoints found
    on resume are moved to ``checkpoints/damaged/``.

    Raises:
      ValueError: a bad config, a workdir in use or holding another run.
      NonFiniteLossError: the loss became NaN or infinite.
      KeyboardInterrupt: a second Ctrl-C (the first stops after the current step, saved).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    workdir = pathlib.Path(workdir).resolve()
    layout = check(cfg)
    lead = jax.process_index() == 0
    workdir.mkdir(parents=True, exist_ok=True)
    with workdir_lib.Lock(workdir) if lead else contextlib.nullcontext():
        ckpt = ckpt_lib.Checkpointer(workdir / "checkpoints", keep=cfg.checkpoint.keep, quarantine=lead)
        try:
            check_workdir(cfg, workdir, ckpt)
            if lead:
                workdir_lib.record(workdir, to_dict(cfg))
            return _train(cfg, workdir, ckpt, layout, progress, log)
        finally:
            ckpt.close()


def run_steps(loop_step, state, interval, batches, step, until, *, ring, tick=None, stop=None):
    """Steps ``step + 1 .. until`` with no transfer between host and devices: dispatch only.

    Batches arrive on the devices already (``batches``: a :class:`jcnn.train.prefetch.Prefetcher`), the
    step number is in the state and the metrics stay in ``interval`` on the devices
    (:func:`jcnn.train.step.with_interval`), so on an accelerator the host runs ahead of the device.
    ``ring`` receives ``(step, the batch's example indices)`` (host data) to name a non-finite step's batch.
    Stops early after a step at which ``stop()`` is true. Returns ``(state, interval, step)``.
    """
    while step < until:
        host, batch = next(batches)
        state, interval = loop_step(state, interval, batch)
        step += 1
        ring.append((step, host["index"]))
        if tick is not None:
            tick(1)
        if stop is not None and stop():
            break
    return state, interval, step


def _next_event(step, total, periods):
    """The first step after ``step`` that logs, evaluates or saves (a multiple of a nonzero period), or ``total``."""
    return min([total] + [(step // p + 1) * p for p in periods if p])


def _interval_to_json(iv) -> dict:
    # float32 -> Python float -> JSON -> float32 is exact: a resumed run continues the same float32 sums.
    return {"sums": {k: float(v) for k, v in iv["sums"].items()}, "count": int(iv["count"])}


def _train(cfg, workdir, ckpt, layout, progress, log):
    # Set-up: the model, state and jitted steps (builder.build is the one place that knows the task).
    total, lead = int(cfg.train.steps), jax.process_index() == 0
    log_every = int(cfg.train.log_every) or total
    built = builder.build(cfg)
    state, cfg_dict = built.state, to_dict(cfg)

    # Resume: the newest checkpoint that reads back, with the data position and the metrics interval.
    start, iter_state, best, saved_interval = 0, None, None, None
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=built.replicated),
                            state_lib.saved(state))
    restored = ckpt.restore(abstract)
    if restored is not None:
        start, saved, meta = restored
        state = {**saved, "rngs": state["rngs"]}
        iter_state, best, saved_interval = meta.get("data"), meta.get("best_eval_accuracy"), meta.get("interval")
        log(f"jcnn train: resuming from step {start} ({workdir / 'checkpoints' / str(start)})")

    # Data: read and put on the devices by a background thread, two batches ahead.
    it = train_iterator(cfg, layout["per_process_batch"])
    if iter_state is not None:
        it.set_state(_decode_iter_state(iter_state))
    writer = metrics_lib.MetricsWriter(workdir, resume_step=start, enabled=lead)
    ring = collections.deque(maxlen=log_every + 1)  # (step, example indices): checks are <= log_every apart
    host = {"interval": None, "best": best}

    def fetch(interval):
        """The only device-to-host read of the training metrics; refuses a non-finite state."""
        iv = jax.device_get(interval) if interval is not None else \
            {"sums": {}, "count": 0, "finite": True, "first_bad": -1}  # no step run
        host["interval"] = iv
        if not iv["finite"]:
            raise _nonfinite(workdir, int(iv["first_bad"]), step, ring, ckpt, lead)
        return iv

    def save(step, eval_acc=None):
        fetch(interval)  # never a checkpoint of a non-finite state
        meta = {"experiment": cfg.experiment, "step": int(step), "seed": int(cfg.seed), "config": cfg_dict,
                "data": _encode_iter_state(batches.state), "eval_accuracy": eval_acc,
                "best_eval_accuracy": host["best"], "interval": _interval_to_json(host["interval"])}
        if ckpt.save(step, state_lib.saved(state), meta):
            log(f"jcnn train: checkpoint at step {step}")

    def evaluate(step, split):
        acc = metrics_lib.EvalAccumulator()
        for b in eval_batches(cfg, layout["eval_per_process"]):
            acc.add(jax.device_get(built.jit_eval(state, built.put_batch(b))))
        res = acc.result(per_class=split == "test")
        writer.write(step, split, res)
        return res

    log(f"jcnn train: {cfg.experiment}: {layout['devices']} device(s) ({jax.devices()[0].platform}), "
        f"{layout['processes']} process(es); global batch {layout['global_batch']}, per device "
        f"{layout['per_device_batch']}; steps {start}->{total}; "
        f"{state_lib.num_params(state['params']):,} parameters")
    summary = {"experiment": cfg.experiment, "workdir": str(workdir), "start_step": start, **layout}
    from tqdm import tqdm
    bar = tqdm(total=total, initial=start, disable=not (progress and lead), dynamic_ncols=True, mininterval=1.0,
               unit="step", file=sys.stderr)

    # The loop: steps without a host sync up to the next log/eval/checkpoint step, then that step's work.
    step, t0, stop_every = start, time.perf_counter(), _stop_every(cfg)
    # One process may stop at any step; several stop only at the steps where they agree (see _agree_stop).
    stop_early = (lambda: stop.signal is not None) if stop_every == 1 else None
    with _Stop() as stop, prefetch.Prefetcher(it, built.put_batch, depth=2) as batches:
        interval = None
        if step < total:
            first_host, first_batch = batches.peek()
            if lead:
                metrics_lib.write_manifest(
                    workdir, cfg_dict=cfg_dict, experiment=cfg.experiment, seed=int(cfg.seed), steps=(start, total),
                    data={"name": cfg.data.name, "split": cfg.data.train_split,
                          "first_batch_sha256": metrics_lib.fingerprint(first_host),
                          "info": repr(_info(cfg.data.name))})
            interval = built.interval_zeros(state, first_batch)
            if saved_interval and saved_interval["count"]:  # go on with the interval the checkpoint was in
                sums = {k: np.float32(v) for k, v in saved_interval["sums"].items()}
                interval = jax.device_put({**jax.device_get(interval), "sums": sums,
                                           "count": np.int32(saved_interval["count"])}, built.replicated)
        t_log, wait_log, s_log, t_other = time.perf_counter(), batches.wait_s, step, 0.0
        while step < total:
            until = _next_event(step, total, (log_every, cfg.eval.every, cfg.checkpoint.every))
            state, interval, step = run_steps(built.jit_loop_step, state, interval, batches, step, until,
                                               ring=ring, tick=bar.update, stop=stop_early)
            if step % log_every == 0 or step == total:
                iv = fetch(interval)
                now = time.perf_counter()
                wall = max(now - t_log - t_other, 1e-9)
                wait = min(batches.wait_s - wait_log, wall)
                n = int(iv["count"])
                means = {k: float(v) / n for k, v in iv["sums"].items()}
                timing = {"images_per_sec": (step - s_log) * cfg.train.batch_size / wall, "data_wait_s": wait,
                          "step_s": wall - wait, "data_wait_fraction": wait / wall, "steps": step - s_log}
                writer.write(step, "train", {**means, "steps_averaged": n}, tb_only=timing)
                writer.write_timing(step, timing)
                bar.set_postfix({f"train_loss(avg {n})": f"{means['loss']:.4f}",
                                 "img/s": f"{timing['images_per_sec']:.0f}",
                                 "data_wait": f"{100 * timing['data_wait_fraction']:.0f}%"}, refresh=False)
                if step % log_every == 0:  # (a run's last, partial interval is saved whole: a longer rerun goes on)
                    interval = built.interval_zeros(state, None)
                t_log, wait_log, s_log, t_other = time.perf_counter(), batches.wait_s, step, 0.0
            evaluating = built.jit_eval is not None and cfg.eval.every and step % cfg.eval.every == 0 and step < total
            stopped = _agree_stop(stop.signal) if step % stop_every == 0 else None  # the same on every process
            saving = (cfg.checkpoint.every and step % cfg.checkpoint.every == 0) or step == total or stopped
            if evaluating or saving:
                fetch(interval)  # the device catches up here: step time, before the clock for eval/save starts
            t_event = time.perf_counter()
            eval_acc = None
            if evaluating:
                eval_acc = evaluate(step, "eval")["accuracy"]
                if host["best"] is None or eval_acc > host["best"]:
                    host["best"] = eval_acc
                    save(step, eval_acc)  # keep the best
            if saving:
                save(step, eval_acc)
            t_other += time.perf_counter() - t_event  # evaluation and saving are not step time
            if stopped:
                save(step, eval_acc)  # (a no-op if this step was just saved)
                bar.close()
                log(f"jcnn train: {stopped} received{'' if stop.signal else ' by another process'}; "
                    f"saved step {step} and stopped")
                writer.close()
                return {**summary, "stopped_by": stopped, "step": step}
        bar.close()
        elapsed = time.perf_counter() - t0
        if step == start and start not in ckpt.steps():
            save(step)

    # Evaluation on the test split, and the summary.
    summary.update(step=step, seconds=elapsed,
                   images_per_sec=(step - start) * cfg.train.batch_size / max(elapsed, 1e-9))
    if built.jit_eval is not None:
        res = evaluate(step, "test")
        summary.update(test_loss=res["loss"], test_accuracy=res["accuracy"], test_top5=res["top5"],
                       per_class_accuracy=res["per_class_accuracy"])
    summary["best_eval_accuracy"] = host["best"]
    summary["train_step_compilations"] = built.loop_traces  # 1: the step compiled once
    writer.close()
    return summary


def _nonfinite(workdir, bad, step, ring, ckpt, lead):
    """The error for a non-finite loss/gradient/parameters first seen at step ``bad`` (found at ``step``)."""
    indices = dict(ring).get(bad)
    path = workdir / f"nonfinite_step_{bad}.json"
    if lead:
        path.write_text(json.dumps({"step": bad, "detected_at_step": step,
                                    "indices": None if indices is None else np.asarray(indices).tolist()}) + "\n")
    good = ckpt.steps()
    return NonFiniteLossError(
        f"non-finite training loss, gradient or parameters first at step {bad} (checked at step {step}); "
        f"that batch's example indices are in {path}; last good checkpoint: "
        f"{'step ' + str(good[-1]) if good else 'none'} (kept; nothing later was saved)")


def _info(name):
    try:
        return data_lib.info(name)
    except Exception as e:  # noqa: BLE001 -- informational only
        return f"unavailable: {e}"


def summary_line(s: dict) -> str:
    if "stopped_by" in s:
        return f"jcnn train: {s['experiment']} stopped by {s['stopped_by']} at step {s['step']}; resume with the same command"
    parts = [f"jcnn train: {s['experiment']} done: step {s['step']}"]
    if "test_accuracy" in s:
        parts.append(f"test loss {s['test_loss']:.4f} top-1 {100 * s['test_accuracy']:.2f}% "
                     f"top-5 {100 * s['test_top5']:.2f}%")
    parts.append(f"{s['seconds']:.1f} s ({s['images_per_sec']:.0f} img/s, {s['devices']} device(s))")
    parts.append(f"workdir {s['workdir']}")
    return "; ".join(parts)


def load(workdir, step: int | None = None) -> dict:
    """The saved state of ``workdir``'s newest good checkpoint (or ``step``) as pytrees of arrays.

    Returns ``{"step", "params", "batch_stats", "opt_state", "meta"}``, every array on this process's
    first local device, whatever device count or number of processes wrote it; the structure is
    rebuilt from the config stored in the checkpoint.
    """
    ckpt = ckpt_lib.Checkpointer(pathlib.Path(workdir) / "checkpoints")
    try:
        steps = ckpt.steps()
        if not steps:
            raise FileNotFoundError(f"jcnn.train.load: no checkpoints in {pathlib.Path(workdir) / 'checkpoints'}")
        meta = ckpt.read_meta(step) if step is not None else ckpt.latest_meta()
        cfg = ml_collections.ConfigDict(meta["config"])
        total = int(cfg.train.steps)
        tx = {k: optim.optimizer(cfg, total) for k in ("g", "d")} if cfg.task == "gan" else optim.optimizer(cfg, total)
        # Shardings of this process, not the writer's: a run saved on 8 devices (or 2 hosts) reads back
        # on one device; orbax refuses a target without shardings when the topology differs.
        one = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=one),
                                jax.eval_shape(lambda: state_lib.saved(state_lib.create(cfg, tx)[1])))
        s, st, meta = ckpt.restore(abstract, step=step)
        return {**st, "meta": meta}
    finally:
        ckpt.close()


def load_model(workdir, step: int | None = None, *, net: str | None = None):
    """The trained network of ``workdir``'s newest good checkpoint (or ``step``): an ``nnx.Module`` in eval mode.

    Rebuilt from the config the checkpoint stores (model name, ``model.kwargs``,
    seed), with the saved parameters and batch statistics filled in place (so
    the module keeps its layers' definition order; ``nnx.merge`` would sort them).

    The module takes the **normalised** input the training step feeds it: images
    padded by ``data.pad`` and standardised with the run's ``data.mean``/``data.std``
    (:func:`jcnn.train.step.make_preprocess`). To predict from images as the data
    pipeline yields them (uint8 or [0, 1] floats), use
    :func:`jcnn.train.predictor`, which applies that same preprocessing first.

    Args:
      workdir: a ``jcnn train`` workdir. step: a saved step; None for the newest good one.
      net: a GAN run's ``"g"`` (generator, the default) or ``"d"``; None for a classifier.
    Returns:
      the module; call it on (N, H + 2 pad, W + 2 pad, C) normalised images to get
      (N, num_classes) logits (a classifier).
    """
    return load_model_and_meta(workdir, step, net=net)[0]


def load_model_and_meta(workdir, step: int | None = None, *, net: str | None = None):
    """``(module, meta)``: :func:`load_model` and the checkpoint's ``meta`` (``step``, ``config``, ...)."""
    saved = load(workdir, step)
    cfg = ml_collections.ConfigDict(saved["meta"]["config"])
    models = state_lib.net_models(cfg)
    if cfg.task == "gan":
        net = "g" if net is None else net
        if net not in models:
            raise ValueError(f"jcnn.train.load_model: net={net!r} must be 'g' or 'd' for the GAN run in {workdir}")
        params, stats = saved["params"][net], saved["batch_stats"][net]
    else:
        if net is not None:
            raise ValueError(f"jcnn.train.load_model: net={net!r} is for GAN runs; {workdir} holds one classifier")
        net, params, stats = "model", saved["params"], saved["batch_stats"]
    model = models[net]
    for kind, values in ((nnx.Param, params), (nnx.BatchStat, stats)):
        if values:
            state = nnx.state(model, kind)
            nnx.replace_by_pure_dict(state, values)
            nnx.update(model, state)
    model.eval()
    return model, saved["meta"]
