"""Routing chosen module instances' ``__call__`` through a callback, by patching their classes.

The machinery behind :func:`jcnn.nn.capture.intercept`. For the duration of a
``with`` block every class (in the MRO of the named instances) that defines
``__call__`` gets that method wrapped; the wrapper looks the instance up in the
innermost active hook of its thread and does nothing for any other instance
(other models, other threads). Patches are reference-counted per class, so
nested and concurrent blocks share them, and the originals are restored in a
``finally``. It needs no cooperation from the modules.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

_lock = threading.Lock()
_originals: dict[type, Callable] = {}  # class -> its own __call__, while patched
_refs: dict[type, int] = {}
_local = threading.local()  # .hooks: stack of active _Hook objects of this thread

#: Set on a wrapped ``__call__`` (tests check that the originals are back).
MARK = "__jcnn_capture__"


class _Hook:
    """What one block does around the calls of the instances it names.

    ``around(path, module, call, args)`` returns the module's output; ``call()`` runs
    the original method on the positional ``args``. Instances not in ``names`` pass
    straight through.
    """

    def __init__(self, names: dict[int, str], around):
        self.names, self.around, self.active = names, around, []


def _wrap(orig):
    def __call__(self, *args, **kwargs):
        hooks = getattr(_local, "hooks", None)
        hook = hooks[-1] if hooks else None
        # Re-entry through super().__call__ of the same instance is one call.
        if hook is None or id(self) not in hook.names or (hook.active and hook.active[-1] is self):
            return orig(self, *args, **kwargs)
        hook.active.append(self)
        try:
            return hook.around(hook.names[id(self)], self, lambda: orig(self, *args, **kwargs), args)
        finally:
            hook.active.pop()

    __call__.__wrapped__ = orig
    setattr(__call__, MARK, True)
    return __call__


@contextlib.contextmanager
def patched(named, around):
    """Within the block, calls of the modules in ``named`` (``[(path, module), ...]``) go through ``around``."""
    names = {id(m): p for p, m in named}
    classes = {c for _, m in named for c in type(m).__mro__ if "__call__" in c.__dict__ and c is not object}
    with _lock:
        for cls in classes:
            if _refs.get(cls, 0) == 0:
                orig = cls.__dict__["__call__"]
                _originals[cls] = orig
                type.__setattr__(cls, "__call__", _wrap(orig))
            _refs[cls] = _refs.get(cls, 0) + 1
    hook = _Hook(names, around)
    if not hasattr(_local, "hooks"):
        _local.hooks = []
    _local.hooks.append(hook)
    try:
        yield hook
    finally:
        _local.hooks.remove(hook)
        with _lock:
            for cls in classes:
                _refs[cls] -= 1
                if _refs[cls] == 0:
                    type.__setattr__(cls, "__call__", _originals.pop(cls))
                    del _refs[cls]
