"""The rows of a report's findings box: which unit controls which factor, scores against their ceiling, checks.

Pure functions of results already computed (no JAX), so any pipeline can fill
:meth:`~genstyle_causal.report.Report.findings` with them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def check(name: str, passed: bool, detail: str = "") -> dict:
    """One reference check for the findings box: ``detail`` is one sentence (what failed, when it failed)."""
    return {"name": name, "passed": bool(passed), "detail": detail}


def factor_rows(view, *, reliability=None) -> list[dict]:
    """Per factor: the unit(s) whose effect on it is detected, strongest first, with its standardised effect
    and CI, the runner-up and the gap to it (SD), and — with a
    :class:`~genstyle_causal.causal.reliability.ReadoutReliability` — the readout's reliability and the oracle's
    leakage through it. A factor whose readout is flagged gets no attribution.

    ``view`` is a :class:`~genstyle_causal.causal.reliability.FactorEffects`.
    """
    rows = []
    for g, factor in enumerate(view.factor_names):
        strength = np.abs(view.effect[:, g])
        order = np.argsort(-strength, kind="stable")
        found = [int(i) for i in order if view.resolved[i, g]]
        row = {"factor": factor}
        flagged = reliability is not None and factor in reliability.flagged
        if flagged:
            row |= {"controlled by": "not attributed (readout unreliable)", "effect (SD) [CI]": "", "runner-up": "",
                    "gap (SD)": ""}
        elif not found:
            row |= {"controlled by": "no unit (none detected)", "effect (SD) [CI]": "", "runner-up": "",
                    "gap (SD)": ""}
        else:
            top = found[0]
            second = next((int(i) for i in order if i != top), None)
            row |= {
                "controlled by": ", ".join(view.unit_names[i] for i in found),
                "effect (SD) [CI]": f"{view.effect[top, g]:+.2f} [{view.low[top, g]:+.2f}, {view.high[top, g]:+.2f}]",
                "runner-up": "" if second is None else f"{view.unit_names[second]} ({view.effect[second, g]:+.2f})",
                "gap (SD)": "" if second is None else f"{strength[top] - strength[second]:.2f}",
            }
        if reliability is not None:
            score = reliability.scores[factor]
            row["readout"] = f"{score['measure']} {score['score']:.2f}" + (" ⚠ below threshold" if flagged else "")
            row["oracle leakage (SD)"] = f"{reliability.leakage[factor]:.2f}"
        rows.append(row)
    return rows


def score_rows(headlines: Mapping[str, Mapping[str, float]], *, model: str, ceiling: str = "oracle") -> list[dict]:
    """Each score of ``model`` beside the ``ceiling`` representation's (``headlines``: representation → scores)."""
    mine, top = headlines.get(model, {}), headlines.get(ceiling, {})
    return [{"score": k, model: v, f"{ceiling} (ceiling)": top.get(k, float("nan"))} for k, v in mine.items()]


def reliability_rows(reliability) -> list[dict]:
    """Per factor: the readout's reliability on the oracle, its floor and leakage, and whether it is kept."""
    floors = dict(zip(reliability.oracle.outcome_names, reliability.floor / _sd(reliability.oracle)))
    rows = []
    for factor, cols in reliability.groups:
        score = reliability.scores[factor]
        rows.append({
            "factor": factor,
            "measure": score["measure"],
            "reliability": score["score"],
            "floor (SD)": max(floors[reliability.oracle.outcome_names[j]] for j in cols),
            "oracle leakage (SD)": reliability.leakage[factor],
            "kept": "yes" if factor in reliability.kept else f"no (< {reliability.threshold:g})",
        })
    return rows


def _sd(matrix) -> np.ndarray:
    return np.where(matrix.scale > 0, matrix.scale, 1.0)


def column_notes(reliability, names: Sequence[str]) -> dict[str, str]:
    """A short label line per outcome column for heatmaps: its factor's reliability score and its floor in SD."""
    floors = reliability.floor / _sd(reliability.oracle)
    notes = {}
    for factor, cols in reliability.groups:
        for j in cols:
            name = reliability.oracle.outcome_names[j]
            if name in names:
                notes[name] = f"rel. {reliability.scores[factor]['score']:.2f}\nfloor {floors[j]:.2f} SD"
    return notes
