"""``python -m benchmarks [--quick] [names...]``: run every benchmark, then one summary of their JSON files."""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS, print_table, save_results

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {available()})")
    ap.add_argument("--quick", action="store_true", help="small sizes, a few seconds each")
    args = ap.parse_args()
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]!r}; available: {available()}")
    rows = []
    for name in args.names or available():
        print(f"\n=== bench_{name} ===", flush=True)
        t0 = time.perf_counter()
        argv, sys.argv = sys.argv, [f"bench_{name}.py"] + (["--quick"] if args.quick else [])
        try:
            runpy.run_module(f"benchmarks.bench_{name}", run_name="__main__")
            status = "ok"
        except SystemExit as e:
            status = "ok" if not e.code else f"exit {e.code}"
        except Exception as e:  # keep going: one broken benchmark must not hide the others
            status = f"failed: {type(e).__name__}: {e}"
        finally:
            sys.argv = argv
        rows.append({"benchmark": name, "status": status, "wall_s": time.perf_counter() - t0})
    print_table(rows, "Benchmarks run")
    results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json")) if p.stem != "summary"}
    save_results("summary", {"runs": rows, "quick": args.quick, "results": results})


if __name__ == "__main__":
    main()
