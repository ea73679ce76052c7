"""``train(cfg, workdir)``: set-up, data, state, resume, the loop, evaluation, checkpoints.

Data parallel over every device (a ``Mesh`` over ``jax.devices()``, batch
sharded on ``"data"``, state replicated); each process reads its own shard
``(process_index, process_count)`` of the data. The step is jitted once.
"""

from __future__ import annotations

import _thread
import base64
import contextlib
import json
import math
import os
import pathlib
import signal
import sys
import threading
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jcnn import models
from jcnn.train import checkpoint as ckpt_lib
from jcnn.train import metrics as metrics_lib
from jcnn.train import optim, state as state_lib, step as step_lib
from jcnn.train import workdir as workdir_lib
from jcnn.train.config import to_dict


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def _data():
    import jcnn.data  # resolved at call time: the data package is its own module
    return jcnn.data


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
    # data engineer (issue 14): host-side decode/crop of variable-size images, from cfg.data.image_size etc.
    ds = _data().pipeline(cfg.data.name, cfg.data.train_split, batch_size=per_process_batch, seed=cfg.seed,
                          shard=_shard(), num_epochs=None, shuffle=True, drop_remainder=True,
                          data_dir=_data_dir(cfg), worker_count=cfg.data.worker_count,
                          transform=_data().transforms.for_config(cfg.data, train=True))
    return iter(ds)


def eval_batches(cfg, per_process_batch):
    """Evaluation batches with a ``mask``; the last one padded to full size."""
    ds = _data().pipeline(cfg.data.name, cfg.data.eval_split, batch_size=per_process_batch, seed=cfg.seed,
                          shard=_shard(), num_epochs=1, shuffle=False, drop_remainder=False,
                          data_dir=_data_dir(cfg), worker_count=0,
                          transform=_data().transforms.for_config(cfg.data, train=False))  # data engineer (issue 14)
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

def _replicate(tree, sharding):
    def put(x):
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(x))
            arr = jax.make_array_from_callback(data.shape, sharding, lambda idx: data[idx])
            return jax.random.wrap_key_data(arr, impl=jax.random.key_impl(x))
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])
    return jax.tree.map(put, tree)


def _global_batch(batch, sharding, keys=("image", "label", "index", "mask")):
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(batch[k])) for k in keys if k in batch}


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


