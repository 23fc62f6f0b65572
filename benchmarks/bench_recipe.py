"""Quality per CPU-minute of the shipped VAE recipes (``models.vae.RECIPES``) on dSprites.

For each recipe and seed, the run trains in its own resumable run directory and is
scored along the way: MIG, DCI disentanglement (fast forest importances) and the
FactorVAE score under the ``fast`` protocol at every curve point, and MIG, DCI-D
(gradient-boosted trees) and FactorVAE under the ``disentanglement_lib`` protocol
(10,000 samples, 10,000 / 5,000 votes) at the recipe's step budget. Scores are on the
factor grid whatever the training image size; the code is the encoder mean.

Minutes: the same recipe's fused training call is timed separately (best of a few
calls after compilation, with the load average), and a step count converts to
minutes as ``(compile + steps / steps_per_s) / 60``. The steps are what the run
did; a faster step (or an idle machine) re-converts them without retraining.

    python -m benchmarks.bench_recipe                     # demo and best recipes, 3 seeds
    python -m benchmarks.bench_recipe --recipes demo --seeds 0 1 2 3
    python -m benchmarks.bench_recipe --screen            # the objective screen that chose the recipes
    python -m benchmarks.bench_recipe --speed-only        # re-time the steps (idle machine), re-convert minutes
    python -m benchmarks.bench_recipe --quick             # a smoke run (seconds)

Prints a table and writes ``benchmarks/results/recipe.json`` (atomically); run
directories go to ``--workdir`` (default ``runs/bench_recipe``), so an interrupted
benchmark resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
import zlib
from pathlib import Path

import jax
import numpy as np

from benchmarks.common import RESULTS, machine_load, print_table, save_results, warn_if_busy
from genstyle_causal.data import DSprites
from genstyle_causal.io import atomic_write_json
from genstyle_causal.metrics import evaluate
from genstyle_causal.models.vae import RECIPES, Recipe, VAEConfig, VAETask
from genstyle_causal.sections import mean_encoder
from genstyle_causal.train import ImageBatches, TrainConfig, fit
from genstyle_causal.train.loop import compiled_call

CURVE_METRICS = ["mig", "dci", "factor_vae"]


def _candidate(steps: int, batch_size: int = 64, **model) -> Recipe:
    return Recipe(VAEConfig(image_shape=(32, 32, 1), learning_rate=1e-3, **model), batch_size=batch_size, steps=steps)


#: The screen that chose the recipes: every objective at 32×32, Adam 1e-3, one seed, a few thousand steps.
SCREEN = {
    "beta4": _candidate(3000, objective="beta", beta=4.0),
    "betatc6": _candidate(3000, objective="betatc", beta=6.0),
    "betatc6-batch32": _candidate(2000, batch_size=32, objective="betatc", beta=6.0),
    "annealed20": _candidate(2000, objective="annealed", capacity_max=20.0, capacity_steps=1500),
    "factor10": _candidate(1000, objective="factor", gamma=10.0),
    "dip1": _candidate(1000, objective="dip1", lambda_od=10.0, lambda_d=100.0),
}
SCORE_KEY = jax.random.key(20180)  # every run and step scored on the same samples


def headline(res: dict) -> dict:
    m = res["metrics"]
    return {"mig": m["mig"]["mig"], "dci_d": m["dci"]["disentanglement"], "factor_vae": m["factor_vae"]["factor_vae"]}


def steps_per_second(recipe: Recipe, reps: int) -> dict:
    """Throughput of the recipe's fused call (``steps_per_call`` steps), best of ``reps`` timed calls, and compile time."""
    task = VAETask(recipe.config)
    batches = ImageBatches(DSprites(size=recipe.image_size), recipe.batch_size)
    call = compiled_call(task, batches, recipe.steps_per_call, None)
    state = task.init(jax.random.PRNGKey(0))
    t = time.perf_counter()
    call = call.lower(state).compile()
    compile_s = time.perf_counter() - t
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        state, metrics, finite = call(state)
        jax.block_until_ready((metrics, finite))
        best = min(best, time.perf_counter() - t)
    return {"steps_per_s": recipe.steps_per_call / best, "compile_s": compile_s, "load": machine_load(window=0.5)}


def curve_points(budget: int, every: int, spc: int) -> list[int]:
    """Evaluation steps: every ``every`` steps up to ``budget`` (multiples of ``spc``), the budget last."""
    pts = list(range(every, budget, every)) + [budget]
    return sorted({max(spc, p - p % spc) for p in pts})


def run_key(recipe: Recipe) -> str:
    """A folder name for the recipe's trajectory: recipes that differ only in their step budget share it,
    so a longer budget continues the shorter one's runs (and its curve points)."""
    blob = json.dumps([dataclasses.asdict(recipe.config), recipe.batch_size, recipe.steps_per_call], sort_keys=True,
                      default=str)
    return f"{recipe.config.objective}-{zlib.crc32(blob.encode()):08x}"


