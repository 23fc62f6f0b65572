"""Intervention-sweep throughput: units × values × samples through a β-VAE-sized decoder.

Compares (1) the sweep (:func:`genstyle_causal.causal.sweep`, one jit, chunks
vmapped) with (2) one batched decoder pass over the same number of images,
chunked the same way (same memory bound), and (3) a per-sample Python loop
calling a jit-compiled single-sample intervention (a few hundred iterations
timed, extrapolated to the full sweep).

The decoder is the project's β-VAE decoder at its documented 64×64 size
(:func:`genstyle_causal.models.vae.vae_generator` of an untrained
``VAE(VAEConfig())``: dense 256, dense 1024, four ×2 upsamplings built from
``models/layers.py``), whose named stages the sweep runs through.

    python -m benchmarks.bench_sweep            # 10 units × 11 values × 512 samples
    python -m benchmarks.bench_sweep --quick    # 10 × 11 × 32
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks.common import best_time, save_results
from genstyle_causal.causal import Do, grid_sweep, intervene
from genstyle_causal.models.vae import VAE, VAEConfig, vae_generator


def mean_intensity(images):
    return images.mean(axis=(1, 2))


@jax.jit
def _batched_pass(generator, z_chunks):
    return jax.lax.map(lambda z: mean_intensity(generator.run(z)), z_chunks)


@jax.jit
def _one_sample(generator, z, unit, value):
    return mean_intensity(intervene(generator, z, Do(unit, value)))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="32 samples instead of 512, 50 loop iterations")
    p.add_argument("--units", type=int, default=10)
    p.add_argument("--values", type=int, default=11)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--loop", type=int, default=None, help="per-sample loop iterations to time")
    p.add_argument("--max-images", type=int, default=1024, help="images per vmapped chunk (memory bound)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    n = args.samples or (32 if args.quick else 512)
    loop_iters = args.loop or (50 if args.quick else 300)
    units, values = args.units, args.values
    total = units * values * n

    g = vae_generator(VAE(VAEConfig(), rngs=nnx.Rngs(0)), name="bvae-64")
    z = g.sample_latent(jax.random.key(1), n)
    grid = np.linspace(-2.0, 2.0, values, dtype=np.float32)
    run_sweep = lambda: grid_sweep(g, z, mean_intensity, units=range(units), values=grid, max_images=args.max_images)  # noqa: E731

    t = time.perf_counter()
    jax.block_until_ready(run_sweep())
    compile_sweep = time.perf_counter() - t
    t_sweep = best_time(run_sweep, args.repeats)

    per_chunk = max(1, min(units * values, args.max_images // n)) * n
    chunks = -(-total // per_chunk)
    z_all = jnp.resize(jnp.tile(z, (units * values, 1)), (chunks * per_chunk, g.latent_dim)).reshape(chunks, per_chunk, g.latent_dim)
    jax.block_until_ready(_batched_pass(g, z_all))
    t_batched = best_time(lambda: _batched_pass(g, z_all), args.repeats) * total / (chunks * per_chunk)

    zs = z[:, None, :]
    jax.block_until_ready(_one_sample(g, zs[0], 0, 0.0))

    def loop():
        for i in range(loop_iters):
            out = _one_sample(g, zs[i % n], (i // values) % units, float(grid[i % values]))
            out.block_until_ready()
        return out

    t_loop = best_time(loop, args.repeats) / loop_iters * total

    result = {
        "decoder": "genstyle_causal.models.vae.vae_generator(VAE(VAEConfig())), untrained, 64x64x1",
        "units": units, "values": values, "samples": n, "images": total, "max_images_per_chunk": args.max_images,
        "seconds": {"sweep": t_sweep, "batched_pass": t_batched, "python_loop_extrapolated": t_loop, "sweep_compile": compile_sweep},
        "loop_iterations_timed": loop_iters, "timing": f"best of {args.repeats} repeats, compile excluded",
        "sweep_over_batched": t_sweep / t_batched,
        "loop_over_sweep": t_loop / t_sweep,
        "images_per_second": {"sweep": total / t_sweep, "batched_pass": total / t_batched, "python_loop": total / t_loop},
        "quick": args.quick,
    }
    print(f"sweep {units} units × {values} values × {n} samples = {total} images (chunks of ≤ {args.max_images} images)")
    print(f"{'method':<34}{'seconds':>10}{'images/s':>12}")
    print(f"{'sweep (one jit, chunked)':<34}{t_sweep:>10.3f}{total / t_sweep:>12.0f}")
    print(f"{'one batched decoder pass':<34}{t_batched:>10.3f}{total / t_batched:>12.0f}")
    print(f"{'per-sample loop (extrapolated)':<34}{t_loop:>10.3f}{total / t_loop:>12.0f}")
    print(f"sweep / batched = {t_sweep / t_batched:.2f}× (goal ≤ 1.2), loop / sweep = {t_loop / t_sweep:.0f}× (goal ≥ 20); "
          f"loop: best of {args.repeats} runs of {loop_iters} iterations, extrapolated; sweep compile {compile_sweep:.1f} s")
    save_results("sweep", result)
    return result


if __name__ == "__main__":
    main()
