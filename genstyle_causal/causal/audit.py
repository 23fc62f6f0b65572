"""One-call causal audit of a generator: effect matrix with CIs, the graph it implies, and scores."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import networkx as nx
import numpy as np

from ..data import GroundTruthData
from ..generator import Generator
from .effects import EffectMatrix, Outcome, effect_matrix, hybridization_matrix, modularity
from .graph import edge_precision_recall, effect_graph, structural_hamming_distance
from .readouts import Readout, readout


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """What an audit found: ``effects`` (units × outcomes), the ``graph`` of detected effects and ``scores``.

    ``hybridization`` (channel groups × outcomes) is present when the audit was
    given a layer and channel groups; ``reference`` is the true graph when known.
    """

    generator: str
    effects: EffectMatrix
    graph: nx.DiGraph
    scores: dict
    hybridization: EffectMatrix | None = None
    reference: nx.DiGraph | None = None

    def to_dict(self) -> dict:
        """JSON-ready dictionary for reports and the CLI."""
        edges = [{"source": u, "target": v, **d} for u, v, d in self.graph.edges(data=True)]
        return {
            "generator": self.generator,
            "effects": self.effects.to_dict(),
            "graph": {"nodes": list(self.graph.nodes), "edges": edges},
            "reference_edges": None if self.reference is None else [list(e) for e in self.reference.edges],
            "hybridization": None if self.hybridization is None else self.hybridization.to_dict(),
            "scores": self.scores,
        }


def as_outcome(outcome) -> Outcome:
    """A dataset becomes its analytic readout; a probe (``outcome`` + ``factor_names``) its named outcome.

    A probe may name its columns (``outcome_names``, default its factor names), group them by factor
    (``outcome_groups``) and define their paired ``difference``.
    """
    if isinstance(outcome, GroundTruthData):
        return readout(outcome)
    if hasattr(outcome, "outcome") and hasattr(outcome, "factor_names"):
        return Readout(outcome.outcome, tuple(getattr(outcome, "outcome_names", outcome.factor_names)),
                       tuple(getattr(outcome, "outcome_groups", ())), getattr(outcome, "difference", None))
    return outcome


def audit(
    generator: Generator,
    outcome,
    *,
    key: jax.Array,
    n: int = 256,
    units: Sequence[int | str] | None = None,
    outcome_names: Sequence[str] | None = None,
    statistic: str = "contrast",
    level: float = 0.95,
    familywise: bool = True,
    min_effect: float = 0.0,
    sources: Sequence[str] | None = None,
    reference: nx.DiGraph | None = None,
    layer: str | None = None,
    channel_groups: Sequence[Sequence[int]] | None = None,
    num_bootstrap: int = 1000,
) -> AuditResult:
    """Audit ``generator`` against ``outcome``: a function, a probe, or a dataset (its analytic readout).

    With a dataset whose oracle this generator is (same latent size), the
    latent units are the dataset's factors (for the pendulum: the exogenous
    inputs of its variables), so graph nodes take the factor names and the
    dataset's true graph, if it has one, becomes the ``reference``: e.g.
    ``audit(p.oracle(), p, key=k, statistic="magnitude", min_effect=0.05)``
    recovers the pendulum DAG. CIs are familywise (Bonferroni) by default, as
    the graph reads every cell at once. See :func:`effect_matrix` for the
    effect, :func:`effect_graph` for ``min_effect`` and ``sources``.
    """
    data = outcome if isinstance(outcome, GroundTruthData) else None
    fn = as_outcome(outcome)
    if data is not None and generator.latent_dim == data.num_factors and units is None:
        sources = data.factor_names if sources is None else sources
        if reference is None and hasattr(data, "graph"):
            reference = data.graph()
    k_effects, k_hybrid = jax.random.split(key)
    matrix = effect_matrix(
        generator, fn, key=k_effects, n=n, units=units, outcome_names=outcome_names, statistic=statistic,
        familywise=familywise, num_bootstrap=num_bootstrap, level=level,
    )
    graph = effect_graph(matrix, sources=sources, min_effect=min_effect)
    row_modularity = modularity(matrix)
    scores = {"modularity": dict(zip(matrix.unit_names, row_modularity.tolist())), "mean_modularity": float(np.mean(row_modularity))}
    if reference is not None:
        precision, recall = edge_precision_recall(graph, reference)
        scores |= {"shd": structural_hamming_distance(graph, reference), "edge_precision": precision, "edge_recall": recall}
    hybrid = None
    if layer is not None and channel_groups is not None:
        hybrid = hybridization_matrix(generator, fn, layer, channel_groups, key=k_hybrid, n=n, outcome_names=outcome_names, num_bootstrap=num_bootstrap, level=level)
        scores["hybridization_modularity"] = float(np.mean(modularity(hybrid)))
    return AuditResult(generator.name, matrix, graph, scores, hybrid, reference)