def run_seed(name: str, recipe: Recipe, seed: int, points: list[int], workdir: Path, *, sizes: dict,
             final_protocol: str, progress: bool) -> dict:
    """Train to each curve point in turn (resuming), scoring each; cached in ``workdir/evals.json``.

    ``curve[step]``: fast-protocol scores, ``final[protocol][step]``: scores at the budget.
    """
    data = DSprites(size=recipe.image_size)
    task = VAETask(recipe.config)
    batches = ImageBatches(data, recipe.batch_size)
    cache_path = workdir / "evals.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {"curve": {}, "final": {}}

    def train(step, show):
        cfg = TrainConfig(steps=step, seed=seed, steps_per_call=recipe.steps_per_call, log_every=recipe.steps_per_call,
                          progress=show)
        state, _ = fit(task, batches, cfg, workdir=workdir)
        if int(state.step) != step:  # the folder was trained past this point (by a longer budget): cannot score it
            return None
        return mean_encoder(task.model(state.params))

    for step in points:
        if str(step) in cache["curve"]:
            continue
        t, c = time.perf_counter(), time.process_time()
        encode = train(step, progress)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if encode is None:
            print(f"{name} seed {seed}: {workdir} is past step {step}; that curve point is skipped", flush=True)
            continue
        res = evaluate(encode, data, CURVE_METRICS, key=SCORE_KEY, protocol="fast", options=sizes)
        cache["curve"][str(step)] = {**headline(res), "train_wall_s": wall, "train_cpu_s": cpu,
                                     "load_1min": os.getloadavg()[0]}
        atomic_write_json(cache_path, cache)
        print(f"{name} seed {seed} step {step}: {cache['curve'][str(step)]}", flush=True)
    finals = cache["final"].setdefault(final_protocol, {})
    budget = str(points[-1])
    if budget not in finals:
        if final_protocol == "fast":  # the last curve point is the fast score already
            finals[budget] = dict(cache["curve"][budget])
        else:
            t = time.perf_counter()
            encode = train(points[-1], False)
            if encode is None:
                raise SystemExit(f"{workdir} was trained past step {points[-1]}: score that budget in another --workdir")
            res = evaluate(encode, data, CURVE_METRICS, key=SCORE_KEY, protocol=final_protocol)
            finals[budget] = {**headline(res), "eval_seconds": time.perf_counter() - t, "load_1min": os.getloadavg()[0]}
        atomic_write_json(cache_path, cache)
        print(f"{name} seed {seed} step {budget} ({final_protocol}): {finals[budget]}", flush=True)
    curve = {k: v for k, v in cache["curve"].items() if int(k) <= points[-1]}
    return {"curve": curve, "final": {**finals[budget], "protocol": final_protocol}}


def summarise(name: str, recipe: Recipe, speed: dict, runs: dict[int, dict]) -> tuple[list[dict], dict]:
    """Curve rows (mean, std, min, max over seeds per step, with minutes) and the final scores."""
    def minutes(steps):
        return (speed["compile_s"] + steps / speed["steps_per_s"]) / 60

    rows = []
    steps = sorted({int(s) for r in runs.values() for s in r["curve"]})
    for s in steps:
        vals = [r["curve"][str(s)] for r in runs.values() if str(s) in r["curve"]]
        row = {"recipe": name, "step": s, "minutes": round(minutes(s), 2), "seeds": len(vals)}
        for k in ("mig", "dci_d", "factor_vae"):
            v = np.array([x[k] for x in vals])
            row[k] = f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}"
        rows.append(row)
    finals = [r["final"] for r in runs.values() if r["final"]]
    final = {"steps": recipe.steps, "minutes": minutes(recipe.steps), "seeds": len(finals),
             "protocol": finals[0]["protocol"] if finals else None}
    for k in ("mig", "dci_d", "factor_vae"):
        v = np.array([f[k] for f in finals])
        if len(v):
            final[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                        "min": float(v.min()), "max": float(v.max()), "values": v.tolist()}
    return rows, final


