"""One-call causal audit of a generator: effect matrix with CIs, the graph it implies (labelled direct or total), and scores."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import networkx as nx
import numpy as np

from ..data import GroundTruthData, Readout
from ..errors import ConfigError
from ..generator import Generator
from .discovery import GRAPH_KINDS, discover, truth_graph
from .effects import EffectMatrix, Outcome, effect_matrix, hybridization_matrix, modularity
from .graph import compare_graphs, effect_graph

BIPARTITE_NOTE = ("latent units are independent roots, so every path from a unit to an outcome is direct: "
                  "the direct and total graphs coincide")


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """What an audit found: ``effects`` (units × outcomes), the ``graph`` of detected effects and ``scores``.

    ``kind`` says which graph it is: ``"direct"`` (controlled direct effects:
    the DAG) or ``"total"`` (total effects: the DAG's transitive closure); for
    a latent → outcome audit of a learned model the two coincide (``note``).
    ``reference`` is the matching truth when known, and SHD/precision/recall
    are computed against it only. ``floor`` is the per-outcome readout floor an
    effect had to exceed (structural audits). ``hybridization`` (channel
    groups × outcomes) is present when the audit was given a layer and groups.
    """

    generator: str
    effects: EffectMatrix
    graph: nx.DiGraph
    scores: dict
    kind: str = "direct"
    note: str = ""
    floor: np.ndarray | None = None
    hybridization: EffectMatrix | None = None
    reference: nx.DiGraph | None = None

    def to_dict(self) -> dict:
        """JSON-ready dictionary for reports and the CLI."""
        edges = [{"source": u, "target": v, **d} for u, v, d in self.graph.edges(data=True)]
        return {
            "generator": self.generator,
            "graph_kind": self.kind,
            "note": self.note,
            "effects": self.effects.to_dict(),
            "graph": {"nodes": list(self.graph.nodes), "edges": edges},
            "floor": None if self.floor is None else dict(zip(self.effects.outcome_names, self.floor.tolist())),
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
        readout = outcome.readout()
        if readout is None:
            raise ConfigError(f"dataset {outcome.name!r} has no analytic readout; pass a probe or an outcome function")
        return readout
    if hasattr(outcome, "outcome") and hasattr(outcome, "factor_names"):
        return Readout(outcome.outcome, tuple(getattr(outcome, "outcome_names", outcome.factor_names)),
                       groups=tuple(getattr(outcome, "outcome_groups", ())), diff=getattr(outcome, "difference", None))
    return outcome


def audit(
    generator: Generator,
    outcome=None,
    *,
    key: jax.Array,
    graph: str = "direct",
    n: int = 256,
    units: Sequence[int | str] | None = None,
    outcome_names: Sequence[str] | None = None,
    statistic: str = "contrast",
    level: float = 0.95,
    familywise: bool = True,
    min_effect: float = 0.0,
    floor: Sequence[float] | None = None,
    sources: Sequence[str] | None = None,
    reference: nx.DiGraph | None = None,
    layer: str | None = None,
    channel_groups: Sequence[Sequence[int]] | None = None,
    num_bootstrap: int = 1000,
) -> AuditResult:
    """Audit ``generator`` against ``outcome``: a function, a probe, or a dataset (its analytic readout).

    ``outcome=None`` uses the readout of the dataset the generator is linked to
    (an oracle's own). Two audits, chosen by the generator:

    - a **structural** generator (a scene's oracle, a CausalVAE) is audited on
      its variables: :func:`~genstyle_causal.causal.discovery.discover` reads
      the ``graph`` = ``"direct"`` (the DAG) or ``"total"`` (its transitive
      closure) graph off hard interventions, with a floor derived from the
      readout's error; ``audit(scene.oracle(), key=k)`` recovers the scene's DAG.
    - any other generator is audited latent unit × outcome: a matrix of
      do-contrasts (``statistic``) whose units keep their own names; an edge
      needs a CI that excludes zero (familywise by default) and a standardized
      effect above ``min_effect``. Direct and total coincide here.

    ``reference`` (a DAG; default: the linked dataset's true graph for
    structural audits) is compared in the matching form. ``layer`` and
    ``channel_groups`` add a hybridization matrix (Besserve et al. 2020).
    """
    if graph not in GRAPH_KINDS:
        raise ConfigError(f"graph must be one of {list(GRAPH_KINDS)}; got {graph!r}")
    if outcome is None:
        if generator.dataset is None:
            raise ConfigError(f"{generator.name!r} is not linked to a dataset; pass an outcome (a probe, a dataset or a function)")
        outcome = generator.dataset
    fn = as_outcome(outcome)
    k_effects, k_hybrid = jax.random.split(key)
    floor_used = None
    if generator.scm is not None and units is None:
        found = discover(generator, fn, key=k_effects, kind=graph, n=n, floor=floor, num_bootstrap=num_bootstrap, level=level)
        matrix, edges, floor_used = found.effects, found.graph, found.floor
        reference = found.reference if reference is None else truth_graph(reference, graph)
        note = (f"{graph} effects of hard interventions on the variables; an edge's lower CI bound exceeds the readout "
                "floor, the most the readout's own error could produce")
        scores = {}
    else:
        matrix = effect_matrix(
            generator, fn, key=k_effects, n=n, units=units, outcome_names=outcome_names, statistic=statistic,
            familywise=familywise, num_bootstrap=num_bootstrap, level=level,
        )
        edges = effect_graph(matrix, sources=sources, min_effect=min_effect)
        note = BIPARTITE_NOTE if generator.scm is None else f"effects of the given units ({graph} not applicable)"
        row_modularity = modularity(matrix)  # how many outcomes each unit moves: a latent-unit audit's question
        scores = {"modularity": dict(zip(matrix.unit_names, row_modularity.tolist())), "mean_modularity": float(np.mean(row_modularity))}
    if reference is not None:
        scores |= compare_graphs(edges, reference)
    hybrid = None
    if layer is not None and channel_groups is not None:
        hybrid = hybridization_matrix(generator, fn, layer, channel_groups, key=k_hybrid, n=n, outcome_names=outcome_names, num_bootstrap=num_bootstrap, level=level)
        scores["hybridization_modularity"] = float(np.mean(modularity(hybrid)))
    return AuditResult(generator.name, matrix, edges, scores, graph, note, floor_used, hybrid, reference)
