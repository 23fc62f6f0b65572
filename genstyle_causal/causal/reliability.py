"""Readouts validated before they are trusted: how well an outcome reads each factor, measured on the oracle.

An audit is a measurement, and its instrument is the readout (a trained probe or
an analytic function). On a dataset's oracle the true factors are known, so the
readout's reliability per factor can be measured before any model is audited:

* ordinal and continuous factors: R² of the read value;
* categorical factors: chance-corrected accuracy ``(acc - 1/K) / (1 - 1/K)``;
* circular factors: circular R², ``1 - 12·E[(err / P)²]`` with ``err`` the angle
  error wrapped to the object's symmetry period ``P`` (0 for a uniform guess).

Each score is on the scale of R² (1 perfect, 0 chance). Factors scoring below
``threshold`` are *flagged*: reports mark them and graphs leave them out.

Each outcome column also gets a **floor**: twice the readout's mean absolute
error on that column. Per image pair, reading error alone moves a paired
difference by at most the two images' errors, so an effect whose CI does not
clear the floor may be reading error; only effects beyond it are *detected*
(:func:`detected`), on the oracle and on every model read through the same
readout. The oracle's own effect matrix through the readout then shows its
*leakage* (effects of one factor's unit on another factor's reading), which no
correct audit can attribute to a model.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from ..data import GroundTruthData
from ..errors import ConfigError
from .effects import EffectMatrix, effect_matrix

#: Default reliability a factor's readout needs to be trusted (R² scale).
THRESHOLD = 0.8


@dataclasses.dataclass(frozen=True)
class FactorEffects:
    """An effect matrix summarised per factor: ``(units, factors)`` standardised effects with CIs.

    Each cell is the factor's strongest outcome column (in outcome SDs; for a
    categorical factor the class probability that moves most); ``resolved`` says
    whether any of its columns' effect is detected; ``column`` names the column.
    """

    effect: np.ndarray
    low: np.ndarray
    high: np.ndarray
    resolved: np.ndarray
    column: tuple[tuple[str, ...], ...]
    unit_names: tuple[str, ...]
    factor_names: tuple[str, ...]


def detected(matrix: EffectMatrix, floor=0.0) -> np.ndarray:
    """Cells whose CI clears ``floor`` (per column, outcome units): ``low > floor`` or ``high < -floor``."""
    floor = np.broadcast_to(np.asarray(floor, np.float64), (matrix.shape[1],))
    return (matrix.low > floor) | (matrix.high < -floor)


def factor_groups(names: Sequence[str], groups: Sequence[tuple[str, Sequence[int]]], factors: Sequence[str]):
    """``((factor, columns), ...)`` of the factors an outcome reads: its groups named after factors, else its
    columns named after factors."""
    named = [(g, tuple(cols)) for g, cols in groups if g in factors]
    return tuple(named) if named else tuple((n, (j,)) for j, n in enumerate(names) if n in factors)


def factor_effects(matrix: EffectMatrix, groups, floor=0.0) -> FactorEffects:
    """Summarise ``matrix`` per factor (``groups`` as from :func:`factor_groups`; ``floor`` as in :func:`detected`)."""
    std = matrix.standardized()
    sd = np.where(matrix.scale > 0, matrix.scale, 1.0)
    lo, hi, found = matrix.low / sd, matrix.high / sd, detected(matrix, floor)
    shape = (matrix.shape[0], len(groups))
    out = {k: np.zeros(shape) for k in ("effect", "low", "high")}
    res = np.zeros(shape, bool)
    column = []
    for i in range(shape[0]):
        row = []
        for g, (_, cols) in enumerate(groups):
            cols = np.asarray(cols)
            strength = np.abs(std[i, cols]) + 1e9 * found[i, cols]  # a detected column outranks any other
            j = int(cols[np.argmax(strength)])
            out["effect"][i, g], out["low"][i, g], out["high"][i, g] = std[i, j], lo[i, j], hi[i, j]
            res[i, g] = bool(found[i, cols].any())
            row.append(matrix.outcome_names[j])
        column.append(tuple(row))
    return FactorEffects(out["effect"], out["low"], out["high"], res, tuple(column), matrix.unit_names,
                         tuple(g for g, _ in groups))


def factor_estimates(data: GroundTruthData, columns: np.ndarray, groups) -> np.ndarray:
    """Read factor values ``(n, len(groups))`` from outcome columns: a categorical group's arg-max class value,
    else the group's single column."""
    out = []
    for name, cols in groups:
        f = data.factors[data.factor_index(name)]
        block = columns[:, list(cols)]
        out.append(np.asarray(f.values)[np.argmax(block, axis=1)] if len(cols) > 1 else block[:, 0])
    return np.stack(out, axis=1)


