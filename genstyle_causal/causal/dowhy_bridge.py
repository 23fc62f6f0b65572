"""Bridge to DoWhy: the observational estimate from audit samples beside the generator's interventional one.

A generator lets us *do* interventions directly; DoWhy estimates the same
effect from observational samples and a graph (backdoor adjustment). Agreement
between the two checks the graph and the estimator; disagreement flags hidden
confounding or a wrong graph. DoWhy is imported lazily (it takes seconds).

DoWhy 0.14 with pandas 3 / scikit-learn ≥ 1.7: conditional-effect estimation
is broken upstream, and a graph makes DoWhy treat the outcome's other parents as
effect modifiers, which sends linear regression to a slow 1000-fold bootstrap.
We therefore estimate the average effect with ``effect_modifiers=[]`` and get
the analytic OLS interval.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from typing import Sequence

import jax
import networkx as nx
import numpy as np

from ..errors import ConfigError, GraphError, UnitError
from ..generator import Generator
from ..structural import check_acyclic
from .effects import Effect, Outcome, check_outcome, interventional_slope, observe, outcome_columns


@contextlib.contextmanager
def _quiet_dowhy():
    """Silence DoWhy's warnings and its logger's notes (e.g. the refuters' "we assume a Normal distribution")
    for the body: the results carry what a reader needs, the console stays for progress."""
    log = logging.getLogger("dowhy")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


DEFAULT_REFUTERS = ("random_common_cause", "placebo_treatment_refuter", "data_subset_refuter")


def samples_frame(generator: Generator, outcome: Outcome, *, key: jax.Array, n: int = 1000, names: Sequence[str] | None = None):
    """Observational audit samples: ``outcome`` of ``n`` unintervened generated images, as a pandas DataFrame."""
    import pandas as pd

    m = check_outcome(generator, outcome, n)
    y = np.asarray(observe(generator, generator.sample_latent(key, n), outcome), np.float64)
    return pd.DataFrame(y, columns=list(outcome_columns(outcome, m, names)))


@dataclasses.dataclass(frozen=True)
class BackdoorResult:
    """DoWhy's backdoor estimate of ``treatment → outcome`` per unit of treatment, with its CI and refutations."""

    treatment: str
    outcome: str
    estimate: float
    low: float
    high: float
    level: float
    adjustment_set: tuple[str, ...]
    refutations: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"adjustment_set": list(self.adjustment_set)}


def _check_nodes(frame, graph: nx.DiGraph, *names: str) -> None:
    """The graph is a DAG, covers ``names`` and (given samples) has a column for every node."""
    check_acyclic(graph)
    missing = [] if frame is None else [v for v in graph.nodes if v not in frame.columns]
    if missing:
        raise GraphError(f"graph nodes {missing} have no column in the samples; columns: {list(frame.columns)}")
    for v in names:
        if v not in graph.nodes:
            raise GraphError(f"{v!r} is not a node of the graph; nodes: {list(graph.nodes)}")


