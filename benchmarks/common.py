"""Shared benchmark helpers: hardware facts, machine load, interleaved timing, result tables and atomic JSON output."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

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
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(), "jax": jax.__version__, "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)), "device_count": jax.device_count(),
    }


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_load(window: float = 2.0) -> dict:
    """Load averages, and the share of all CPUs busy during ``window`` seconds while this process sleeps.

    The busy share sees other processes only (the load average also counts this
    benchmark's own recent work). The machine counts as idle below 10 % busy.
    Timings of one framework against another mean nothing on a busy machine:
    PyTorch's OpenMP threads slow down several times more than XLA's under contention.
    """
    one, five, fifteen = os.getloadavg()
    start = _cpu_ticks()
    time.sleep(window)
    end = _cpu_ticks()
    busy = None if start is None or end is None else (end[0] - start[0]) / max(1, end[1] - start[1])
    return {"load_1min": round(one, 2), "load_5min": round(five, 2), "load_15min": round(fifteen, 2),
            "others_busy": None if busy is None else round(busy, 3),
            "idle": (busy < 0.10) if busy is not None else one < 0.5}


def warn_if_busy(when: str) -> dict:
    """:func:`machine_load`, printed with a warning when the machine is not idle."""
    load = machine_load()
    busy = "" if load["others_busy"] is None else f"; other processes kept {load['others_busy']:.0%} of the CPUs busy"
    print(f"machine ({when}): load average {load['load_1min']} / {load['load_5min']} / {load['load_15min']}{busy}")
    if not load["idle"]:
        print("WARNING: the machine is not idle - these timings are not idle-machine numbers")
    return load


def interleaved(candidates: dict[str, Callable[[], object]], *, units: dict[str, int] | None = None,
                repeats: int = 3, min_time: float = 2.0) -> dict[str, dict]:
    """Time several candidates in turn, ``repeats`` rounds, so that a change of load hits them all alike.

    Each candidate is a zero-argument callable doing one unit of work (``units[name]``
    work items per call, default 1) and blocking until it is done; it is called once
    before timing (warm-up, compilation). In every round each candidate runs for at
    least ``min_time`` seconds. Returns per candidate the seconds per work item of
    each round, their median and their spread (max/min).
    """
    units = units or {}
    for fn in candidates.values():
        fn()
    rounds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            rounds[name].append(_seconds_per_call(fn, min_time) / units.get(name, 1))
    return {name: {"seconds": times, "median_s": statistics.median(times), "spread": max(times) / min(times)}
            for name, times in rounds.items()}


def timeit(fn, *, repeat: int = 5, min_time: float = 0.2) -> float:
    """Median seconds per call of ``fn()`` (which must block until its result is ready)."""
    fn()
    times = [_seconds_per_call(fn, min_time) for _ in range(repeat)]
    return sorted(times)[len(times) // 2]


def _seconds_per_call(fn, min_time: float) -> float:
    """Mean seconds per call of ``fn()`` over as many calls as fill ``min_time`` (at least one)."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        if time.perf_counter() - t0 >= min_time:
            return (time.perf_counter() - t0) / n


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
    """Write ``benchmarks/results/<name>[_<tag>].json`` atomically, with the hardware facts and machine load.

    ``GENSTYLE_BENCH_TAG`` (e.g. ``h100``) names runs of the same benchmark on different machines apart.
    """
    tag = os.environ.get("GENSTYLE_BENCH_TAG")
    path = RESULTS / (f"{name}_{tag}.json" if tag else f"{name}.json")
    atomic_write_json(path, {"benchmark": name, "hardware": hardware(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             **payload})
    print(f"\nresults written to {path}")
    return path
