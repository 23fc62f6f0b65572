"""The study's leaderboard: per configuration, mean and bootstrap CI over seeds of every score, beside published values."""

from __future__ import annotations

import jax
import numpy as np

#: Scores where lower is better (everything else: higher is better).
LOWER_IS_BETTER = ("reconstruction", "gaussian_tc")
#: Published dSprites values, with the estimator each paper used (they are not all comparable
#: with disentanglement_lib's 20-bin MIG: Chen et al. estimate MI from the full posterior).
LITERATURE = (
    {"objective": "beta", "score": "mig", "value": 0.21,
     "source": "β-VAE, table compiled by Lin et al. 2020 (InfoGAN-CR)", "estimator": "Chen et al.'s MIG"},
    {"objective": "betatc", "score": "mig", "value": 0.45,
     "source": "β-TCVAE, Chen et al. 2018", "estimator": "their own MI estimator"},
    {"objective": "factor", "score": "factor_vae", "value": 0.82,
     "source": "FactorVAE, Kim & Mnih 2018", "estimator": "FactorVAE score (majority vote)"},
)


def leaderboard(records: list[dict], *, level: float = 0.95, num_bootstrap: int = 2000) -> list[dict]:
    """One row per configuration with finished seeds, best MIG first.

    Each score gets ``mean``, a percentile-bootstrap ``low``/``high`` over the
    seeds (Efron & Tibshirani 1993; with one seed the interval is that value),
    ``min``, ``max`` and the per-seed ``values``. The bootstrap key is fixed, so
    the same finished runs always give the same leaderboard, whoever ran them.
    """
    from ..causal.effects import bootstrap_mean

    groups: dict[str, list[dict]] = {}
    for r in records:
        if r["status"] == "finished":
            groups.setdefault(r["config_id"], []).append(r)
    rows = []
    for config_id, runs in groups.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        names = [k for k in runs[0]["scores"] if all(k in r["scores"] for r in runs)]
        values = np.array([[r["scores"][k] for k in names] for r in runs], dtype=np.float64)
        ci = bootstrap_mean(values.astype(np.float32), jax.random.key(0), num_bootstrap=num_bootstrap, level=level)
        # resampled means lie in [min, max]; clipping removes only the float32 rounding of the bootstrap
        vmin, vmax = values.min(axis=0), values.max(axis=0)
        low, high = (np.clip(np.asarray(b, dtype=np.float64), vmin, vmax) for b in (ci.low, ci.high))
        rows.append({
            "config_id": config_id,
            "objective": runs[0]["objective"],
            "params": {k: runs[0]["params"][k] for k in runs[0]["swept"]},
            "seeds": [r["seed"] for r in runs],
            "scores": {k: {"mean": float(values[:, j].mean()), "low": float(low[j]), "high": float(high[j]),
                           "min": float(vmin[j]), "max": float(vmax[j]),
                           "values": values[:, j].tolist()} for j, k in enumerate(names)},
        })
    return sorted(rows, key=lambda row: -row["scores"].get("mig", {"mean": -np.inf})["mean"])


def published(objective: str, score: str) -> float | None:
    """The published dSprites value of ``score`` for ``objective`` in :data:`LITERATURE`, if any."""
    return next((p["value"] for p in LITERATURE if p["objective"] == objective and p["score"] == score), None)
