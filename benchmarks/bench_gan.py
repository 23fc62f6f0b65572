"""DCGAN training throughput: steps/s at batch 64 on 64×64 dSprites, compile time apart.

One step = one discriminator and one generator Adam update (``GANTask.train_step``),
with the batch rendered on device inside the jitted step as ``fit`` does. Rows:
DCGAN (non-saturating), InfoGAN (1 categorical + 2 continuous codes) and WGAN-GP
(double back-propagation for the penalty).

    python -m benchmarks.bench_gan --quick     # few timed steps
    python -m benchmarks.bench_gan             # the full timing
"""

from __future__ import annotations

import argparse
import time

import jax

from benchmarks.common import matmul_peak, save_results
from genstyle_causal.data import DSprites
from genstyle_causal.models.gan import GANConfig, GANTask
from genstyle_causal.train import ImageBatches, make_step

BATCH = 64
VARIANTS = {
    "dcgan": GANConfig(),
    "infogan": GANConfig(categorical=(3,), continuous=2),
    "wgan-gp": GANConfig(loss="wgan-gp", lr_generator=1e-4, lr_discriminator=1e-4, beta2=0.9),
}


def bench(config: GANConfig, steps: int) -> dict:
    task = GANTask(config)
    state = task.init(jax.random.PRNGKey(0))
    step = jax.jit(make_step(task, ImageBatches(DSprites(size=config.image_shape[0]), BATCH)), donate_argnums=0)
    t = time.perf_counter()
    compiled = step.lower(state).compile()
    compile_s = time.perf_counter() - t
    state, _ = compiled(state)  # warm-up
    jax.block_until_ready(state)
    t = time.perf_counter()
    for _ in range(steps):
        state, metrics = compiled(state)
    jax.block_until_ready((state, metrics))
    run_s = time.perf_counter() - t
    cost = compiled.cost_analysis()
    flops = float((cost[0] if isinstance(cost, (list, tuple)) else cost).get("flops", float("nan")))
    return {
        "compile_s": compile_s,
        "steps": steps,
        "steps_per_s": steps / run_s,
        "ms_per_step": 1e3 * run_s / steps,
        "gflop_per_step": flops / 1e9,
        "gflop_per_s": flops / 1e9 * steps / run_s,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="time 3 steps per variant instead of 30")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)
    steps = 3 if args.quick else 30
    peak = matmul_peak() / 1e9
    rows = {name: bench(VARIANTS[name], steps) for name in args.variants}
    for r in rows.values():
        r["fraction_of_matmul_peak"] = r["gflop_per_s"] / peak
    print(f"batch {BATCH}, 64×64, {jax.default_backend()}, matmul peak {peak:.0f} GFLOP/s")
    print(f"{'variant':10} {'compile s':>10} {'steps/s':>9} {'ms/step':>9} {'GFLOP/step':>11} {'% peak':>7}")
    for name, r in rows.items():
        print(
            f"{name:10} {r['compile_s']:10.1f} {r['steps_per_s']:9.2f} {r['ms_per_step']:9.0f} "
            f"{r['gflop_per_step']:11.2f} {100 * r['fraction_of_matmul_peak']:7.1f}"
        )
    out = {"batch": BATCH, "image": [64, 64, 1], "quick": args.quick, "matmul_gflop_per_s": peak, "rows": rows}
    save_results("gan", out)
    return out


if __name__ == "__main__":
    main()
