import os
import pathlib
import sys

import jax
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    # Never download nor write to ~/.cache from tests.
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    """One persistent XLA compilation cache for this test session, its xdist workers and their subprocesses.

    Dozens of tests here start ``jcnn train`` in a fresh process (kill-and-resume, many devices, Ctrl-C),
    and each compiled the same steps again: with the cache a LeNet-5 smoke run in a subprocess takes
    about half the time (measured 55 s -> 25 s on a loaded 2-core machine). A cache hit is the very
    executable a compile would produce, so bit-exact checks compare the same code as before. The cache
    lives in pytest's temporary directory of this run (shared by its xdist workers), never across runs.
    """
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "jax-compilation-cache"
    cache.mkdir(exist_ok=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache)  # the subprocesses (tests/train/_helpers.py)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    jax.config.update("jax_compilation_cache_dir", str(cache))  # this process
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    yield