def screen(workdir: Path) -> dict:
    """Each :data:`SCREEN` candidate, seed 0, fast-protocol scores every 1000 steps (resumable)."""
    sizes = {"mig": {"num_train": 10_000}, "dci": {"num_train": 5_000, "num_test": 2_500},
             "factor_vae": {"num_train": 1_000, "num_eval": 500, "num_variance_estimate": 5_000}}
    out, rows = {"load_before": warn_if_busy("start"), "candidates": {}}, []
    for name, recipe in SCREEN.items():
        points = curve_points(recipe.steps, 1000, recipe.steps_per_call)
        run = run_seed(name, recipe, 0, points, workdir / f"{run_key(recipe)}-seed0", sizes=sizes, final_protocol="fast",
                       progress=True)
        out["candidates"][name] = {"recipe": dataclasses.asdict(recipe), "curve": run["curve"]}
        rows += [{"candidate": name, "step": int(k), **{m: round(v[m], 3) for m in ("mig", "dci_d", "factor_vae")},
                  "train_cpu_s": round(v["train_cpu_s"], 1)} for k, v in run["curve"].items()]
    print_table(rows, "Screen: one seed, fast protocol (train_cpu_s: CPU seconds of that segment, incl. compilation)")
    save_results("recipe_screen", out)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), help=f"recipes to run (default: {list(RECIPES)})")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--every", type=int, default=None, help="steps between curve points (default: budget / 6)")
    p.add_argument("--steps", type=int, default=None, help="override every recipe's step budget")
    p.add_argument("--workdir", type=Path, default=Path("runs/bench_recipe"))
    p.add_argument("--quick", action="store_true", help="20 steps of a tiny recipe, small metric sizes (smoke run)")
    p.add_argument("--screen", action="store_true", help="run the screen of SCREEN's candidates (seed 0, a curve "
                   "point every 1000 steps, fast protocol) into benchmarks/results/recipe_screen.json")
    p.add_argument("--final-protocol", choices=("disentanglement_lib", "fast"), default="disentanglement_lib",
                   help="protocol of the scores at the step budget (MIG is the same 10,000-sample estimate in both; "
                   "disentanglement_lib's GBT DCI costs minutes per run)")
    p.add_argument("--speed-only", action="store_true", help="train nothing: time each recipe's step now and "
                   "re-convert the steps of its runs in recipe.json to minutes (e.g. on an idle machine)")
    args = p.parse_args(argv)
    if args.screen:
        return screen(args.workdir)
    previous = RESULTS / "recipe.json"
    stored = json.loads(previous.read_text()).get("recipes", {}) if previous.is_file() else {}
    out = {"quick": args.quick, "load_before": warn_if_busy("start"), "recipes": {}}
    sizes = {"mig": {"num_train": 10_000}, "dci": {"num_train": 5_000, "num_test": 2_500},
             "factor_vae": {"num_train": 1_000, "num_eval": 500, "num_variance_estimate": 5_000}}
    final_protocol = args.final_protocol
    all_rows = []
    for name in args.recipes:
        recipe = RECIPES[name]
        if args.quick:
            recipe = dataclasses.replace(recipe, steps=20, steps_per_call=10)
            sizes = {"mig": {"num_train": 500}, "dci": {"num_train": 300, "num_test": 200},
                     "factor_vae": {"num_train": 50, "num_eval": 25, "num_variance_estimate": 500}}
            final_protocol = "fast"
        elif args.steps:
            recipe = dataclasses.replace(recipe, steps=args.steps)
        every = args.every or max(recipe.steps_per_call, recipe.steps // 6)
        points = curve_points(recipe.steps, every, recipe.steps_per_call)
        speed = steps_per_second(recipe, reps=2 if args.quick else 5)
        print(f"{name}: {speed['steps_per_s']:.1f} steps/s (compile {speed['compile_s']:.0f} s, load "
              f"{speed['load']['load_1min']})", flush=True)
        tag = "quick-" if args.quick else ""
        if args.speed_only:
            if name not in stored:
                raise SystemExit(f"--speed-only: {previous} holds no runs of recipe {name!r}")
            runs, points = {int(s): r for s, r in stored[name]["runs"].items()}, stored[name]["curve_points"]
        else:
            runs = {s: run_seed(name, recipe, s, points, args.workdir / f"{tag}{run_key(recipe)}-seed{s}", sizes=sizes,
                                final_protocol=final_protocol, progress=not args.quick) for s in args.seeds}
        rows, final = summarise(name, recipe, speed, runs)
        all_rows += rows
        out["recipes"][name] = {"recipe": {**dataclasses.asdict(recipe)}, "speed": speed, "curve_points": points,
                                "runs": {str(s): r for s, r in runs.items()}, "curve": rows, "final": final}
    out["load_after"] = warn_if_busy("end")
    print_table(all_rows, "Disentanglement against training steps and minutes (fast protocol; mean ± std over seeds)")
    print_table([{"recipe": n, "steps": r["final"]["steps"], "minutes": round(r["final"]["minutes"], 1),
                  "seeds": r["final"]["seeds"], "protocol": r["final"]["protocol"],
                  **{k: f"{r['final'][k]['mean']:.3f} ± {r['final'][k]['std']:.3f}" for k in ("mig", "dci_d", "factor_vae")
                     if k in r["final"]}} for n, r in out["recipes"].items()], "At the step budget")
    if not args.quick:  # keep the recipes this call did not run
        save_results("recipe", {**out, "recipes": {**stored, **out["recipes"]}})
    return out


if __name__ == "__main__":
    main()
