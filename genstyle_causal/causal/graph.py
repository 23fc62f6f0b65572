"""Causal graphs read off effect matrices: build, validate, compare, draw.

A graph is a plain ``networkx.DiGraph`` (as in DoWhy's ``gcm``): an edge
``source → target`` where the effect's confidence interval excludes zero, with
the effect as ``weight`` and its interval as ``low``/``high`` attributes.
"""

from __future__ import annotations

from typing import Sequence

import networkx as nx
import numpy as np

from ..errors import ShapeError
from .effects import EffectMatrix


def effect_graph(
    matrix: EffectMatrix,
    *,
    sources: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    min_effect: float = 0.0,
) -> nx.DiGraph:
    """Directed graph with an edge ``source_i → target_j`` where cell ``(i, j)`` is a detected effect.

    Detected: the CI excludes zero and ``|effect| / scale > min_effect`` (a
    practical-significance floor in outcome standard deviations). ``sources``
    and ``targets`` name the rows and columns (default: the matrix's unit and
    outcome names); a source named like a target is the same node, e.g. a latent
    unit that is the exogenous input of a measured variable, and its self-effect
    is not an edge.
    """
    sources = tuple(matrix.unit_names if sources is None else sources)
    targets = tuple(matrix.outcome_names if targets is None else targets)
    if (len(sources), len(targets)) != matrix.shape:
        raise ShapeError(f"{len(sources)} sources × {len(targets)} targets do not match the effect matrix {matrix.shape}")
    detected = matrix.excludes_zero() & (np.abs(matrix.standardized()) > min_effect)
    g = nx.DiGraph(level=matrix.level, statistic=matrix.statistic)
    g.add_nodes_from(dict.fromkeys(sources + targets))
    for i, j in zip(*np.nonzero(detected)):
        if sources[i] != targets[j]:
            g.add_edge(
                sources[i], targets[j],
                weight=float(matrix.effect[i, j]), low=float(matrix.low[i, j]), high=float(matrix.high[i, j]),
                standardized=float(matrix.standardized()[i, j]),
            )
    return g


def structural_hamming_distance(graph: nx.DiGraph, reference: nx.DiGraph) -> int:
    """Node pairs whose edge differs (missing, extra or reversed, each counting 1; Tsamardinos et al. 2006)."""
    nodes = list(dict.fromkeys(list(reference.nodes) + list(graph.nodes)))
    distance = 0
    for a_i, a in enumerate(nodes):
        for b in nodes[a_i + 1:]:
            if (graph.has_edge(a, b), graph.has_edge(b, a)) != (reference.has_edge(a, b), reference.has_edge(b, a)):
                distance += 1
    return distance


def edge_precision_recall(graph: nx.DiGraph, reference: nx.DiGraph) -> tuple[float, float]:
    """Precision and recall of the directed edges of ``graph`` against ``reference`` (1.0 when a set is empty)."""
    found, true = set(graph.edges), set(reference.edges)
    hits = len(found & true)
    return (hits / len(found) if found else 1.0), (hits / len(true) if true else 1.0)


def compare_graphs(graph: nx.DiGraph, reference: nx.DiGraph) -> dict:
    """``shd``, ``edge_precision`` and ``edge_recall`` of ``graph`` against ``reference``."""
    precision, recall = edge_precision_recall(graph, reference)
    return {"shd": structural_hamming_distance(graph, reference), "edge_precision": precision, "edge_recall": recall}


def _layout(graph: nx.DiGraph) -> dict:
    """Layered layout for DAGs (causes left), a circle otherwise; deterministic."""
    if nx.is_directed_acyclic_graph(graph):
        for layer, nodes in enumerate(nx.topological_generations(graph)):
            for node in nodes:
                graph.nodes[node]["_layer"] = layer
        pos = nx.multipartite_layout(graph, subset_key="_layer")
        for node in graph.nodes:
            del graph.nodes[node]["_layer"]
        return pos
    return nx.circular_layout(graph)


def draw_graph(graph: nx.DiGraph, ax=None, reference: nx.DiGraph | None = None):
    """Draw ``graph`` with matplotlib; edge width ∝ |standardized effect|, colour = sign.

    With a ``reference`` graph, its edges the graph misses are drawn dashed grey
    and edges it lacks are drawn red. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    union = nx.DiGraph()
    union.add_nodes_from(graph.nodes)
    union.add_edges_from(graph.edges)
    if reference is not None:
        union.add_nodes_from(reference.nodes)
        union.add_edges_from(reference.edges)
    pos = _layout(union)
    nx.draw_networkx_nodes(union, pos, ax=ax, node_color="#dde6f0", edgecolors="#335", node_size=900)
    nx.draw_networkx_labels(union, pos, ax=ax, font_size=8)
    for u, v, data in graph.edges(data=True):
        wrong = reference is not None and not reference.has_edge(u, v)
        colour = "tab:red" if wrong else ("tab:blue" if data.get("weight", 1.0) >= 0 else "tab:orange")
        width = 1.0 + 2.0 * min(abs(data.get("standardized", 1.0)), 2.0)
        nx.draw_networkx_edges(union, pos, edgelist=[(u, v)], ax=ax, width=width, edge_color=colour, node_size=900, arrowsize=15)
    if reference is not None:
        missed = [e for e in reference.edges if not graph.has_edge(*e)]
        nx.draw_networkx_edges(union, pos, edgelist=missed, ax=ax, style="dashed", edge_color="grey", node_size=900)
    ax.margins(x=0.25, y=0.1)  # room for the node labels at the edges
    ax.set_axis_off()
    return ax
