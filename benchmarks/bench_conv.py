"""Convolution formulations, layer by layer: forward + backward time of each way of writing the same layer.

Which formulation is fastest depends on the backend, the layer shape and even on
whether the step runs inside a ``lax.scan`` (XLA:CPU picks different kernels
there), so every layer of the β-VAE (4×4 stride-2 down, 4×4 stride-2 transposed
up, batch 64) and of VGG16 at 256² (3×3 stride 1, batch 1, input gradient only, as
in Gatys) is timed once as a single jitted call and once as two iterations of a
``lax.scan``. All candidates are checked against the textbook ``lax.conv`` first.

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


def _conv(x, k, pad):
    return jax.lax.conv_general_dilated(x, k, (1, 1), pad, dimension_numbers=DIMS)


def conv_explicit_vjp(pad):
    """Stride-1 convolution whose input gradient is a forward convolution with an explicit flipped kernel and whose
    kernel gradient is one im2col matmul."""

    @jax.custom_vjp
    def f(x, k):
        return _conv(x, k, pad)

    def fwd(x, k):
        return _conv(x, k, pad), (x, k)

    def bwd(res, dy):
        x, k = res
        kh, kw = k.shape[:2]
        back = [(kh - 1 - pad[0][0], kh - 1 - pad[0][1]), (kw - 1 - pad[1][0], kw - 1 - pad[1][1])]
        dx = _conv(dy, jnp.swapaxes(k[::-1, ::-1], 2, 3), back)
        xp = jnp.pad(x, ((0, 0), pad[0], pad[1], (0, 0)))
        h, w = dy.shape[1:3]
        cols = jnp.concatenate([xp[:, a : a + h, b : b + w] for a in range(kh) for b in range(kw)], -1)
        dk = (cols.reshape(-1, cols.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])).reshape(k.shape)
        return dx, dk

    f.defvjp(fwd, bwd)
    return f


def down_s2d_conv(x, kernel):
    cin, cout = kernel.shape[2:]
    k = kernel.reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * cin, cout)
    blocks = L.space_to_depth(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))))
    return conv_explicit_vjp(((0, 0), (0, 0)))(blocks, k)


def down_tapsum(x, kernel):
    n, hh, ww, _ = x.shape
    h, w = hh // 2, ww // 2
    cin, cout = kernel.shape[2:]
    k = kernel.reshape(2, 2, 2, 2, cin, cout).transpose(1, 3, 4, 0, 2, 5).reshape(4 * cin, 4 * cout)
    blocks = L.space_to_depth(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))))
    z = (blocks @ k).reshape(n, h + 1, w + 1, 4, cout)
    return sum(z[:, a : a + h, b : b + w, 2 * a + b] for a in (0, 1) for b in (0, 1))


def _phases(y, h, w, cout):
    n = y.shape[0]
    y = y.reshape(n, h + 1, w + 1, 2, 2, cout)
    rows = [jnp.stack([y[:, r : r + h, s : s + w, r, s] for s in (0, 1)], axis=3) for r in (0, 1)]
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, cout)


def up_subpixel_conv(x, kernel):
    n, h, w, _ = x.shape
    cin, cout = kernel.shape[2:]
    k = kernel[::-1, ::-1].reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 4, 1, 3, 5).reshape(2, 2, cin, 4 * cout)
    return _phases(conv_explicit_vjp(((1, 1), (1, 1)))(x, k), h, w, cout)


def up_scatter(x, kernel):
    n, h, w, _ = x.shape
    cin, cout = kernel.shape[2:]
    z = (x.reshape(-1, cin) @ kernel.transpose(2, 0, 1, 3).reshape(cin, 16 * cout)).reshape(n, h, w, 4, 4, cout)
    zp = jnp.pad(z, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0)))
    taps = {0: ((1, 1), (0, 3)), 1: ((1, 2), (2, 0))}  # output phase -> (offset in padded z, kernel tap)
    rows = []
    for r in (0, 1):
        cols = [sum(zp[:, oi : oi + h, oj : oj + w, ti, tj] for oi, ti in taps[r] for oj, tj in taps[s]) for s in (0, 1)]
        rows.append(jnp.stack(cols, axis=3))
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, cout)


def same3x3(x, k):
    return _conv(x, k, ((1, 1), (1, 1)))


FORMULATIONS = {
    "down": {"textbook": L.down_conv_reference, "im2col": L.down_conv, "s2d+conv": down_s2d_conv,
             "tapsum": down_tapsum},
    "up": {"textbook": L.up_conv_reference, "subpixel im2col": L.up_conv, "subpixel conv": up_subpixel_conv,
           "scatter": up_scatter},
    "3x3": {"textbook": same3x3, "explicit vjp": conv_explicit_vjp(((1, 1), (1, 1)))},
}
VAE_LAYERS = [("down", 64, 1, 32), ("down", 32, 32, 32), ("down", 16, 32, 64), ("down", 8, 64, 64),
              ("up", 4, 64, 64), ("up", 8, 64, 32), ("up", 16, 32, 32), ("up", 32, 32, 1)]
VGG_LAYERS = [("3x3", 256, 3, 64), ("3x3", 256, 64, 64), ("3x3", 128, 64, 128), ("3x3", 128, 128, 128),
              ("3x3", 64, 128, 256), ("3x3", 64, 256, 256), ("3x3", 32, 256, 512), ("3x3", 32, 512, 512)]


def _callable(f, kind, in_scan: bool):
    """fwd+bwd of ``f`` (kernel gradient too, except for the 3×3 layers, whose weights Gatys keeps fixed)."""
    argnums = (0,) if kind == "3x3" else (0, 1)
    grad = jax.grad(lambda x, k, g: jnp.vdot(f(x, k), g), argnums=argnums)
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
