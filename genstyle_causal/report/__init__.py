"""Figures, findings, provenance and the self-contained Markdown + HTML report."""

from .document import Report, anchor
from .figures import assignment_edges, assignment_graph, effect_heatmap, image_grid, influence_maps, loss_curves
from .findings import check, column_notes, factor_rows, reliability_rows, score_rows
from .provenance import config_hash, provenance

__all__ = [
    "Report", "anchor", "assignment_edges", "assignment_graph", "check", "column_notes", "config_hash",
    "effect_heatmap", "factor_rows", "image_grid", "influence_maps", "loss_curves", "provenance",
    "reliability_rows", "score_rows",
]
