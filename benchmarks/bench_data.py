"""Images rendered per second for each dataset at batch 256 (jit, after warm-up)."""

from __future__ import annotations

import argparse
import time

import jax

from benchmarks.common import print_table, save_results, timeit
from genstyle_causal.data import DATASETS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    rows = []
    for name, cls in DATASETS.items():
        data = cls()
        sample = jax.jit(lambda k, data=data: data.sample(k, args.batch)[1])
        t0 = time.perf_counter()
        jax.block_until_ready(sample(jax.random.key(0)))
        compile_s = time.perf_counter() - t0
        keys = iter(jax.random.split(jax.random.key(1), 10_000))
        sec = timeit(lambda: jax.block_until_ready(sample(next(keys))), repeat=3 if args.quick else 7)
        rows.append({"dataset": name, "image": "x".join(map(str, data.image_shape)), "batch": args.batch,
                     "compile_s": compile_s, "ms_per_batch": 1e3 * sec, "images_per_s": args.batch / sec})
    print_table(rows, f"Rendering throughput (sample + render, jit), batch {args.batch}")
    save_results("data", {"rows": rows})


if __name__ == "__main__":
    main()
