"""Matplotlib figures for audits: image grids, effect heatmaps with CIs, influence maps, loss curves.

Every function takes plain arrays and returns a ``matplotlib.figure.Figure``;
none of them shows or saves anything (the report does that).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import sys

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # headless by default, but keep a backend already chosen (notebooks)
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..errors import ShapeError  # noqa: E402


def image_grid(images, *, row_labels: Sequence[str] = (), col_labels: Sequence[str] = (),
               title: str = "", cell: float = 1.0) -> Figure:
    """A grid of images ``(rows, cols, H, W, C)`` with C in {1, 3}: traversals, swaps, samples."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 5 or images.shape[-1] not in (1, 3):
        raise ShapeError(f"image_grid needs images of shape (rows, cols, H, W, 1|3); got {images.shape}")
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols + 1.2, cell * rows + 0.4), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            img = np.clip(images[r, c], 0, 1)
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0 and r < len(row_labels):
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
            if r == 0 and c < len(col_labels):
                ax.set_title(col_labels[c], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def effect_heatmap(effect, lower, upper, *, units: Sequence[str], outcomes: Sequence[str],
                   title: str = "Average causal effect (95% CI)") -> Figure:
    """Heatmap of an effect matrix ``(units, outcomes)``; each cell shows the effect and its CI.

    Cells whose CI contains zero are greyed out and marked "~0", so a reader sees at
    a glance which effects are resolved from noise.
    """
    effect, lower, upper = (np.asarray(a, dtype=np.float64) for a in (effect, lower, upper))
    if effect.shape != (len(units), len(outcomes)) or lower.shape != effect.shape or upper.shape != effect.shape:
        raise ShapeError(f"effect, lower and upper must all have shape ({len(units)}, {len(outcomes)}); "
                         f"got {effect.shape}, {lower.shape}, {upper.shape}")
    significant = (lower > 0) | (upper < 0)
    scale = np.abs(effect).max(axis=0, keepdims=True)  # each outcome has its own units
    shown = np.where(significant, effect / np.where(scale > 0, scale, 1), np.nan)
    fig, ax = plt.subplots(figsize=(1.3 * len(outcomes) + 2.2, 0.6 * len(units) + 1.6))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#eeeeee")
    im = ax.imshow(shown, cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    for i in range(len(units)):
        for j in range(len(outcomes)):
            text = f"{effect[i, j]:.2g}\n[{lower[i, j]:.2g}, {upper[i, j]:.2g}]" if significant[i, j] else "~0"
            dark = significant[i, j] and abs(shown[i, j]) > 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
    ax.set_xticks(range(len(outcomes)), outcomes, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(units)), units, fontsize=8)
    ax.set_xlabel("outcome")
    ax.set_ylabel("intervened unit")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="effect / max |effect| of outcome", shrink=0.8)
    fig.tight_layout()
    return fig


def influence_maps(maps, *, names: Sequence[str], title: str = "Influence maps (mean |Δ pixel|)") -> Figure:
    """Per-pixel effect magnitude ``(units, H, W)`` of each intervened unit or channel group."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] != len(names):
        raise ShapeError(f"influence_maps needs maps of shape ({len(names)}, H, W); got {maps.shape}")
    n = maps.shape[0]
    cols = min(n, 5)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows), squeeze=False)
    vmax = float(maps.max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            ax.imshow(maps[k], cmap="magma", vmin=0, vmax=vmax)
            ax.set_title(names[k], fontsize=8)
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def loss_curves(history: Mapping[str, Sequence[float]], *, steps: Sequence[int] | None = None,
                title: str = "Training curves") -> Figure:
    """One panel per logged metric, against the training step."""
    names = [k for k, v in history.items() if len(v)]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 2.6), squeeze=False)
    for ax, name in zip(axes.flat, names):
        y = np.asarray(history[name], dtype=np.float64)
        x = np.arange(len(y)) if steps is None else np.asarray(steps)[: len(y)]
        ax.plot(x, y, lw=1.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
