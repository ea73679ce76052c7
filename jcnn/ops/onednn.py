"""The optional oneDNN convolution backend on CPU: whether it is in use, and its switches.

The public face of ``jcnn/ops/_onednn`` (the FFI binding and its build step):
``available()`` says whether ``conv(impl='auto')`` can run on oneDNN here,
``status()`` names the library in use or why none, ``disabled()`` is a context
that hides it (to measure XLA's own kernels beside it), and ``THREADS_ENV`` is
the environment variable that pins its OpenMP threads. Build it with
``python -m jcnn.ops._onednn.build``; ``JCNN_ONEDNN=0`` turns it off.
"""

from jcnn.ops._onednn import OPT_OUT, THREADS_ENV, available, disabled, status

__all__ = ["OPT_OUT", "THREADS_ENV", "available", "disabled", "status"]
