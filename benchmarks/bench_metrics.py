"""Wall time of every disentanglement metric on a 10-unit code of dSprites samples, and how far
the fast DCI estimator (extra trees) agrees with the gradient-boosted trees of disentanglement_lib.

The code is computed from the factors (no images, so only the metric is timed): five units
mix the scaled factors (identity plus 0.3 × a fixed random matrix, a partly entangled
model) and five are noise. Full mode: the reference sizes (10,000 samples; 10,000 / 5,000
points of 64 for the BetaVAE/FactorVAE scores), and both DCI estimators on the same
10,000 samples (GBT takes minutes). ``--quick``: 2,000 samples, the DCI comparison on 300.
Times are cold (they include compiling the samplers for each new size).

    python -m benchmarks.bench_metrics [--quick]

Prints a table and writes ``benchmarks/results/metrics.json`` (atomically).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from benchmarks.common import save_results
from genstyle_causal.data import DSprites
from genstyle_causal.metrics import METRICS, FactorCode, oracle_code


def entangled_code(data, *, seed: int = 0) -> FactorCode:
    """Ten units: the scaled factors mixed by ``I + 0.3 M`` (five units) and five noise units.

    The noise is a high-frequency sine of the factor vector: uniform-looking and unrelated
    to any single factor, yet a function of the sample, as a real encoder's nuisance units.
    """
    rng = np.random.default_rng(seed)
    k = data.num_factors
    mix = (np.eye(k) + 0.3 * rng.normal(size=(k, k))).astype(np.float32)
    mixed = oracle_code(data, mix)
    freq = jax.numpy.asarray(rng.normal(size=(k, 5)) * 1e3, jax.numpy.float32)

    def code(factors):
        return jax.numpy.concatenate([mixed(factors), jax.numpy.sin(factors @ freq)], axis=1)

    return FactorCode(code)


def sizes(quick: bool) -> dict[str, dict]:
    n = 2_000 if quick else 10_000
    points = (1_000, 500) if quick else (10_000, 5_000)
    split = {"num_train": n, "num_test": n // 2}
    return {
        "beta_vae": {"num_train": points[0], "num_eval": points[1]},
        "factor_vae": {"num_train": points[0], "num_eval": points[1], "num_variance_estimate": n},
        "mig": {"num_train": n},
        "sap": split,
        "dci_forest": {**split, "estimator": "forest"},
        "modularity_explicitness": split,
        "irs": {"num_train": n},
        "gaussian_total_correlation": {"num_train": n},
    }


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def agreement(code, data, key, n: int) -> dict:
    """DCI with both estimators on the same samples: score differences and importance-matrix distance."""
    kwargs = {"num_train": n, "num_test": n // 2}
    gbt, t_gbt = timed(METRICS["dci"], code, data, key=key, estimator="gbt", **kwargs)
    forest, t_forest = timed(METRICS["dci"], code, data, key=key, estimator="forest", **kwargs)
    norm = lambda r: np.asarray(r["importance"]) / np.sum(r["importance"])  # noqa: E731
    return {
        "num_train": n,
        "seconds": {"gbt": t_gbt, "forest": t_forest},
        **{f"gbt_{k}": gbt[k] for k in ("disentanglement", "completeness", "informativeness")},
        **{f"forest_{k}": forest[k] for k in ("disentanglement", "completeness", "informativeness")},
        "max_abs_importance_difference": float(np.abs(norm(gbt) - norm(forest)).max()),
        "importance_correlation": float(np.corrcoef(norm(gbt).ravel(), norm(forest).ravel())[0, 1]),
    }


def headline(name: str, result: dict) -> str:
    keys = {
        "beta_vae": "beta_vae", "factor_vae": "factor_vae", "mig": "mig", "sap": "sap", "dci_forest": "disentanglement",
        "modularity_explicitness": "modularity", "irs": "irs",
        "gaussian_total_correlation": "gaussian_total_correlation",
    }
    return f"{keys[name]}={result[keys[name]]:.3f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 samples and a small GBT run (for CI)")
    args = parser.parse_args(argv)
    data, key = DSprites(size=32), jax.random.key(0)
    code = entangled_code(data)
    rows = {}
    print(f"{'metric':<28}{'seconds':>10}  result")
    for name, kwargs in sizes(args.quick).items():
        metric = METRICS["dci" if name.startswith("dci") else name]
        result, seconds = timed(metric, code, data, key=key, **kwargs)
        rows[name] = {"seconds": seconds, "kwargs": kwargs, "result": headline(name, result)}
        print(f"{name:<28}{seconds:>10.2f}  {rows[name]['result']}")
    agree = agreement(code, data, key, 300 if args.quick else 10_000)
    for name in ("gbt", "forest"):
        print(f"{'dci_' + name + ' (n=' + str(agree['num_train']) + ')':<28}{agree['seconds'][name]:>10.2f}  "
              f"disentanglement={agree[name + '_disentanglement']:.3f}")
    print("DCI gbt vs forest on the same samples:", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                                              for k, v in agree.items() if k != "seconds"}))
    save_results("metrics", {
        "quick": args.quick,
        "code": "dsprites factors mixed by I + 0.3 M (5 units) + 5 noise units",
        "metrics": rows,
        "dci_agreement": agree,
    })


if __name__ == "__main__":
    main()
