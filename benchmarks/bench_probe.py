"""Factor-probe quality: held-out accuracy / R² per factor after a fixed budget of steps.

For every dataset a probe is trained with ``train_probe`` and scored on held-out
images rendered from a different key:

* discrete factor: exact-class accuracy (arg-max) and R² of ``predict`` (expected
  grid value) against the true value;
* continuous factor: R²;
* circular factor (dsprites orientation): the probe reads the canonical angle
  ``θ mod 2π/m`` (m = 4 square, 2 ellipse, 1 heart); scored as the circular error
  modulo the true shape's period: accuracy = error within half a grid step, plus
  the mean absolute error in degrees.

    python -m benchmarks.bench_probe --quick    # 32×32 images, 300 steps
    python -m benchmarks.bench_probe            # 64×64 images, 5000 steps
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from benchmarks.common import save_results
from genstyle_causal.data import DSprites, Pendulum, StyleShapes
from genstyle_causal.models.probe import train_probe


DATASETS = {"dsprites": DSprites, "styleshapes": StyleShapes, "pendulum": Pendulum}


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    return float(1 - np.mean((pred - true) ** 2) / max(np.var(true), 1e-12))


def score(probe, data, n: int) -> dict:
    factors, images = data.sample(jax.random.PRNGKey(12345), n)
    true, pred = np.asarray(factors, np.float64), np.asarray(probe.predict(images), np.float64)
    classes = np.asarray(probe.predict_classes(images))
    out = {}
    for i, head in enumerate(probe.heads):
        if head.kind == "continuous":
            out[head.name] = {"kind": head.kind, "r2": r2(pred[:, i], true[:, i])}
        elif head.kind == "discrete":
            grid = np.asarray(head.values)
            exact = np.argmin(np.abs(true[:, i, None] - grid[None]), axis=1)
            out[head.name] = {
                "kind": head.kind,
                "classes": len(grid),
                "accuracy": float(np.mean(classes[:, i] == exact)),
                "r2": r2(pred[:, i], true[:, i]),
            }
        else:
            orders = np.ones(n) if head.order_factor is None else np.asarray(head.orders)[
                np.round(true[:, head.order_factor]).astype(int)
            ]
            period = 2 * np.pi / orders
            diff = np.mod(pred[:, i] - true[:, i] + period / 2, period) - period / 2
            step = (head.high - head.low) / (len(head.values) - 1)
            out[head.name] = {
                "kind": head.kind,
                "accuracy": float(np.mean(np.abs(diff) <= step / 2)),
                "mean_abs_error_deg": float(np.degrees(np.mean(np.abs(diff)))),
            }
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="32×32 images, 300 steps, 500 test images")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--steps", type=int, default=None, help="override the step budget")
    parser.add_argument("--size", type=int, default=None, help="override the image size")
    args = parser.parse_args(argv)
    size, steps, n_test = (32, 300, 500) if args.quick else (64, 5000, 2000)
    steps, size = args.steps or steps, args.size or size
    results = {}
    for name in args.datasets:
        data = DATASETS[name](size=size)
        t = time.perf_counter()
        probe = train_probe(data, key=jax.random.PRNGKey(0), steps=steps, batch_size=64)
        train_s = time.perf_counter() - t
        results[name] = {"train_s": train_s, "factors": score(probe, data, n_test)}
        print(f"\n{name} ({size}×{size}, {steps} steps, batch 64, {train_s:.0f} s; {n_test} held-out images)")
        print(f"  {'factor':18} {'kind':10} {'accuracy':>9} {'R²':>7} {'MAE°':>7}")
        for f, r in results[name]["factors"].items():
            acc, rr, mae = r.get("accuracy"), r.get("r2"), r.get("mean_abs_error_deg")
            cell = lambda v, fmt: format(v, fmt) if v is not None else "-"
            print(f"  {f:18} {r['kind']:10} {cell(acc, '9.3f'):>9} {cell(rr, '7.3f'):>7} {cell(mae, '7.2f'):>7}")
    out = {
        "benchmark": "probe", "quick": args.quick, "image_size": size, "steps": steps, "batch": 64,
        "test_images": n_test, "datasets": results,
    }
    save_results("probe", out)
    return out


if __name__ == "__main__":
    main()
