"""Figures and the self-contained Markdown + HTML report."""

from .document import Report
from .figures import effect_heatmap, image_grid, influence_maps, loss_curves

__all__ = ["Report", "effect_heatmap", "image_grid", "influence_maps", "loss_curves"]
