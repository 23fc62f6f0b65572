"""The study report: leaderboard with seed spread, published values, score-vs-hyper-parameter and seed figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write_json
from .grid import Study
from .leaderboard import LITERATURE, LOWER_IS_BETTER, leaderboard, published
from .run import gather

#: Scores drawn in the figures (the leaderboard has them all).
FIGURE_SCORES = ("mig", "dci_disentanglement", "factor_vae", "reconstruction")
_LABELS = {"mig": "MIG", "dci_disentanglement": "DCI-D", "dci_completeness": "DCI-C", "dci_informativeness": "DCI-I",
           "sap": "SAP", "modularity": "Modularity", "explicitness": "Explicitness", "factor_vae": "FactorVAE",
           "beta_vae": "BetaVAE", "irs": "IRS", "gaussian_tc": "Gaussian TC", "reconstruction": "recon (nats)"}


def write_report(study: Study, outdir: str | Path):
    """Gather every finished run of ``study`` in ``outdir`` into ``leaderboard.json`` and the report; returns it."""
    from ..metrics import PROTOCOLS
    from ..report import Report

    outdir = Path(outdir)
    records = gather(study, outdir)
    board = leaderboard(records)
    atomic_write_json(outdir / "leaderboard.json", {"study": study.name, "protocol": study.protocol, "rows": board})
    counts = {s: sum(r["status"] == s for r in records) for s in ("finished", "failed", "pending")}
    rep = Report(outdir, f"genstyle_causal study: {study.name} on {study.dataset}")
    rep.text(f"{len(study.runs)} runs ({counts['finished']} finished, {counts['failed']} failed, {counts['pending']} "
             f"not finished yet) of {len({r.config_id for r in study.runs})} configurations. Metrics under the "
             f"**`{study.protocol}` protocol** ({_protocol_summary(PROTOCOLS[study.protocol], study)}); the code is "
             "the encoder mean; every run is scored on the same samples.")
    rep.section("Leaderboard")
    rep.table([_row(r) for r in board], caption=f"mean [95% bootstrap CI over seeds] per configuration, best MIG "
              f"first; reconstruction in nats per image (lower is better); protocol `{study.protocol}`")
    rep.section("Published values on dSprites")
    rep.table([{"objective": p["objective"], "score": _LABELS[p["score"]], "published": p["value"],
                "best here": _best(board, p["objective"], p["score"]), "source": p["source"],
                "estimator": p["estimator"]} for p in LITERATURE],
              caption="published values come from 300k+ GPU steps and partly other estimators; 'best here' is the "
                      "best configuration mean of this study")
    if board:
        rep.section("Scores against hyper-parameters")
        rep.figure(score_vs_param(board), "score-vs-param",
                   "Mean over seeds with its bootstrap CI, per objective, against the hyper-parameter its grid "
                   "block sweeps.")
        rep.section("Seed spread")
        rep.figure(seed_spread(board), "seed-spread",
                   "Every seed's score (dots) and the mean (bar) per configuration: how much the seed alone moves it.")
    rep.section("Runs")
    rep.table([{"run": r["run_id"], "status": r["status"], "steps": r["params"]["steps"],
                **{_LABELS[k]: r["scores"][k] for k in FIGURE_SCORES if k in r["scores"]},
                "train s (last call)": round(r["train_seconds_last_call"], 1) if "train_seconds_last_call" in r else ""}
               for r in records],
              caption="every run of the study; a run directory under runs/ holds its checkpoints, log and scores")
    rep.add_results(study=study.to_dict(), leaderboard=board, counts=counts)
    return rep


def _protocol_summary(preset: dict, study: Study) -> str:
    settings = {m: {**preset[m], **study.metric_options.get(m, {})} for m in study.metrics}
    parts = []
    for m, kw in settings.items():
        size = kw.get("num_train")
        extra = f", {kw['estimator']}" if "estimator" in kw else ""
        parts.append(f"{m} {size}{extra}" if size else m)
    return "; ".join(parts)


def _row(row: dict) -> dict:
    out = {"configuration": row["config_id"], "seeds": len(row["seeds"])}
    for k, s in row["scores"].items():
        out[_LABELS.get(k, k)] = f"{s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]"
    return out


def _best(board: list[dict], objective: str, score: str):
    means = [r["scores"][score]["mean"] for r in board if r["objective"] == objective and score in r["scores"]]
    return round(max(means), 3) if means else "-"


def score_vs_param(board: list[dict]):
    """One panel per score: each objective's mean and CI against its swept hyper-parameter."""
    import matplotlib.pyplot as plt

    scores = [s for s in FIGURE_SCORES if any(s in r["scores"] for r in board)]
    fig, axes = plt.subplots(1, len(scores), figsize=(4.2 * len(scores), 3.4), squeeze=False)
    for ax, score in zip(axes[0], scores):
        for label, pts in _lines(board, score).items():
            x, mean, low, high = (np.array(v, dtype=float) for v in zip(*sorted(pts)))
            ax.errorbar(x, mean, yerr=[mean - low, high - mean], marker="o", capsize=3, label=label)
            if published(label.split(" ")[0], score) is not None:
                ax.axhline(published(label.split(" ")[0], score), ls=":", lw=1, color=ax.lines[-1].get_color())
        ax.set_title(_LABELS[score] + (" (lower is better)" if score in LOWER_IS_BETTER else ""))
        ax.set_xlabel("swept hyper-parameter value")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _lines(board: list[dict], score: str) -> dict:
    """``{"objective (key)": [(x, mean, low, high), ...]}``; configurations without a swept number sit at x = 0."""
    lines: dict[str, list] = {}
    for r in board:
        if score not in r["scores"]:
            continue
        numeric = [(k, v) for k, v in r["params"].items() if isinstance(v, (int, float))]
        key, x = numeric[0] if numeric else (None, 0.0)
        rest = [f"{k}={v}" for k, v in r["params"].items() if k != key]
        label = " ".join([r["objective"]] + ([f"({', '.join(([key] if key else []) + rest)})"] if key or rest else []))
        s = r["scores"][score]
        lines.setdefault(label, []).append((x, s["mean"], s["low"], s["high"]))
    return lines


def seed_spread(board: list[dict]):
    """Per configuration (rows), every seed's score as a dot and the mean as a bar, one panel per score."""
    import matplotlib.pyplot as plt

    scores = [s for s in FIGURE_SCORES if any(s in r["scores"] for r in board)]
    fig, axes = plt.subplots(1, len(scores), figsize=(3.6 * len(scores), 0.9 + 0.32 * len(board)), squeeze=False,
                             sharey=True)
    y = np.arange(len(board))
    for ax, score in zip(axes[0], scores):
        for i, r in enumerate(board):
            if score in r["scores"]:
                s = r["scores"][score]
                ax.plot([s["low"], s["high"]], [i, i], color="0.75", lw=4, solid_capstyle="butt")
                ax.plot(s["values"], [i] * len(s["values"]), "o", ms=4, color="C0")
                ax.plot([s["mean"]], [i], "|", ms=14, mew=2, color="C3")
        ax.set_title(_LABELS[score])
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, [r["config_id"] for r in board], fontsize=7)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    return fig
