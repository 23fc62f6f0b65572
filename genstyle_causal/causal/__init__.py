"""Interventions, causal effects with confidence intervals, causal graphs and the DoWhy bridge.

The DoWhy bridge (:mod:`genstyle_causal.causal.dowhy_bridge`) is not imported
here: DoWhy takes seconds to import, so it loads only when used.
"""

from ..data.base import Readout
from ..structural import check_acyclic
from .audit import AuditResult, as_outcome, audit
from .discovery import Discovery, discover, truth_graph
from .effects import (
    Effect, EffectMatrix, average_effect, bootstrap_mean, do_batch, dose_response, effect_matrix,
    grid_sweep, hybridization_matrix, influence_maps, interventional_slope, modularity, observe, sweep,
)
from .graph import compare_graphs, draw_graph, edge_precision_recall, effect_graph, structural_hamming_distance
from .interventions import (
    Ablate, Do, Hybridize, Intervention, Shift, SwapContent, SwapStyle, intervene, intervention_type, resolve,
)
from .oracles import mixed_oracle

__all__ = [
    "Ablate", "AuditResult", "Discovery", "Do", "Effect", "EffectMatrix", "Hybridize", "Intervention", "Readout",
    "Shift", "SwapContent", "SwapStyle", "as_outcome", "audit", "average_effect", "bootstrap_mean", "check_acyclic",
    "compare_graphs", "discover", "do_batch", "dose_response", "draw_graph", "edge_precision_recall", "effect_graph",
    "effect_matrix", "grid_sweep", "hybridization_matrix", "influence_maps", "intervene", "intervention_type",
    "interventional_slope", "mixed_oracle", "modularity", "observe", "resolve", "structural_hamming_distance", "sweep",
    "truth_graph",
]