def reading_errors(data: GroundTruthData, columns: np.ndarray, factors: np.ndarray, groups) -> np.ndarray:
    """Absolute error ``(n, m)`` of each outcome column against what a perfect readout would give (0 for columns
    no factor group covers): the class indicator for a categorical factor's class probabilities, the angle wrapped
    to the symmetry period for a circular one, the value otherwise."""
    columns, factors = np.asarray(columns, np.float64), np.asarray(factors, np.float64)
    err = np.zeros(columns.shape)
    for name, cols in groups:
        i = data.factor_index(name)
        f, true = data.factors[i], factors[:, i]
        if len(cols) > 1:
            onehot = data.factor_classes(factors)[:, i, None] == np.arange(len(cols))[None]
            err[:, list(cols)] = np.abs(columns[:, list(cols)] - onehot)
        elif f.kind == "circular":
            period = 2 * np.pi / _orders(data, f, factors)
            err[:, cols[0]] = np.abs(np.mod(columns[:, cols[0]] - true + period / 2, period) - period / 2)
        else:
            err[:, cols[0]] = np.abs(columns[:, cols[0]] - true)
    return err


def reliability_scores(data: GroundTruthData, estimates: np.ndarray, factors: np.ndarray,
                       names: Sequence[str]) -> dict[str, dict]:
    """Per factor: ``{"measure", "score"}`` on the R² scale (see the module docstring), plus ``accuracy`` for
    categorical factors."""
    estimates, factors = np.asarray(estimates, np.float64), np.asarray(factors, np.float64)
    out = {}
    for k, name in enumerate(names):
        i = data.factor_index(name)
        f, est, true = data.factors[i], estimates[:, k], factors[:, i]
        if f.kind == "categorical":
            acc = float(np.mean(data.factor_classes(factors)[:, i] == _nearest(f.values, est)))
            chance = 1.0 / len(f.values)
            out[name] = {"measure": "chance-corrected accuracy", "score": (acc - chance) / (1 - chance), "accuracy": acc}
        elif f.kind == "circular":
            period = 2 * np.pi / _orders(data, f, factors)
            err = np.mod(est - true + period / 2, period) - period / 2
            out[name] = {"measure": "circular R²", "score": float(1 - 12 * np.mean((err / period) ** 2))}
        else:
            var = float(np.var(true))
            out[name] = {"measure": "R²", "score": float(1 - np.mean((est - true) ** 2) / var) if var > 0 else 0.0}
    return out


def _nearest(values, x):
    return np.argmin(np.abs(np.asarray(x)[:, None] - np.asarray(values)[None]), axis=1)


def _orders(data: GroundTruthData, f, factors: np.ndarray) -> np.ndarray:
    if f.symmetry is None:
        return np.ones(len(factors))
    by, orders = f.symmetry
    return np.asarray(orders, np.float64)[data.factor_classes(factors)[:, data.factor_index(by)]]


