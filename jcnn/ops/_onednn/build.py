"""Build jcnn's oneDNN convolution extension in place: ``python -m jcnn.ops._onednn.build``.

Needs a C++17 compiler, CMake >= 3.18 (``pip install cmake`` if the system has
none) and the oneDNN OpenMP wheels (``pip install -e '.[onednn]'``, which pulls
``onednn-cpu-gomp`` and ``onednn-devel-cpu-gomp``). Writes ``libjcnn_onednn.so``
beside ``conv.cc``; ``jcnn.ops.onednn_status()`` then names the oneDNN in use.
Exit status 0 on success, 2 with one line on stderr when something is missing,
1 when the compiler fails (its output is shown).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jax

from jcnn.ops import _onednn


def _dnnl_prefix() -> Path | None:
    for lib in _onednn.dnnl_lib_dirs():
        if (lib / "cmake" / "dnnl" / "dnnl-config.cmake").exists():
            return lib.parent
    return None


def _fail(msg: str) -> int:
    print(f"jcnn.ops._onednn.build: {msg}", file=sys.stderr)
    return 2


def build(*, verbose: bool = False) -> int:
    """Configure and build with CMake into a temporary directory; copy the library next to this file."""
    cmake = shutil.which("cmake")
    if cmake is None:
        return _fail("cmake not found (pip install cmake)")
    prefix = _dnnl_prefix()
    if prefix is None:
        return _fail("oneDNN's CMake files not found under "
                     f"{', '.join(map(str, _onednn.dnnl_lib_dirs()))} (pip install onednn-devel-cpu-gomp)")
    with tempfile.TemporaryDirectory(prefix="jcnn-onednn-") as tmp:
        configure = [cmake, "-S", str(_onednn.HERE), "-B", tmp, "-DCMAKE_BUILD_TYPE=Release",
                     f"-DCMAKE_PREFIX_PATH={prefix}", f"-DXLA_FFI_INCLUDE_DIR={jax.ffi.include_dir()}"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        for cmd in (configure, [cmake, "--build", tmp, "--parallel"]):
            run = subprocess.run(cmd, capture_output=not verbose, text=True)
            if run.returncode:
                if not verbose:
                    sys.stderr.write(run.stdout + run.stderr)
                print(f"jcnn.ops._onednn.build: failed: {' '.join(cmd)}", file=sys.stderr)
                return 1
        shutil.copy2(Path(tmp) / _onednn.LIB_NAME, _onednn.HERE / _onednn.LIB_NAME)
    print(f"built {_onednn.HERE / _onednn.LIB_NAME} against oneDNN in {prefix}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jcnn.ops._onednn.build", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="show CMake's output")
    return build(verbose=ap.parse_args(argv).verbose)


if __name__ == "__main__":
    sys.exit(main())
