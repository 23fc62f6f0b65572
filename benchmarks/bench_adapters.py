"""Audit throughput of one decoder three ways: native JAX, through the Flax NNX adapter, through the PyTorch adapter.

The decoder is the project's β-VAE decoder at its documented 64×64 size (untrained
``VAE(VAEConfig())``). *native*: :func:`~genstyle_causal.models.vae.vae_generator`,
stages written by hand. *flax adapter*: :func:`~genstyle_causal.adapters.nnx_generator`
on the same NNX decoder, stages found from its submodules. *torch adapter*:
:func:`~genstyle_causal.adapters.torch_generator` on a PyTorch port with the same
weights (``nn.Linear`` + ``nn.ConvTranspose2d``), driven through host callbacks.
Two audits: the latent effect matrix (every unit set to its 10% and 90% prior
quantiles on the same ``n`` latents) and a hybridization matrix at the second
upsampling layer (channel groups copied from donor latents). Images/s counts every
generated image; ``vs_native`` is the wall-time ratio (≤ 1.1 is the target for Flax), ``cpu_vs_native``
the ratio of CPU seconds this process used (steadier on a shared machine).
The three are timed in turns, ``--repeats`` times; the median is reported.

    python -m benchmarks.bench_adapters            # n = 256
    python -m benchmarks.bench_adapters --quick    # n = 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks.common import print_table, save_results
from genstyle_causal.adapters import nnx_generator
from genstyle_causal.causal import effect_matrix, hybridization_matrix
from genstyle_causal.models.vae import VAE, VAEConfig, vae_generator

GROUPS = [list(range(0, 16)), list(range(16, 32))]
LAYERS = {"native": "up2", "flax adapter": "ups.1", "torch adapter": "ups.1"}  # the same activations (pre/post ReLU)


def quadrant_means(images):
    """Mean intensity of the four image quadrants, ``(n, 4)``."""
    n, h, w, _ = images.shape
    return images[..., 0].reshape(n, 2, h // 2, 2, w // 2).mean(axis=(2, 4)).reshape(n, 4)


def torch_port(model: VAE):
    """The decoder in PyTorch with the same weights, or ``None`` without torch."""
    try:
        import torch
    except ImportError:
        return None
    c, d = model.config, model.decoder
    bh, bw, bc = d.bottom
    ups = [torch.nn.ConvTranspose2d(u.kernel.shape[2], u.kernel.shape[3], 4, 2, 1) for u in d.ups]
    dense1, dense2 = torch.nn.Linear(c.latent, c.hidden), torch.nn.Linear(c.hidden, bh * bw * bc)
    # JAX reshapes dense2's output channels-last; PyTorch unflattens channels-first
    perm = np.arange(bh * bw * bc).reshape(bh, bw, bc).transpose(2, 0, 1).ravel()
    with torch.no_grad():
        dense1.weight.copy_(torch.from_numpy(np.asarray(d.dense1.kernel[...]).T.copy()))
        dense1.bias.copy_(torch.from_numpy(np.asarray(d.dense1.bias[...])))
        dense2.weight.copy_(torch.from_numpy(np.asarray(d.dense2.kernel[...]).T[perm].copy()))
        dense2.bias.copy_(torch.from_numpy(np.asarray(d.dense2.bias[...])[perm]))
        for u, t in zip(d.ups, ups):
            t.weight.copy_(torch.from_numpy(np.asarray(u.kernel[...]).transpose(2, 3, 0, 1).copy()))
            t.bias.copy_(torch.from_numpy(np.asarray(u.bias[...])))

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dense1, self.dense2, self.ups = dense1, dense2, torch.nn.ModuleList(ups)

        def forward(self, z):
            h = torch.relu(self.dense2(torch.relu(self.dense1(z)))).view(-1, bc, bh, bw)
            for up in self.ups[:-1]:
                h = torch.relu(up(h))
            return torch.sigmoid(self.ups[-1](h))

    return Decoder().eval()


def generators(model: VAE) -> dict:
    from genstyle_causal.adapters import torch_generator

    gens = {"native": vae_generator(model),
            "flax adapter": nnx_generator(model.decoder, model.config.latent, output=jax.nn.sigmoid)}
    port = torch_port(model)
    if port is not None:
        gens["torch adapter"] = torch_generator(port, model.config.latent, layers=["ups.1"])
    return gens


def round_trips(repeats: int) -> list[dict]:
    """Cost of one host round trip alone: a PyTorch module that only reshapes latents into 8×8 images, against
    the same reshape in JAX, both jitted, at 1 and 256 latents (microseconds per call)."""
    try:
        import torch
    except ImportError:
        return []
    from genstyle_causal.adapters import torch_generator
    from genstyle_causal.generator import Generator, Stage

    gens = {"torch adapter": torch_generator(torch.nn.Unflatten(1, (1, 8, 8)).eval(), 64),
            "native": Generator([Stage("image", lambda p, z: z.reshape(-1, 8, 8, 1))], latent_names=[f"z{i}" for i in range(64)],
                                prior=lambda k, n: jax.random.normal(k, (n, 64)), name="reshape")}
    run = jax.jit(lambda g, z: g(z))
    rows = []
    for n in (1, 256):
        z = jnp.ones((n, 64), jnp.float32)
        for name, g in gens.items():
            run(g, z).block_until_ready()
            calls = 200
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                for _ in range(calls):
                    run(g, z).block_until_ready()
                best = min(best, (time.perf_counter() - t) / calls)
            rows.append({"latents": n, "generator": name, "us_per_call": best * 1e6})
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="n = 32 latents, 1 repeat")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args(argv)
    n = args.samples or (32 if args.quick else 256)
    repeats = args.repeats or (1 if args.quick else 5)
    model = VAE(VAEConfig(), rngs=nnx.Rngs(0))
    gens = generators(model)
    z = gens["native"].sample_latent(jax.random.key(1), 8)
    reference = np.asarray(gens["native"](z))
    max_diff = {name: float(np.abs(np.asarray(g(z)) - reference).max()) for name, g in gens.items()}
    key = jax.random.key(0)
    latent = model.config.latent
    audits = {
        "latent effect matrix": (lambda name, g: effect_matrix(g, quadrant_means, key=key, n=n, num_bootstrap=200),
                                 (2 * latent + 1) * n),
        "hybridization at up2": (lambda name, g: hybridization_matrix(g, quadrant_means, LAYERS[name], GROUPS, key=key,
                                                                      n=n, num_bootstrap=200), (len(GROUPS) + 1) * n),
    }
    times = {(a, g): [] for a in audits for g in gens}  # (wall s, CPU s of this process) per call
    compile_s = {}
    for audit_name, (run, _) in audits.items():
        for name, g in gens.items():
            t = time.perf_counter()
            run(name, g)  # compile and warm up
            compile_s[(audit_name, name)] = time.perf_counter() - t
    for _ in range(repeats):
        for audit_name, (run, _) in audits.items():
            for name, g in gens.items():
                t, c = time.perf_counter(), time.process_time()
                run(name, g)
                times[(audit_name, name)].append((time.perf_counter() - t, time.process_time() - c))
    rows = []
    for audit_name, (_, images) in audits.items():
        wall = {name: statistics.median(w for w, _ in times[(audit_name, name)]) for name in gens}
        cpu = {name: statistics.median(c for _, c in times[(audit_name, name)]) for name in gens}
        for name in gens:
            walls = [w for w, _ in times[(audit_name, name)]]
            rows.append({"audit": audit_name, "generator": name, "images": images,
                         "images_per_s": images / wall[name], "vs_native": wall[name] / wall["native"],
                         "cpu_vs_native": cpu[name] / cpu["native"], "spread_s": max(walls) - min(walls),
                         "first_call_s": compile_s[(audit_name, name)]})
    trips = round_trips(repeats)
    load = os.getloadavg()[0]
    print_table(rows, f"Audit throughput, same decoder (n = {n}, {repeats} repeats, load average {load:.1f})")
    print_table(trips, "One host round trip: a reshape-only generator, jitted (best of repeats)")
    print("max |image - native| over 8 latents: " + ", ".join(f"{k} {v:.1e}" for k, v in max_diff.items()))
    out = {"samples": n, "repeats": repeats, "load_average": load, "rows": rows, "round_trips": trips,
           "max_abs_diff": max_diff,
           "quick": args.quick}
    try:
        import torch

        out["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    except ImportError:
        pass
    save_results("adapters", out)
    return out


if __name__ == "__main__":
    main()