def _train(cfg, workdir, ckpt, layout, progress, log):
    total = int(cfg.train.steps)
    lead = jax.process_index() == 0
    mesh = Mesh(np.asarray(jax.devices()), ("data",))
    repl, data_sh = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

    if cfg.task == "gan":
        tx = {k: optim.optimizer(cfg, total) for k in ("g", "d")}
    else:
        tx = optim.optimizer(cfg, total)
    lr_schedule = optim.schedule(cfg, total)
    nets, state = state_lib.create(cfg, tx)
    state = _replicate(state, repl)

    # Resume: the newest checkpoint that reads back, with the data iterator's position.
    start, iter_state, best = 0, None, None
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=repl),
                            state_lib.saved(state))
    restored = ckpt.restore(abstract)
    if restored is not None:
        start, saved, meta = restored
        state = {**saved, "rngs": state["rngs"]}
        iter_state, best = meta.get("data"), meta.get("best_eval_accuracy")
        log(f"jcnn train: resuming from step {start} ({workdir / 'checkpoints' / str(start)})")
    it = train_iterator(cfg, layout["per_process_batch"])
    if iter_state is not None:
        it.set_state(_decode_iter_state(iter_state))

    if cfg.task == "gan":
        train_step, eval_step = step_lib.make_gan_step(cfg, nets, tx, lr_schedule), None
    else:
        train_step, eval_step = step_lib.make_classify_steps(cfg, nets["model"], tx, lr_schedule)
    jit_step = jax.jit(train_step, in_shardings=(repl, data_sh, repl), out_shardings=(repl, repl),
                       donate_argnums=0)
    jit_eval = None if eval_step is None else jax.jit(eval_step, in_shardings=(repl, data_sh),
                                                      out_shardings=repl)

    writer = metrics_lib.MetricsWriter(workdir, resume_step=start, enabled=lead)
    cfg_dict = to_dict(cfg)

    def meta(step, eval_acc=None):
        return {"experiment": cfg.experiment, "step": int(step), "seed": int(cfg.seed), "config": cfg_dict,
                "data": _encode_iter_state(it.get_state()), "eval_accuracy": eval_acc,
                "best_eval_accuracy": best}

    def save(step, eval_acc=None):
        if ckpt.save(step, state_lib.saved(state), meta(step, eval_acc)):
            log(f"jcnn train: checkpoint at step {step}")

    def evaluate(step, split):
        acc = metrics_lib.EvalAccumulator()
        for b in eval_batches(cfg, layout["eval_per_process"]):
            acc.add(jax.device_get(jit_eval(state, _global_batch(b, data_sh))))
        res = acc.result(per_class=split == "test")
        writer.write(step, split, res)
        return res

    log(f"jcnn train: {cfg.experiment}: {layout['devices']} device(s) ({jax.devices()[0].platform}), "
        f"{layout['processes']} process(es); global batch {layout['global_batch']}, per device "
        f"{layout['per_device_batch']}; steps {start}->{total}; "
        f"{state_lib.num_params(state['params']):,} parameters")

    first = None
    summary = {"experiment": cfg.experiment, "workdir": str(workdir), "start_step": start, **layout}
    from tqdm import tqdm
    bar = tqdm(total=total, initial=start, disable=not (progress and lead), dynamic_ncols=True, mininterval=1.0,
               unit="step", file=sys.stderr)
    t0, t_last, s_last, loss_avg = time.perf_counter(), time.perf_counter(), start, None
    step = start
    with _Stop() as stop:
        while step < total:
            host_batch = next(it)
            if first is None:
                first = host_batch
                if lead:
                    metrics_lib.write_manifest(
                        workdir, cfg_dict=cfg_dict, experiment=cfg.experiment, seed=int(cfg.seed), steps=(start, total),
                        data={"name": cfg.data.name, "split": cfg.data.train_split,
                              "first_batch_sha256": metrics_lib.fingerprint(host_batch),
                              "info": repr(_info(cfg.data.name))})
            state, m = jit_step(state, _global_batch(host_batch, data_sh), jnp.asarray(step, jnp.int32))
            m = jax.device_get(m)
            loss = float(m["loss"])
            step += 1
            if not math.isfinite(loss):
                path = workdir / f"nonfinite_step_{step}.json"
                if lead:
                    path.write_text(json.dumps({"step": step, "loss": str(loss),
                                                "indices": np.asarray(host_batch["index"]).tolist()}) + "\n")
                good = ckpt.steps()
                raise NonFiniteLossError(
                    f"non-finite training loss ({loss}) at step {step}; the batch's example indices are in {path}; "
                    f"last good checkpoint: {'step ' + str(good[-1]) if good else 'none'} (kept)")
            loss_avg = loss if loss_avg is None else 0.9 * loss_avg + 0.1 * loss
            if step % cfg.train.log_every == 0 or step == total:
                now = time.perf_counter()
                ips = (step - s_last) * cfg.train.batch_size / max(now - t_last, 1e-9)
                t_last, s_last = now, step
                writer.write(step, "train", {k: float(v) for k, v in m.items()}, tb_only={"images_per_sec": ips})
                bar.set_postfix(loss=f"{loss_avg:.4f}", img_s=f"{ips:.0f}", refresh=False)
            bar.update(1)
            eval_acc = None
            if jit_eval is not None and cfg.eval.every and step % cfg.eval.every == 0 and step < total:
                eval_acc = evaluate(step, "eval")["accuracy"]
                if best is None or eval_acc > best:
                    best = eval_acc
                    save(step, eval_acc)  # keep the best
            if (cfg.checkpoint.every and step % cfg.checkpoint.every == 0) or step == total:
                save(step, eval_acc)
            if stop.signal:
                save(step, eval_acc)
                bar.close()
                log(f"jcnn train: {stop.signal} received; saved step {step} and stopped")
                writer.close()
                return {**summary, "stopped_by": stop.signal, "step": step}
    bar.close()
    elapsed = time.perf_counter() - t0
    if step == start and start not in ckpt.steps():
        save(step)
    summary.update(step=step, seconds=elapsed,
                   images_per_sec=(step - start) * cfg.train.batch_size / max(elapsed, 1e-9))
    if jit_eval is not None:
        res = evaluate(step, "test")
        summary.update(test_loss=res["loss"], test_accuracy=res["accuracy"], test_top5=res["top5"],
                       per_class_accuracy=res["per_class_accuracy"])
    summary["best_eval_accuracy"] = best
    summary["train_step_compilations"] = jit_step._cache_size()  # 1: the step compiled once
    writer.close()
    return summary


def _info(name):
    try:
        return _data().info(name)
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

    Returns ``{"step", "params", "batch_stats", "opt_state", "meta"}``; the
    structure is rebuilt from the config stored in the checkpoint.
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
        abstract = jax.eval_shape(lambda: state_lib.saved(state_lib.create(cfg, tx)[1]))
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
