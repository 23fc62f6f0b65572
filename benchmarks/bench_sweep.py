"""Intervention-sweep throughput: units × values × samples through a β-VAE-sized decoder.

Compares (1) the sweep (:func:`genstyle_causal.causal.sweep`, one jit, chunks
vmapped) with (2) one batched decoder pass over the same number of images,
chunked the same way (same memory bound), and (3) a per-sample Python loop
calling a jit-compiled single-sample intervention (a few hundred iterations
timed, extrapolated to the full sweep).

The decoder is a plain Flax NNX decoder of the documented β-VAE size
(disentanglement_lib: dense 256, dense 1024 = 4×4×64, then four ×2
upsamplings to 64, 32, 32, C channels → 64×64×C), built here until the
project's ``vae_generator`` is available, with named stages
``dense1, dense2, up1, up2, up3, image``. Each upsampling is sub-pixel
(Shi et al. 2016: a 3×3 stride-1 conv to 4·C channels, then depth-to-space)
rather than a 4×4 stride-2 transposed conv, which XLA:CPU runs pathologically
slowly (see DESIGN.md, performance notes).

    python benchmarks/bench_sweep.py            # 10 units × 11 values × 512 samples
    python benchmarks/bench_sweep.py --quick    # 10 × 11 × 32
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genstyle_causal.causal import Do, do_batch, intervene, sweep  # noqa: E402
from genstyle_causal.generator import Generator, Stage  # noqa: E402


def depth_to_space(x: jax.Array) -> jax.Array:
    """(n, h, w, 4c) → (n, 2h, 2w, c)."""
    n, h, w, c4 = x.shape
    x = x.reshape(n, h, w, 2, 2, c4 // 4).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, 2 * h, 2 * w, c4 // 4)


class Decoder(nnx.Module):
    def __init__(self, latent: int = 10, channels: int = 1, *, rngs: nnx.Rngs):
        up = lambda i, o: nnx.Conv(i, 4 * o, (3, 3), padding="SAME", rngs=rngs)  # noqa: E731
        self.dense1 = nnx.Linear(latent, 256, rngs=rngs)
        self.dense2 = nnx.Linear(256, 1024, rngs=rngs)
        self.up1, self.up2, self.up3, self.image = up(64, 64), up(64, 32), up(32, 32), up(32, channels)


def _apply(model: Decoder, name: str, h: jax.Array) -> jax.Array:
    if name == "dense1":
        return jax.nn.relu(model.dense1(h))
    if name == "dense2":
        return jax.nn.relu(model.dense2(h)).reshape(h.shape[0], 4, 4, 64)
    out = depth_to_space(getattr(model, name)(h))
    return jax.nn.sigmoid(out) if name == "image" else jax.nn.relu(out)


@dataclasses.dataclass(frozen=True)
class DecoderStage:
    """One named layer of the decoder; hashable, so re-creating the Generator does not recompile."""

    graphdef: nnx.GraphDef
    name: str

    def __call__(self, params, h):
        return _apply(nnx.merge(self.graphdef, params), self.name, h)


def _standard_normal(key, n):
    return jax.random.normal(key, (n, 10))


def decoder_generator(key: jax.Array) -> Generator:
    graphdef, params = nnx.split(Decoder(rngs=nnx.Rngs(key)))
    names = ("dense1", "dense2", "up1", "up2", "up3", "image")
    return Generator([Stage(n, DecoderStage(graphdef, n)) for n in names], params,
                     latent_names=[f"z{i}" for i in range(10)], prior=_standard_normal, name="bvae-decoder")


def mean_intensity(images):
    return images.mean(axis=(1, 2))


@jax.jit
def _batched_pass(generator, z_chunks):
    return jax.lax.map(lambda z: mean_intensity(generator.run(z)), z_chunks)


@jax.jit
def _one_sample(generator, z, unit, value):
    return mean_intensity(intervene(generator, z, Do(unit, value)))


def _best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="32 samples instead of 512, 50 loop iterations")
    p.add_argument("--units", type=int, default=10)
    p.add_argument("--values", type=int, default=11)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--loop", type=int, default=None, help="per-sample loop iterations to time")
    p.add_argument("--max-images", type=int, default=1024, help="images per vmapped chunk (memory bound)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_sweep.json")
    args = p.parse_args(argv)
    n = args.samples or (32 if args.quick else 512)
    loop_iters = args.loop or (50 if args.quick else 300)
    units, values = args.units, args.values
    total = units * values * n

    g = decoder_generator(jax.random.key(0))
    z = g.sample_latent(jax.random.key(1), n)
    grid_units = np.repeat(np.arange(units), values)
    grid_values = np.tile(np.linspace(-2.0, 2.0, values, dtype=np.float32), units)
    batch = do_batch(grid_units, grid_values)

    t = time.perf_counter()
    jax.block_until_ready(sweep(g, mean_intensity, z, batch, max_images=args.max_images))
    compile_sweep = time.perf_counter() - t
    t_sweep = _best_of(lambda: sweep(g, mean_intensity, z, batch, max_images=args.max_images), args.repeats)

    per_chunk = max(1, min(units * values, args.max_images // n)) * n
    chunks = -(-total // per_chunk)
    z_all = jnp.resize(jnp.tile(z, (units * values, 1)), (chunks * per_chunk, 10)).reshape(chunks, per_chunk, 10)
    jax.block_until_ready(_batched_pass(g, z_all))
    t_batched = _best_of(lambda: _batched_pass(g, z_all), args.repeats) * total / (chunks * per_chunk)

    zs = z[:, None, :]
    jax.block_until_ready(_one_sample(g, zs[0], 0, 0.0))
    t = time.perf_counter()
    for i in range(loop_iters):
        out = _one_sample(g, zs[i % n], int(grid_units[i % len(grid_units)]), float(grid_values[i % len(grid_values)]))
        out.block_until_ready()
    t_loop = (time.perf_counter() - t) / loop_iters * total

    result = {
        "benchmark": "bench_sweep",
        "decoder": "plain Flax NNX decoder of the documented β-VAE size, sub-pixel upsampling (3×3 conv + depth-to-space), built in the benchmark",
        "units": units, "values": values, "samples": n, "images": total, "max_images_per_chunk": args.max_images,
        "seconds": {"sweep": t_sweep, "batched_pass": t_batched, "python_loop_extrapolated": t_loop, "sweep_compile": compile_sweep},
        "loop_iterations_timed": loop_iters,
        "sweep_over_batched": t_sweep / t_batched,
        "loop_over_sweep": t_loop / t_sweep,
        "images_per_second": {"sweep": total / t_sweep, "batched_pass": total / t_batched, "python_loop": total / t_loop},
        "hardware": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                     "jax": jax.__version__, "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()]},
        "quick": args.quick,
    }
    print(f"sweep {units} units × {values} values × {n} samples = {total} images (chunks of ≤ {args.max_images} images)")
    print(f"{'method':<34}{'seconds':>10}{'images/s':>12}")
    print(f"{'sweep (one jit, vmapped chunks)':<34}{t_sweep:>10.3f}{total / t_sweep:>12.0f}")
    print(f"{'one batched decoder pass':<34}{t_batched:>10.3f}{total / t_batched:>12.0f}")
    print(f"{'per-sample loop (extrapolated)':<34}{t_loop:>10.3f}{total / t_loop:>12.0f}")
    print(f"sweep / batched = {t_sweep / t_batched:.2f}× (goal ≤ 1.2), loop / sweep = {t_loop / t_sweep:.0f}× (goal ≥ 20); "
          f"loop timed over {loop_iters} iterations; sweep compile {compile_sweep:.1f} s")
    _write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