def backdoor_effect(
    frame,
    graph: nx.DiGraph,
    treatment: str,
    outcome: str,
    *,
    level: float = 0.95,
    refuters: Sequence[str] = DEFAULT_REFUTERS,
    num_simulations: int = 20,
    seed: int = 0,
) -> BackdoorResult:
    """Backdoor-adjusted linear-regression effect of a unit increase of ``treatment`` on ``outcome`` (DoWhy).

    Refuters (DoWhy names) report the new effect and its p-value: a random
    common cause or a data subset should leave the estimate unchanged, a
    permuted placebo treatment should drive it to zero.
    """
    from dowhy import CausalModel

    _check_nodes(frame, graph, treatment, outcome)
    with _quiet_dowhy():
        model = CausalModel(data=frame, treatment=treatment, outcome=outcome, graph=graph)
        estimand = model.identify_effect(proceed_when_unidentifiable=True)
        est = model.estimate_effect(
            estimand, method_name="backdoor.linear_regression", control_value=0.0, treatment_value=1.0,
            confidence_intervals=True, effect_modifiers=[],
        )
        (low, high), = np.asarray(est.get_confidence_intervals(confidence_level=level), np.float64).reshape(1, 2)
        refutations = {}
        for name in refuters:
            extra = {"placebo_type": "permute"} if name == "placebo_treatment_refuter" else {}
            r = model.refute_estimate(estimand, est, method_name=name, num_simulations=num_simulations, random_seed=seed, **extra)
            p = (r.refutation_result or {}).get("p_value")
            refutations[name] = {"new_effect": float(np.asarray(r.new_effect, np.float64).ravel()[0]), "p_value": None if p is None else float(p)}
    return BackdoorResult(
        treatment, outcome, float(est.value), float(low), float(high), level,
        tuple(estimand.get_backdoor_variables()), refutations,
    )


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The same cause's effect three ways: DoWhy's backdoor estimate, the unadjusted regression, and the generator's do-slope.

    Where the treatment and the target share a cause, the unadjusted estimate
    is biased and the backdoor adjustment should remove the bias: the
    interventional slope lies inside the backdoor CI (``agree``) but not inside
    the unadjusted one (``unadjusted_agrees``).
    """

    observational: BackdoorResult
    unadjusted: BackdoorResult
    interventional: float
    interventional_low: float
    interventional_high: float

    @property
    def agree(self) -> bool:
        """Whether the interventional effect lies inside the backdoor CI."""
        return self.observational.low <= self.interventional <= self.observational.high

    @property
    def unadjusted_agrees(self) -> bool:
        """Whether the interventional effect lies inside the unadjusted CI (False exposes confounding bias)."""
        return self.unadjusted.low <= self.interventional <= self.unadjusted.high

    def to_dict(self) -> dict:
        return {
            "observational": self.observational.to_dict(),
            "unadjusted": self.unadjusted.to_dict(),
            "interventional": {"estimate": self.interventional, "low": self.interventional_low, "high": self.interventional_high},
            "agree": self.agree,
            "unadjusted_agrees": self.unadjusted_agrees,
        }


def _treatment_unit(generator: Generator, treatment: str, unit):
    """What the generator intervenes on for ``treatment``: the named variable itself (a hard do), else a latent unit; checked now."""
    if unit is None and treatment in generator.variable_names:
        return treatment
    chosen = treatment if unit is None else unit
    if isinstance(chosen, str) and chosen in generator.variable_names:
        return chosen
    try:
        generator.unit_index(chosen)
    except UnitError:
        valid = list(generator.variable_names) + list(generator.latent_names)
        raise UnitError(f"the generator has no variable or latent unit {chosen!r} to intervene on for treatment "
                        f"{treatment!r}; valid: {valid} (pass unit=...)") from None
    return chosen


def compare_with_intervention(
    generator: Generator,
    outcome: Outcome,
    graph: nx.DiGraph,
    treatment: str,
    target: str,
    *,
    key: jax.Array,
    unit: int | str | None = None,
    n: int = 1000,
    n_do: int = 256,
    names: Sequence[str] | None = None,
    frame=None,
    level: float = 0.95,
    refuters: Sequence[str] = DEFAULT_REFUTERS,
    num_simulations: int = 20,
) -> Comparison:
    """DoWhy's backdoor estimate of ``treatment → target`` from ``n`` observational samples, beside the unadjusted one and the do-slope.

    The interventional side is :func:`~genstyle_causal.causal.effects.interventional_slope`
    of the generator's variable named ``treatment`` (a hard do on the
    treatment itself, on a structural generator) or of latent ``unit``
    (default: the unit named like ``treatment``), the estimand that a valid
    backdoor linear regression targets. Names are checked before anything is
    estimated. ``frame`` reuses observational samples (from :func:`samples_frame`)
    instead of drawing ``n``.
    """
    k_obs, k_do = jax.random.split(key)
    columns = outcome_columns(outcome, check_outcome(generator, outcome, n_do), names)
    for role, name in (("treatment", treatment), ("target", target)):
        if name not in columns:
            raise ConfigError(f"unknown {role} {name!r}; outcome columns: {list(columns)}")
    unit = _treatment_unit(generator, treatment, unit)
    _check_nodes(None, graph, treatment, target)
    frame = samples_frame(generator, outcome, key=k_obs, n=n, names=names) if frame is None else frame
    obs = backdoor_effect(frame, graph, treatment, target, level=level, refuters=refuters, num_simulations=num_simulations)
    naive = backdoor_effect(frame[[treatment, target]], nx.DiGraph([(treatment, target)]), treatment, target, level=level,
                            refuters=())
    slope: Effect = interventional_slope(generator, outcome, unit, key=k_do, n=n_do, level=level)
    j = columns.index(target)
    return Comparison(obs, naive, float(slope.estimate[j]), float(slope.low[j]), float(slope.high[j]))


def gcm_model(frame, graph: nx.DiGraph, *, mechanisms: str = "auto", seed: int = 0):
    """A fitted ``dowhy.gcm`` invertible structural causal model over ``graph``.

    ``mechanisms="auto"`` lets DoWhy select each node's model (cross-validated,
    slow: tens of seconds); ``"linear"`` gives every non-root node a linear
    additive-noise model and every root its empirical distribution (fast).
    """
    from dowhy import gcm

    if mechanisms not in ("auto", "linear"):
        raise ConfigError(f"mechanisms must be 'auto' or 'linear'; got {mechanisms!r}")
    _check_nodes(frame, graph)
    with _quiet_dowhy():
        gcm.config.disable_progress_bars()
        gcm.util.general.set_random_seed(seed)
        scm = gcm.InvertibleStructuralCausalModel(graph)
        if mechanisms == "auto":
            gcm.auto.assign_causal_mechanisms(scm, frame)
        else:
            for node in graph.nodes:
                root = graph.in_degree(node) == 0
                scm.set_causal_mechanism(
                    node, gcm.EmpiricalDistribution() if root else gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor())
                )
        gcm.fit(scm, frame)
    return scm


def gcm_interventional_samples(scm, interventions: dict[str, float], n: int = 1000):
    """Samples of every node under ``do(node = value)`` for each entry of ``interventions``."""
    from dowhy import gcm

    return gcm.interventional_samples(scm, {k: (lambda _, v=v: v) for k, v in interventions.items()}, num_samples_to_draw=n)


def gcm_arrow_strengths(scm, target: str, *, num_samples: int = 2000, parent_samples=None) -> dict[tuple[str, str], float]:
    """Arrow strengths into ``target`` (Janzing et al. 2020): how much each parent's edge carries.

    ``num_samples`` conditional samples per estimate (DoWhy's default 2000);
    runs in this process (``n_jobs=1``) rather than spawning workers.
    """
    from dowhy import gcm

    with _quiet_dowhy():
        strengths = gcm.arrow_strength(scm, target, parent_samples=parent_samples, num_samples_conditional=num_samples, max_num_runs=num_samples, n_jobs=1)
    return {k: float(v) for k, v in strengths.items()}
