"""Cost of causal-graph discovery on a structural generator: the direct graph (controlled direct effects) vs the total.

A six-variable scene (a chain of length 4, a fork, a collider, a non-monotone
mechanism) drawn with :class:`genstyle_causal.data.Dots`. The direct graph
needs ``k²·V`` interventions (every cause × target × dose level, the rest
held), the total graph ``k·V``; each intervention renders ``n`` images. The
table gives images rendered, seconds (compile included, then warm) and the
structural Hamming distance to the matching truth (the DAG for direct, its
transitive closure for total). A second table counts how often the default
audit recovers both graphs exactly on random six-variable scenes.

    python -m benchmarks.bench_discovery           # n = 256 samples (audit's default), 64 × 64 images
    python -m benchmarks.bench_discovery --quick   # n = 64, 32 × 32
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

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


def random_scm(seed: int, k: int = 6, edge_probability: float = 0.4) -> SCM:
    """A random DAG over ``k`` variables whose mechanisms mix linear, squared (non-monotone) and sine terms of the parents."""
    rng = np.random.default_rng(seed)
    terms = {"linear": lambda x: x - 0.5, "square": lambda x: (2 * x - 1) ** 2 - 0.5, "sine": lambda x: 0.5 * jnp.sin(2 * jnp.pi * x)}
    variables = []
    for i in range(k):
        parents = tuple(f"v{j}" for j in range(i) if rng.random() < edge_probability)
        if not parents:
            variables.append(Variable(f"v{i}", 0.0, 1.0))
            continue
        weights = rng.uniform(0.5, 1.0, len(parents)) * rng.choice([-1.0, 1.0], len(parents))
        kinds = rng.choice(sorted(terms), len(parents))

        def mechanism(p, parents=parents, weights=weights, kinds=kinds):
            total = sum(w * terms[kind](p[name]) for name, w, kind in zip(parents, weights, kinds)) / len(parents)
            return 0.5 + 0.4 * jnp.tanh(total)

        variables.append(Variable(f"v{i}", 0.0, 1.0, parents, mechanism, Uniform(-0.05, 0.05)))
    return SCM(tuple(variables))


def recovery(seeds: range, size: int, n: int) -> dict:
    """How often the default audit recovers the DAG (direct) and its closure (total) of random six-variable scenes."""
    exact = {"direct": 0, "total": 0}
    for seed in seeds:
        oracle = Dots(random_scm(seed), size=size).oracle()
        for kind in exact:
            exact[kind] += audit(oracle, key=jax.random.key(seed), graph=kind, n=n).scores["shd"] == 0
    return {f"{kind} SHD 0": f"{count}/{len(seeds)}" for kind, count in exact.items()}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="64 samples at 32 × 32")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--random", type=int, default=None, help="random scenes whose recovery is counted (default 20, quick 4)")
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
    random_scenes = recovery(range(args.random or (4 if args.quick else 20)), size, n)
    print_table([random_scenes], "default audit on random six-variable scenes (linear, squared and sine mechanisms)")
    save_results("discovery", {"samples": n, "size": size, "load_average": os.getloadavg(), "rows": rows,
                               "direct_over_total_warm": ratio, "random_scenes": random_scenes})
    return {"rows": rows, "random_scenes": random_scenes}


if __name__ == "__main__":
    main()
