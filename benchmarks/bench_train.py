"""Training throughput of the β-VAE step (batch 64, 64×64 dSprites, Adam) and a quality run.

Columns: the package's fast step (im2col/sub-pixel blocks), the naive step
(``lax.conv`` strided + ``lax.conv_transpose``), and a PyTorch eager reference of
the same architecture when torch is importable. Compile time is reported apart;
FLOPs per step come from XLA's cost analysis, the peak from a big matmul in the
same run. The JAX steps render their batch on device inside the step (as ``fit``
does); the PyTorch step trains on one fixed pre-rendered batch.

    python -m benchmarks.bench_train --quick          # a few steps each
    python -m benchmarks.bench_train                  # the full timing
    python -m benchmarks.bench_train --quality        # β-VAE quality run
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from benchmarks.common import matmul_peak, save_results
from genstyle_causal.data.dsprites import DSprites
from genstyle_causal.models.vae import VAEConfig, VAETask, gaussian_kl
from genstyle_causal.train import ImageBatches, TrainConfig, fit, make_step

BATCH = 64


def flops_of(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", float("nan")))


def bench_jax(reference: bool, steps: int) -> dict:
    task = VAETask(VAEConfig(), reference=reference)
    state = task.init(jax.random.PRNGKey(0))
    step = jax.jit(make_step(task, ImageBatches(DSprites(), BATCH)), donate_argnums=0)
    t = time.perf_counter()
    compiled = step.lower(state).compile()
    compile_s = time.perf_counter() - t
    state, _ = compiled(state)  # warm-up
    jax.block_until_ready(state)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        state, m = compiled(state)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t)
    return {"compile_s": compile_s, "steps_per_s": 1.0 / float(np.median(times)), "flops": flops_of(compiled)}


def bench_torch(steps: int) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    from torch import nn

    c = VAEConfig()
    enc = nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * 16, c.hidden), nn.ReLU(), nn.Linear(c.hidden, 2 * c.latent),
    )  # fmt: skip
    dec = nn.Sequential(
        nn.Linear(c.latent, c.hidden), nn.ReLU(), nn.Linear(c.hidden, 64 * 16), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
    )  # fmt: skip
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=c.learning_rate)
    x = torch.from_numpy(np.asarray(DSprites().sample(jax.random.PRNGKey(0), BATCH)[1]).transpose(0, 3, 1, 2).copy())

    def step():
        mean, logvar = enc(x).chunk(2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        nll = nn.functional.binary_cross_entropy_with_logits(dec(z), x, reduction="sum") / BATCH
        kl = 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum() / BATCH
        opt.zero_grad()
        (nll + kl).backward()
        opt.step()

    step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {"steps_per_s": 1.0 / float(np.median(times)), "torch": torch.__version__, "threads": torch.get_num_threads()}


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
    p.add_argument("--quick", action="store_true", help="few timing steps (smoke run)")
    p.add_argument("--quality", action="store_true", help="also run the β-VAE quality run")
    p.add_argument("--quality-steps", type=int, default=None, help="steps of the quality run (default 3000, quick 200)")
    args = p.parse_args(argv)
    steps = 3 if args.quick else 30
    out = {"batch": BATCH, "image": [64, 64, 1], "quick": args.quick}
    out["matmul_flops_per_s"] = matmul_peak(reps=3 if args.quick else 10)
    rows = []
    for name, ref in (("jax fast", False), ("jax naive conv_transpose", True)):
        r = bench_jax(ref, steps)
        r["fraction_of_matmul_peak"] = r["flops"] * r["steps_per_s"] / out["matmul_flops_per_s"]
        out[name] = r
        rows.append((name, r["steps_per_s"], r["compile_s"], r["flops"] / 1e9, r["fraction_of_matmul_peak"]))
    torch_r = bench_torch(steps)
    if torch_r is not None:
        out["torch eager"] = torch_r
        rows.append(("torch eager", torch_r["steps_per_s"], float("nan"), float("nan"), float("nan")))
    print(f"matmul peak: {out['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s  ({jax.default_backend()}, {os.cpu_count()} CPUs)")
    print(f"{'step':28s} {'steps/s':>8s} {'compile s':>10s} {'GFLOP/step':>11s} {'of peak':>8s}")
    for name, sps, comp, gf, frac in rows:
        print(f"{name:28s} {sps:8.2f} {comp:10.1f} {gf:11.2f} {frac:8.1%}")
    if args.quality:
        q = quality(args.quality_steps or (200 if args.quick else 3000))
        out["quality"] = q
        print(f"quality: {q['steps']} steps in {q['wall_s']:.0f} s, recon NLL {q['recon_nll']:.1f} nats/image, "
              f"KL {q['kl_total']:.2f} nats, per unit {q['kl_per_unit']}, active units {q['active_units']}")  # fmt: skip
    save_results("train_quick" if args.quick else "train", out)
    return out


if __name__ == "__main__":
    main()
