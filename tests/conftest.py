"""Test-session set-up shared by every test directory."""

import os

import jax
import pytest


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    """One persistent XLA compilation cache for this test session, its xdist workers and their subprocesses.

    Every process compiled the same programs again: the eager initialisers of each model (one small
    program per parameter shape), and the steps of the many tests that start ``jcnn train`` in a
    subprocess (kill-and-resume, many devices, Ctrl-C) or build a fresh ``jax.jit`` of the same maths.
    Measured on a loaded 2-core machine: ``models.create("mobilenet_v2", width=0.5)`` in a fresh
    process 52 s -> 7.6 s, a LeNet-5 smoke run in a subprocess 55 s -> 25 s. A cache hit is the very
    executable a compile would produce (the key covers the program, XLA flags, devices and versions),
    so bit-exact checks compare the same code as before. The cache lives in pytest's temporary
    directory of this run (shared by its xdist workers), never across runs. Threshold 0: the eager
    initialisers' programs compile in well under jax's default 1 s each, and they are most of it.
    """
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "jax-compilation-cache"
    cache.mkdir(exist_ok=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache)  # the subprocesses (tests/train/_helpers.py)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    jax.config.update("jax_compilation_cache_dir", str(cache))  # this process
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    yield
