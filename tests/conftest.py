"""Shared test settings: strict dtype promotion, and fast-compiling subprocesses.

Subprocess runs (CLI, notebooks) are tiny, so XLA's compile time dominates them:
they use backend optimisation level 0 (compiles about 2.5× faster on CPU and
changes nothing the tests check) and share one persistent compilation cache.
"""

import os
import subprocess
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fast_compile_env(tmp_path_factory) -> dict:
    """Environment variables for tiny subprocess runs: low XLA optimisation and a shared compilation cache."""
    return {
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip(),
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path_factory.mktemp("xla-cache")),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def run_cli(fast_compile_env):
    """``run_cli(*args, sets=(), timeout=600)``: ``python -m genstyle_causal ARGS --set ...`` in a subprocess."""

    def run(*args, sets=(), timeout=600):
        argv = [sys.executable, "-m", "genstyle_causal", *args]
        for item in sets:
            argv += ["--set", item]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **fast_compile_env))

    return run


@pytest.fixture(autouse=True)
def _strict_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield
