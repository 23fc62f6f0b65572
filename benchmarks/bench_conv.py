"""Convolution formulations, layer by layer: forward + backward time of each way of writing the same layer.

Which formulation is fastest depends on the backend, the layer shape and even on
whether the step runs inside a ``lax.scan`` (XLA:CPU picks different kernels
there), so every layer of the β-VAE (4×4 stride-2 down, 4×4 stride-2 transposed
up, batch 64) and of VGG16 at 256² (3×3 stride 1, batch 1, input gradient only, as
in Gatys) is timed once as a single jitted call and once as two iterations of a
``lax.scan``: the textbook ``lax.conv``, the package's choice for this backend
(``models.layers``) and, for the up layer, both of its CPU forms. All are checked
against the textbook convolution first.

    python -m benchmarks.bench_conv [--quick]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from benchmarks.common import print_table, save_results, warn_if_busy
from genstyle_causal.models import layers as L

DIMS = L.DIMS


FORMULATIONS = {
    "down": {"textbook": L.down_conv_reference, "package": L.down_conv},
    "up": {"textbook": L.up_conv_reference, "sub-pixel": L.up_conv_subpixel, "scatter": L.up_conv_scatter,
           "package": L.up_conv},
    "3x3": {"textbook": L.conv2d_reference, "package": L.conv2d},
}
VAE_LAYERS = [("down", 64, 1, 32), ("down", 32, 32, 32), ("down", 16, 32, 64), ("down", 8, 64, 64),
              ("up", 4, 64, 64), ("up", 8, 64, 32), ("up", 16, 32, 32), ("up", 32, 32, 1)]
VGG_LAYERS = [("3x3", 256, 3, 64), ("3x3", 256, 64, 64), ("3x3", 128, 64, 128), ("3x3", 128, 128, 128),
              ("3x3", 64, 128, 256), ("3x3", 64, 256, 256), ("3x3", 32, 256, 512), ("3x3", 32, 512, 512)]


def _callable(f, kind, in_scan: bool):
    """fwd+bwd of ``f`` (kernel gradient too, except for the 3×3 layers, whose weights Gatys keeps fixed)."""
    argnums = (0,) if kind == "3x3" else (0, 1)
    grad = jax.grad(lambda x, k, g: jnp.vdot(jax.nn.relu(f(x, k)), g), argnums=argnums)  # relu: forward needed
    if not in_scan:
        return jax.jit(grad)

    def loop(x, k, g):
        def body(c, _):
            gs = grad(c[0], c[1], g)
            return (c[0] + 1e-6 * gs[0], c[1] if len(gs) == 1 else c[1] + 1e-6 * gs[1]), None

        return jax.lax.scan(body, (x, k), None, length=2)[0]

    return jax.jit(loop)


def _best_ms(fn, args, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def bench_layer(kind, hw, cin, cout, reps: int) -> list[dict]:
    batch = 1 if kind == "3x3" else 64
    kx, kk, kg = jax.random.split(jax.random.PRNGKey(0), 3)
    ksize = 3 if kind == "3x3" else 4
    x = jax.random.normal(kx, (batch, hw, hw, cin), jnp.float32)
    k = jax.random.normal(kk, (ksize, ksize, cin, cout), jnp.float32) / (ksize * cin**0.5)
    forms = FORMULATIONS[kind]
    g = jax.random.normal(kg, jax.eval_shape(forms["textbook"], x, k).shape, jnp.float32)
    rows = []
    for in_scan in (False, True):
        fns = {name: _callable(f, kind, in_scan) for name, f in forms.items()}
        ref = fns["textbook"](x, k, g)
        for name, fn in fns.items():
            for a, b in zip(jax.tree.leaves(fn(x, k, g)), jax.tree.leaves(ref)):
                err = float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-30))
                if err > 1e-4:
                    raise AssertionError(f"{kind} {name} differs from the textbook convolution: {err:.2e}")
        times = {name: float("inf") for name in fns}
        for _ in range(reps):  # interleaved
            for name, fn in fns.items():
                times[name] = min(times[name], _best_ms(fn, (x, k, g), 1))
        per_iter = 2 if in_scan else 1
        rows.append({"layer": f"{kind} {hw}² {cin}->{cout}", "scan": in_scan,
                     **{name: t / per_iter for name, t in times.items()}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two layers, few repeats")
    args = ap.parse_args()
    out = {"load_before": warn_if_busy("start"), "backend": jax.default_backend()}
    reps = 2 if args.quick else 5
    for group, layers in (("vae", VAE_LAYERS), ("vgg", VGG_LAYERS)):
        rows = [r for layer in (layers[1:2] if args.quick else layers) for r in bench_layer(*layer, reps)]
        for kind in ("down", "up", "3x3"):
            sel = [r for r in rows if r["layer"].startswith(kind)]
            print_table(sel, f"{group} {kind}: best ms per forward+backward (scan: per iteration of a 2-step lax.scan)")
        out[group] = rows
    out["load_after"] = warn_if_busy("end")
    save_results("conv_quick" if args.quick else "conv", out)


if __name__ == "__main__":
    main()
