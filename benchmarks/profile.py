"""Per-op time breakdown of one jitted call, from a ``jax.profiler`` trace and the compiled HLO.

XLA:CPU records one trace event per executed HLO instruction (thunk) on its worker
threads. :func:`op_profile` runs the call a few times under the profiler, sums each
instruction's thread time, sorts the instructions into kinds (matmul, convolution,
data movement, elementwise, reduction, ...) using the optimised HLO, and accounts for
the wall time of the call: the part during which at least one op ran ("ops busy") and
the rest ("outside ops": dispatch, argument handling, thread wake-ups, host sync).
"""

from __future__ import annotations

import collections
import dataclasses
import re
import tempfile
import time
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
    """Per-call times in milliseconds: ``wall``, ``busy`` (≥ 1 op running), thread time by kind and by op."""

    wall_ms: float
    busy_ms: float
    by_kind: dict[str, float]
    top: list[dict]

    @property
    def outside_ms(self) -> float:
        return self.wall_ms - self.busy_ms

    def as_dict(self) -> dict:
        return {"wall_ms": self.wall_ms, "ops_busy_ms": self.busy_ms, "outside_ops_ms": self.outside_ms,
                "thread_ms_by_kind": self.by_kind, "top_ops": self.top}

    def print(self, title: str, top: int = 12) -> None:
        total = sum(self.by_kind.values())
        print(f"\n{title}: {self.wall_ms:.1f} ms per call = {self.busy_ms:.1f} ms with ops running "
              f"+ {self.outside_ms:.1f} ms outside ops; op thread time {total:.1f} ms")
        for k, v in sorted(self.by_kind.items(), key=lambda kv: -kv[1]):
            print(f"  {k:16s} {v:8.1f} ms  {v / total:6.1%}")
        print(f"  top ops (thread ms per call):")
        for r in self.top[:top]:
            print(f"    {r['ms']:7.1f}  {r['kind']:14s} {r['op']:28s} {r['shape']:32s} {r['source']}")


def op_profile(fn, *args, reps: int = 3) -> Profile:
    """Profile ``fn(*args)`` (a ``jax.jit`` function; arguments are not donated here) over ``reps`` calls."""
    compiled = fn.lower(*args).compile()
    table = instructions(compiled.as_text())
    jax.block_until_ready(compiled(*args))
    with tempfile.TemporaryDirectory() as tmp:
        walls = []
        with jax.profiler.trace(tmp):
            for _ in range(reps):
                t = time.perf_counter()
                jax.block_until_ready(compiled(*args))
                walls.append(time.perf_counter() - t)
        files = sorted(Path(tmp).rglob("*.xplane.pb"))
        data = jax.profiler.ProfileData.from_file(str(files[-1]))
    per_op: dict[str, float] = collections.Counter()
    intervals = []
    for plane in data.planes:
        for line in plane.lines:
            for ev in line.events:
                if ev.name in table and table[ev.name].kind != "control":  # a loop's own event spans its body's
                    per_op[ev.name] += ev.duration_ns
                    intervals.append((ev.start_ns, ev.end_ns))
    by_kind: dict[str, float] = collections.Counter()
    for name, ns in per_op.items():
        by_kind[table[name].kind] += ns / 1e6 / reps
    top = [{"op": n, "kind": table[n].kind, "shape": table[n].shape, "source": table[n].op_name.split("/", 1)[-1],
            "ms": ns / 1e6 / reps} for n, ns in per_op.most_common()]
    wall = sorted(walls)[len(walls) // 2] * 1e3
    return Profile(wall_ms=wall, busy_ms=_union_ns(intervals) / 1e6 / reps, by_kind=dict(by_kind), top=top)
