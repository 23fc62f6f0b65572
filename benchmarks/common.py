"""Shared benchmark helpers: hardware facts, timing, result tables and atomic JSON output."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from genstyle_causal.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"


def hardware() -> dict:
    """Facts that make a timing interpretable."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    dev = jax.devices()[0]
    return {
        "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "jax": jax.__version__, "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)), "device_count": jax.device_count(),
    }


def timeit(fn, *, repeat: int = 5, min_time: float = 0.2) -> float:
    """Median seconds per call of ``fn()`` (which must block until its result is ready)."""
    fn()
    times = []
    for _ in range(repeat):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            if time.perf_counter() - t0 >= min_time:
                break
        times.append((time.perf_counter() - t0) / n)
    return sorted(times)[len(times) // 2]


def best_time(fn, reps: int) -> float:
    """Minimum wall time of ``reps`` calls of ``fn`` (blocked on its result): the least disturbed by other load."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def matmul_peak(n: int = 2048, reps: int = 5) -> float:
    """This machine's float32 FLOP/s on an n×n matmul: the yardstick a training step is compared with."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n * n,), jnp.float32).reshape(n, n)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    return 2 * n**3 / best_time(lambda: f(a), reps)


def print_table(rows: list[dict], title: str) -> None:
    """A plain aligned table of ``rows`` (dicts with the same keys)."""
    if not rows:
        return
    cols = list(rows[0])
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def save_results(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically, with the hardware facts."""
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {"benchmark": name, "hardware": hardware(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **payload})
    print(f"\nresults written to {path}")
    return path
