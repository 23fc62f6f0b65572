"""β-VAE training throughput (batch 64, 64×64 dSprites, Adam) against PyTorch, with a per-op profile.

Rows, timed interleaved (every candidate once per round, ``--repeats`` rounds, median
and spread reported) so that load changes hit all of them alike:

* ``jax step``: one jitted training step per call (what ``fit`` runs with
  ``steps_per_call=1``: the step, then the metrics and finite flag fetched to the host);
* ``jax fused``: ``fit``'s call of ``--fused`` steps in one ``lax.scan``;
* ``jax textbook``: one step with ``lax.conv`` strided / transposed convolutions;
* ``torch eager`` and ``torch.compile``: the same architecture and loss in PyTorch
  (if installed), on one fixed pre-rendered batch (the JAX rows render theirs inside the step).

Then the per-op profile of the step and of the fused call (``benchmarks.profile``).
The load average is recorded before and after; a busy machine is flagged.

    python -m benchmarks.bench_train              # the table, profiles, JSON
    python -m benchmarks.bench_train --quick      # a smoke run (1 round, short)
    python -m benchmarks.bench_train --quality    # also the β-VAE quality run
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from benchmarks import torch_peers
from benchmarks.common import interleaved, matmul_peak, print_table, save_results, warn_if_busy
from benchmarks.profile import op_profile
from genstyle_causal.data.dsprites import DSprites
from genstyle_causal.models.vae import VAEConfig, VAETask, gaussian_kl
from genstyle_causal.train import ImageBatches, TrainConfig, fit
from genstyle_causal.train.loop import compiled_call

BATCH = 64


def flops_of(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", float("nan")))


def jax_call(task: VAETask, steps: int):
    """``fit``'s jitted call of ``steps`` steps as a zero-argument callable (state kept inside), with its
    compile time and FLOPs per step."""
    batches = ImageBatches(DSprites(), BATCH)
    call = compiled_call(task, batches, steps, None)
    state = task.init(jax.random.PRNGKey(0))
    t = time.perf_counter()
    compiled = call.lower(state).compile()
    compile_s = time.perf_counter() - t
    box = [state]

    def run():
        box[0], metrics, finite = call(box[0])
        jax.device_get((metrics, finite))  # what fit does after every call

    return run, {"compile_s": compile_s, "gflop_per_step": flops_of(compiled) / 1e9}


def profiles(task: VAETask, fused: int) -> dict:
    batches = ImageBatches(DSprites(), BATCH)
    state = task.init(jax.random.PRNGKey(0))
    out = {}
    for name, n in (("step", 1), (f"fused x{fused}", fused)):
        fn = jax.jit(compiled_call(task, batches, n, None).__wrapped__)  # same function, without donation
        prof = op_profile(fn, state)
        prof.print(f"profile: jax {name} (per call of {n} step{'s' * (n > 1)})")
        out[name] = prof.as_dict()
    return out


def quality(steps: int) -> dict:
    """β-VAE (β = 4) on 64×64 dSprites: final reconstruction NLL and KL per latent unit on 1024 held-out images."""
    task = VAETask(VAEConfig(beta=4.0, learning_rate=5e-4))
    cfg = TrainConfig(steps=steps, log_every=max(1, steps // 10), progress=False)
    t = time.perf_counter()
    state, hist = fit(task, ImageBatches(DSprites(), BATCH), cfg)
    wall = time.perf_counter() - t
    x = DSprites().sample(jax.random.PRNGKey(12345), 1024)[1]
    _, (metrics, _) = jax.jit(task.loss)(state.params, x, key=jax.random.PRNGKey(1))
    mean, logvar = jax.jit(lambda p, x: task.model(p).encoder(x))(state.params, x)
    kl_units = np.asarray(gaussian_kl(mean, logvar).mean(axis=0))
    return {
        "steps": steps,
        "wall_s": wall,
        "recon_nll": float(metrics["recon"]),
        "kl_total": float(kl_units.sum()),
        "kl_per_unit": [round(float(v), 4) for v in kl_units],
        "active_units": int((kl_units > 0.1).sum()),
        "history": hist,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one short round (smoke run)")
    p.add_argument("--repeats", type=int, default=None, help="interleaved rounds (default 5; quick 1)")
    p.add_argument("--fused", type=int, default=50, help="steps per call of the fused row (default 50)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per candidate per round (default 3)")
    p.add_argument("--no-profile", action="store_true", help="skip the per-op profiles")
    p.add_argument("--quality", action="store_true", help="also run the β-VAE quality run")
    p.add_argument("--quality-steps", type=int, default=None, help="steps of the quality run (default 3000, quick 200)")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    fused = 5 if args.quick else args.fused
    out = {"batch": BATCH, "image": [64, 64, 1], "quick": args.quick, "load_before": warn_if_busy("start")}
    out["matmul_gflop_per_s"] = matmul_peak(reps=3 if args.quick else 10) / 1e9

    task = VAETask(VAEConfig())
    candidates, units, info = {}, {}, {}
    for name, t, n in (("jax step", task, 1), (f"jax fused x{fused}", task, fused),
                       ("jax textbook step", VAETask(VAEConfig(), reference=True), 1)):
        candidates[name], info[name] = jax_call(t, n)
        units[name] = n
    if torch_peers.available():
        images = np.asarray(DSprites().sample(jax.random.PRNGKey(0), BATCH)[1])
        for name, compiled in (("torch eager", False), ("torch.compile", True)):
            step = torch_peers.try_peer(name, torch_peers.vae_step, VAEConfig(), images, compiled=compiled)
            if step is not None:
                candidates[name] = step
        out["torch"] = torch_peers.version()
    # XLA's cost analysis counts a loop body once: the fused call does the single step's FLOPs per step
    info[f"jax fused x{fused}"]["gflop_per_step"] = info["jax step"]["gflop_per_step"]
    timings = interleaved(candidates, units=units, repeats=repeats,
                          min_time=args.min_time or (0.5 if args.quick else 3.0))

    rows = []
    eager, comp = (timings.get(k, {}).get("median_s") for k in ("torch eager", "torch.compile"))
    for name, t in timings.items():
        sps = 1.0 / t["median_s"]
        row = {"step": name, "steps/s": sps, "spread": t["spread"], "vs eager": eager / t["median_s"] if eager else None,
               "vs compile": comp / t["median_s"] if comp else None}
        gf = info.get(name, {}).get("gflop_per_step")
        row["GFLOP/s"] = gf * sps if gf else None
        rows.append(row)
        out[name] = {**t, **info.get(name, {}), "steps_per_s": sps}
    print_table(rows, f"β-VAE training step, batch {BATCH}, 64×64, Adam: median of {repeats} interleaved rounds "
                      f"(spread = slowest/fastest round); matmul peak {out['matmul_gflop_per_s']:.0f} GFLOP/s")
    out["table"] = rows
    if not args.no_profile:
        out["profile"] = profiles(task, 10 if not args.quick else fused)
    if args.quality:
        q = quality(args.quality_steps or (200 if args.quick else 3000))
        out["quality"] = q
        print(f"quality: {q['steps']} steps in {q['wall_s']:.0f} s, recon NLL {q['recon_nll']:.1f} nats/image, "
              f"KL {q['kl_total']:.2f} nats, per unit {q['kl_per_unit']}, active units {q['active_units']}")  # fmt: skip
    out["load_after"] = warn_if_busy("end")
    save_results("train_quick" if args.quick else "train", out)
    return out


if __name__ == "__main__":
    main()
