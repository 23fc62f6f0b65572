"""Cost of causal-graph discovery on a structural generator: the direct graph (controlled direct effects) vs the total.

A six-variable scene (a chain of length 4, a fork, a collider, a non-monotone
mechanism) drawn with :class:`genstyle_causal.data.Dots`. The direct graph
needs ``k²·V`` interventions (every cause × target × dose level, the rest
held), the total graph ``k·V``; each intervention renders ``n`` images. The
table gives images rendered, seconds (compile included, then warm) and the
structural Hamming distance to the matching truth (the DAG for direct, its
transitive closure for total).

    python -m benchmarks.bench_discovery           # n = 256 samples (audit's default), 64 × 64 images
    python -m benchmarks.bench_discovery --quick   # n = 64, 32 × 32
"""

from __future__ import annotations

import argparse
import os
import time

import jax

from benchmarks.common import print_table, save_results
from genstyle_causal.causal import audit
from genstyle_causal.data import Dots
from genstyle_causal.structural import SCM, Uniform, Variable

NOISE = Uniform(-0.02, 0.02)


def _wind(p):
    return 0.2 + 0.6 * p["pressure"]


def _waves(p):
    return 0.1 + 0.7 * (2 * p["wind"] - 1) ** 2  # non-monotone


def _boats(p):
    return 0.9 - 0.7 * p["waves"]


def _tide(p):
    return 0.8 - 0.5 * p["pressure"]


def _harbour(p):
    return 0.1 + 0.4 * p["boats"] + 0.4 * p["tide"]  # collider


#: chain pressure → wind → waves → boats → harbour, fork pressure → {wind, tide}, collider boats → harbour ← tide
SIX = SCM((
    Variable("pressure", 0.0, 1.0),
    Variable("wind", 0.0, 1.0, ("pressure",), _wind, NOISE),
    Variable("waves", 0.0, 1.0, ("wind",), _waves, NOISE),
    Variable("boats", 0.0, 1.0, ("waves",), _boats, NOISE),
    Variable("tide", 0.0, 1.0, ("pressure",), _tide, NOISE),
    Variable("harbour", 0.0, 1.0, ("boats", "tide"), _harbour, NOISE),
))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="64 samples at 32 × 32")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    args = p.parse_args(argv)
    n = args.samples or (64 if args.quick else 256)
    size = args.size or (32 if args.quick else 64)
    scene = Dots(SIX, size=size, label="harbour")
    oracle = scene.oracle()
    rows = []
    for kind in ("total", "direct"):
        t0 = time.perf_counter()
        first = audit(oracle, key=jax.random.key(0), graph=kind, n=n)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        audit(oracle, key=jax.random.key(1), graph=kind, n=n)
        warm = time.perf_counter() - t0
        k, levels = len(SIX.variables), 5
        interventions = (k * k if kind == "direct" else k) * levels
        rows.append({"graph": kind, "interventions": interventions, "images": interventions * n,
                     "seconds (first, with compile)": cold, "seconds (warm)": warm,
                     "images/s (warm)": interventions * n / warm, "shd": first.scores["shd"],
                     "edges found": first.graph.number_of_edges(), "true edges": first.reference.number_of_edges()})
    ratio = rows[1]["seconds (warm)"] / rows[0]["seconds (warm)"]
    print_table(rows, f"discovery on a {len(SIX.variables)}-variable scene, n = {n}, {size}×{size} "
                      f"(load average {os.getloadavg()[0]:.1f}); direct / total time (warm): {ratio:.1f}×")
    save_results("discovery", {"samples": n, "size": size, "load_average": os.getloadavg(), "rows": rows,
                               "direct_over_total_warm": ratio})
    return {"rows": rows}


if __name__ == "__main__":
    main()
