"""Batches read and put on the devices by a background thread, ``depth`` ahead of the step.

The double buffer of the Flax ImageNet example (``jax_utils.prefetch_to_device``)
and big_vision's ``prefetch_iterator``, with the transfer in a thread, so
that reading, decoding and the host-to-device copy of batch ``i + 1``
overlap step ``i`` on the device.

Determinism and resumption: the thread consumes the data iterator in order
and records the iterator's position after each batch; :attr:`Prefetcher.state`
is the position after the last batch the *loop* took, not after the ones
still queued, so a checkpoint resumes at the first batch not yet trained on.
"""

from __future__ import annotations

import queue
import threading
import time


class _Raised:
    def __init__(self, exc):
        self.exc = exc


class Prefetcher:
    """``next(p) -> (host_batch, device_batch)``; ``p.state`` is the data position of the batches taken.

    Args:
      it: the data iterator (``next``, ``get_state``); only the thread touches it once started.
      put: host batch -> device batch (e.g. :meth:`jcnn.train.builder.Built.put_batch`).
      depth: device batches queued ahead of the loop (one more may be in the making).
    Attributes:
      state: the iterator's position after the last batch returned (its start position before any).
      wait_s: seconds the loop spent blocked in ``next`` (waiting for data), summed.
    """

    def __init__(self, it, put, *, depth: int = 2):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"Prefetcher: depth={depth!r} must be a positive int")
        self._it, self._put = it, put
        self.state = it.get_state()
        self.wait_s, self._head = 0.0, None
        self._q = queue.Queue(maxsize=depth)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="jcnn-prefetch", daemon=True)
        self._thread.start()

    def _offer(self, item):
        """Queue ``item``, waiting for room; give up once :meth:`close` was called."""
        while not self._done.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _fill(self):
        try:
            while not self._done.is_set():
                host = next(self._it)
                self._offer((host, self._put(host), self._it.get_state()))
        except BaseException as e:  # noqa: BLE001 -- StopIteration and errors are re-raised in the loop
            self._offer(_Raised(e))

    def __iter__(self):
        return self

    def _get(self):
        if self._head is None:
            t = time.perf_counter()
            self._head = self._q.get()
            self.wait_s += time.perf_counter() - t
        if isinstance(self._head, _Raised):
            raise self._head.exc  # and again at every later call
        return self._head

    def peek(self):
        """``(host_batch, device_batch)`` that the next ``next`` returns, without taking it."""
        return self._get()[:2]

    def __next__(self):
        host, batch, self.state = self._get()
        self._head = None
        return host, batch

    def close(self):
        """Stop the thread (it may finish the batch it is reading; it is a daemon)."""
        self._done.set()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._thread.join(timeout=5.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
