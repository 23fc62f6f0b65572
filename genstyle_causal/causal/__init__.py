"""Interventions, causal effects with confidence intervals, causal graphs and the DoWhy bridge.

The DoWhy bridge (:mod:`genstyle_causal.causal.dowhy_bridge`) is not imported
here: DoWhy takes seconds to import, so it loads only when used.
"""

from .audit import AuditResult, as_outcome, audit
from .effects import (
    Effect, EffectMatrix, average_effect, bootstrap_mean, do_batch, dose_response, effect_matrix,
    grid_sweep, hybridization_matrix, influence_maps, interventional_slope, modularity, observe, sweep,
)
from .graph import check_acyclic, draw_graph, edge_precision_recall, effect_graph, structural_hamming_distance
from .interventions import Ablate, Do, Hybridize, Shift, SwapContent, SwapStyle, intervene, resolve
from .oracles import mixed_oracle
from .readouts import Readout, readout

__all__ = [
    "Ablate", "AuditResult", "Do", "Effect", "EffectMatrix", "Hybridize", "Readout", "Shift", "SwapContent",
    "SwapStyle", "as_outcome", "audit", "average_effect", "bootstrap_mean", "check_acyclic", "do_batch", "dose_response",
    "draw_graph", "edge_precision_recall", "effect_graph", "effect_matrix", "grid_sweep", "hybridization_matrix",
    "influence_maps", "intervene", "interventional_slope", "mixed_oracle", "modularity", "observe", "readout",
    "resolve", "structural_hamming_distance", "sweep",
]
