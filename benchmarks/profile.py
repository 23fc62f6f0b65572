"""Per-op time breakdown of one jitted call, from a ``jax.profiler`` trace and the compiled HLO.

XLA:CPU records one trace event per executed HLO instruction (thunk) on its worker
threads. :func:`op_profile` runs the call a few times under the profiler, sums each
instruction's thread time, sorts the instructions into kinds (matmul, convolution,
data movement, elementwise, reduction, ...) using the optimised HLO, and accounts for
the wall time of the call: before the first op starts (dispatch, argument handling),
gaps between ops, after the last op ends (freeing, host sync), and the ops
themselves. It also counts the memory the call touches for the first time (minor
page faults) and the kernel time that costs: XLA allocates a call's temporaries
afresh on every call, so a single-step call pays for faulting them in every time,
while a ``lax.scan`` of many steps pays once.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import resource
import tempfile
from pathlib import Path

import jax

#: opcodes that only move or reshape data
MOVES = {"parameter", "constant", "bitcast", "copy", "concatenate", "slice", "pad", "transpose", "reshape",
         "broadcast", "dynamic-slice", "dynamic-update-slice", "reverse", "tuple", "get-tuple-element", "iota",
         "gather", "scatter", "select", "convert"}
_INSTR = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+?)(?:\{[^}]*\})? ([\w\-]+)\(")
_COMP = re.compile(r"^%?([\w.\-]+) \(.*\{$")
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_OPNAME = re.compile(r'op_name="([^"]*)"')
_CALL = "op_profile call"


@dataclasses.dataclass(frozen=True)
class Instruction:
    name: str
    opcode: str
    shape: str
    kind: str
    op_name: str


def _kind(opcode: str, inner: set[str]) -> str:
    ops = inner or {opcode}
    if "convolution" in ops:
        return "convolution"
    if "dot" in ops or (opcode == "custom-call" and not inner):
        return "matmul"
    if "select-and-scatter" in ops or "reduce-window" in ops:
        return "pooling"
    if "rng-bit-generator" in ops or "rng" in ops:
        return "random"
    if ops <= MOVES:
        return "data movement"
    if "reduce" in ops:
        return "reduction"
    if opcode in ("while", "call", "conditional"):
        return "control"
    return "elementwise"


def instructions(hlo_text: str) -> dict[str, Instruction]:
    """Every instruction of an optimised HLO module, with its kind (fusions by the ops they contain)."""
    comps: dict[str, list[tuple[str, str, str, str]]] = collections.defaultdict(list)
    comp = None
    for line in hlo_text.splitlines():
        m = _COMP.match(line)
        if m and "=" not in line.split("(")[0]:
            comp = m.group(1)
            continue
        m = _INSTR.match(line)
        if m and comp is not None:
            calls = _CALLS.search(line)
            op_name = _OPNAME.search(line)
            comps[comp].append((m.group(1), m.group(3), m.group(2), (calls.group(1) if calls else ""),
                                op_name.group(1) if op_name else ""))
    opcodes = {c: {op for _, op, *_ in body} for c, body in comps.items()}
    out = {}
    for body in comps.values():
        for name, opcode, shape, calls, op_name in body:
            inner = opcodes.get(calls, set()) if opcode == "fusion" else set()
            out[name] = Instruction(name, opcode, shape, _kind(opcode, inner), op_name)
    return out


def _union_ns(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for s, e in sorted(intervals):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


@dataclasses.dataclass
class Profile:
    """Per-call numbers: times in milliseconds (``wall``; ``busy``: ≥ 1 op running; ``before``/``after``: before the
    first op, after the last), thread time by kind and by op, fresh memory touched (MB) and kernel CPU time."""

    wall_ms: float
    busy_ms: float
    before_ms: float
    after_ms: float
    by_kind: dict[str, float]
    top: list[dict]
    faulted_mb: float
    system_ms: float

    @property
    def gaps_ms(self) -> float:
        return self.wall_ms - self.busy_ms - self.before_ms - self.after_ms

    def as_dict(self) -> dict:
        return {"wall_ms": self.wall_ms, "ops_busy_ms": self.busy_ms, "before_first_op_ms": self.before_ms,
                "gaps_between_ops_ms": self.gaps_ms, "after_last_op_ms": self.after_ms,
                "fresh_memory_mb": self.faulted_mb, "kernel_cpu_ms": self.system_ms,
                "thread_ms_by_kind": self.by_kind, "top_ops": self.top[:40]}

    def print(self, title: str, top: int = 12) -> None:
        total = sum(self.by_kind.values())
        print(f"\n{title}: {self.wall_ms:.1f} ms per call = {self.busy_ms:.1f} ms with ops running + "
              f"{self.before_ms:.1f} before the first op + {self.gaps_ms:.1f} in gaps between ops + "
              f"{self.after_ms:.1f} after the last; op thread time {total:.1f} ms")
        print(f"  fresh memory touched per call: {self.faulted_mb:.0f} MB (page faults), kernel CPU time "
              f"{self.system_ms:.1f} ms")
        for k, v in sorted(self.by_kind.items(), key=lambda kv: -kv[1]):
            print(f"  {k:16s} {v:8.1f} ms  {v / total:6.1%}")
        print("  top ops (thread ms per call):")
        for r in self.top[:top]:
            print(f"    {r['ms']:7.1f}  {r['kind']:14s} {r['op']:28s} {r['shape']:32s} {r['source']}")


def op_profile(fn, *args, reps: int = 3) -> Profile:
    """Profile ``fn(*args)`` (a ``jax.jit`` function; arguments are not donated here) over ``reps`` calls."""
    compiled = fn.lower(*args).compile()
    table = instructions(compiled.as_text())
    jax.block_until_ready(compiled(*args))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(reps):
        jax.block_until_ready(compiled(*args))
    after = resource.getrusage(resource.RUSAGE_SELF)
    faulted_mb = (after.ru_minflt - usage.ru_minflt) * resource.getpagesize() / 2**20 / reps
    system_ms = (after.ru_stime - usage.ru_stime) * 1e3 / reps
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(reps):
                with jax.profiler.TraceAnnotation(_CALL):
                    jax.block_until_ready(compiled(*args))
        files = sorted(Path(tmp).rglob("*.xplane.pb"))
        data = jax.profiler.ProfileData.from_file(str(files[-1]))
    per_op: dict[str, float] = collections.Counter()
    intervals, calls = [], []
    for plane in data.planes:
        for line in plane.lines:
            for ev in line.events:
                if ev.name == _CALL:
                    calls.append((ev.start_ns, ev.end_ns))
                elif ev.name in table and table[ev.name].kind != "control":  # a loop's own event spans its body's
                    per_op[ev.name] += ev.duration_ns
                    intervals.append((ev.start_ns, ev.end_ns))
    before, after, walls = [], [], []
    for t0, t1 in calls:
        inside = [(s, e) for s, e in intervals if t0 <= s <= t1]
        walls.append(t1 - t0)
        if inside:
            before.append(min(s for s, _ in inside) - t0)
            after.append(max(0, t1 - max(e for _, e in inside)))
    by_kind: dict[str, float] = collections.Counter()
    for name, ns in per_op.items():
        by_kind[table[name].kind] += ns / 1e6 / reps
    top = [{"op": n, "kind": table[n].kind, "shape": table[n].shape, "source": table[n].op_name.split("/", 1)[-1],
            "ms": ns / 1e6 / reps} for n, ns in per_op.most_common()]
    mean_ms = lambda v: sum(v) / len(v) / 1e6 if v else 0.0
    return Profile(wall_ms=mean_ms(walls), busy_ms=_union_ns(intervals) / 1e6 / reps, before_ms=mean_ms(before),
                   after_ms=mean_ms(after), by_kind=dict(by_kind), top=top, faulted_mb=faulted_mb,
                   system_ms=system_ms)