@dataclasses.dataclass(frozen=True)
class ReadoutReliability:
    """How far a readout can be trusted on a dataset: per-factor ``scores``, the ``threshold`` that decides which
    factors are ``kept``, the per-column ``floor`` (outcome units) an effect must clear, and the ``oracle`` effect
    matrix read through it (its leakage)."""

    dataset: str
    scores: dict
    threshold: float
    oracle: EffectMatrix
    groups: tuple
    floor: np.ndarray

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(g for g, _ in self.groups)

    @property
    def kept(self) -> tuple[str, ...]:
        return tuple(f for f in self.factor_names if self.scores[f]["score"] >= self.threshold)

    @property
    def flagged(self) -> tuple[str, ...]:
        return tuple(f for f in self.factor_names if f not in self.kept)

    @property
    def flagged_columns(self) -> tuple[str, ...]:
        """Outcome columns of the flagged factors (to hatch in heatmaps)."""
        return tuple(self.oracle.outcome_names[j] for g, cols in self.groups if g in self.flagged for j in cols)

    def factor_view(self, matrix: EffectMatrix) -> FactorEffects:
        """Any effect matrix read through this readout, summarised per factor (detection against the floor)."""
        return factor_effects(matrix, self.groups, self.floor)

    @property
    def leakage(self) -> dict[str, float]:
        """Per factor: the largest |standardised effect| another factor's unit has on its reading on the oracle
        (0 when every off-diagonal CI contains 0)."""
        v = self.factor_view(self.oracle)
        out = {}
        for g, f in enumerate(v.factor_names):
            off = [abs(v.effect[i, g]) for i, u in enumerate(v.unit_names) if u != f and v.resolved[i, g]]
            out[f] = float(max(off, default=0.0))
        return out

    def oracle_failures(self) -> list[str]:
        """What breaks the oracle's known answer on the kept factors: ``"u → f"`` for each off-diagonal effect
        found, ``"f → f missed"`` for each factor its own unit does not move."""
        v = self.factor_view(self.oracle)
        fails = []
        for g, f in enumerate(v.factor_names):
            if f not in self.kept:
                continue
            for i, u in enumerate(v.unit_names):
                if u == f and not v.resolved[i, g]:
                    fails.append(f"{f} → {f} missed")
                elif u != f and v.resolved[i, g]:
                    fails.append(f"{u} → {f}")
        return fails

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "threshold": self.threshold,
            "scores": self.scores,
            "kept": list(self.kept),
            "flagged": list(self.flagged),
            "floor": dict(zip(self.oracle.outcome_names, self.floor.tolist())),
            "leakage": self.leakage,
            "oracle_failures": self.oracle_failures(),
            "oracle": self.oracle.to_dict(),
        }


def readout_reliability(
    data: GroundTruthData,
    outcome,
    *,
    key: jax.Array,
    n: int = 2000,
    threshold: float = THRESHOLD,
    audit_samples: int = 256,
    num_bootstrap: int = 500,
) -> ReadoutReliability:
    """Measure ``outcome`` (a probe or a named readout) on ``data``'s oracle: scores and floors on ``n`` fresh
    samples, the oracle's familywise effect matrix on ``audit_samples`` samples."""
    from .audit import as_outcome

    fn = as_outcome(outcome)
    names = tuple(getattr(fn, "names", ()) or ())
    groups = factor_groups(names, getattr(fn, "groups", ()), data.factor_names)
    if not groups:
        raise ConfigError(f"outcome columns {list(names)} read none of {data.name}'s factors {list(data.factor_names)}; "
                          "name columns or column groups after factors")
    k_read, k_audit = jax.random.split(key)
    factors, images = data.sample(k_read, n)
    columns = np.asarray(fn(images))
    scores = reliability_scores(data, factor_estimates(data, columns, groups), np.asarray(factors),
                                [g for g, _ in groups])
    floor = 2 * reading_errors(data, columns, factors, groups).mean(axis=0)
    oracle = effect_matrix(data.oracle(), fn, key=k_audit, n=audit_samples, familywise=True,
                           num_bootstrap=num_bootstrap)
    return ReadoutReliability(data.name, scores, float(threshold), oracle, groups, floor)
