"""Matplotlib figures for audits: image grids, effect heatmaps with CIs, unit → factor assignment graphs,
influence maps, loss curves.

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


def effect_heatmap(effect, lower, upper, *, units: Sequence[str], outcomes: Sequence[str], scale=None, floor=None,
                   unreliable: Sequence[str] = (), notes: Mapping[str, str] | None = None,
                   title: str = "Average causal effect") -> Figure:
    """Heatmap of an effect matrix ``(units, outcomes)`` on one colour scale, each cell with its CI.

    With ``scale`` (each outcome's standard deviation) every number is in outcome
    SDs, so outcomes measured in different units share one colour scale; without
    it the raw effects share one. Cells whose CI contains 0 read "n.s." in grey,
    and with ``floor`` (per outcome, its units: e.g. a readout's error floor)
    cells whose CI excludes 0 but not the floor read "< floor"; resolved cells
    fade as their CI widens relative to the estimate, so a wide interval never
    looks as sure as a narrow one. Columns named in ``unreliable``
    (readouts that failed validation) are hatched; ``notes`` adds a line under
    an outcome's label (e.g. its reliability).
    """
    effect, lower, upper = (np.asarray(a, dtype=np.float64) for a in (effect, lower, upper))
    shape = (len(units), len(outcomes))
    if effect.shape != shape or lower.shape != shape or upper.shape != shape:
        raise ShapeError(f"effect, lower and upper must all have shape {shape}; "
                         f"got {effect.shape}, {lower.shape}, {upper.shape}")
    sd = np.ones(len(outcomes)) if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)
    if sd.shape != (len(outcomes),):
        raise ShapeError(f"scale needs one value per outcome ({len(outcomes)}); got shape {sd.shape}")
    sd = np.where(sd > 0, sd, 1.0)
    est, lo, hi = effect / sd, lower / sd, upper / sd
    nonzero = (lo > 0) | (hi < 0)
    bar = np.zeros(len(outcomes)) if floor is None else np.broadcast_to(np.asarray(floor, np.float64), sd.shape) / sd
    resolved = (lo > bar) | (hi < -bar)
    limit = _colour_limit(est[resolved])
    cmap = plt.get_cmap("RdBu_r")
    halfwidth = (hi - lo) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        sureness = np.clip(1.0 - halfwidth / np.abs(est), 0.25, 1.0)
    rgba = np.asarray(cmap(0.5 + 0.5 * np.clip(est / limit, -1, 1)))
    rgba[..., :3] = 1.0 - sureness[..., None] * (1.0 - rgba[..., :3])  # fade towards white
    rgba[~resolved] = (0.95, 0.95, 0.95, 1.0)
    fig, ax = plt.subplots(figsize=(1.45 * len(outcomes) + 2.6, 0.52 * len(units) + 2.2))
    ax.imshow(rgba, aspect="auto")
    for i in range(shape[0]):
        for j in range(shape[1]):
            if resolved[i, j]:
                dark = sureness[i, j] * abs(est[i, j]) / limit > 0.55
                ax.text(j, i, f"{est[i, j]:+.2f}\n[{lo[i, j]:.2f}, {hi[i, j]:.2f}]", ha="center", va="center",
                        fontsize=8, linespacing=1.1, color="white" if dark else "black")
            else:
                ax.text(j, i, "< floor" if nonzero[i, j] else "n.s.", ha="center", va="center", fontsize=8,
                        color="#888888")
    bad = set(unreliable)
    for j, name in enumerate(outcomes):
        if name in bad:
            ax.add_patch(plt.Rectangle((j - 0.5, -0.5), 1, shape[0], fill=False, hatch="//", edgecolor="#cccccc",
                                       linewidth=0))
    notes = dict(notes or {})
    labels = [name + (f"\n{notes[name]}" if name in notes else "") + ("\n(unreliable)" if name in bad else "")
              for name in outcomes]
    ax.set_xticks(range(shape[1]), labels, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(range(shape[0]), units, fontsize=9)
    ax.set_ylabel("intervened unit", fontsize=9)
    ax.set_title(title, fontsize=11, pad=12)
    unit = "outcome standard deviations" if scale is not None else "outcome units"
    colorbar = fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(-limit, limit), cmap), ax=ax, shrink=0.8, pad=0.02)
    colorbar.set_label(f"effect ({unit}); paler = wider CI", fontsize=9)
    colorbar.ax.tick_params(labelsize=8)
    fig.tight_layout()
    return fig


def _colour_limit(values: np.ndarray) -> float:
    """A round, shared colour limit covering the largest resolved effect (1 when there is none)."""
    peak = float(np.abs(values).max()) if values.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return 1.0
    step = 10 ** np.floor(np.log10(peak))
    return float(np.ceil(peak / step * 2) / 2 * step)


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
            im = ax.imshow(maps[k], cmap="magma", vmin=0, vmax=vmax)
            ax.set_title(names[k], fontsize=9)
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    bar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
    bar.set_label("mean |Δ pixel| (intensity, 0–1)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
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


def assignment_edges(effect, resolved, *, units: Sequence[str], factors: Sequence[str], excluded: Sequence[str] = (),
                     min_effect: float = 0.25, per_factor: int = 2) -> list[tuple[str, str, float]]:
    """The edges of :func:`assignment_graph`: ``(unit, factor, effect)``, strongest first per factor.

    A unit is drawn to a factor when the cell is ``resolved`` (CI excludes 0),
    ``|effect| >= min_effect`` (standardised units) and it is among the
    ``per_factor`` strongest such units of that factor; ``excluded`` factors
    (unreliable readouts) get no edges.
    """
    effect, resolved = np.asarray(effect, dtype=np.float64), np.asarray(resolved, dtype=bool)
    if effect.shape != (len(units), len(factors)) or resolved.shape != effect.shape:
        raise ShapeError(f"effect and resolved must have shape ({len(units)}, {len(factors)}); "
                         f"got {effect.shape} and {resolved.shape}")
    edges = []
    for j, factor in enumerate(factors):
        if factor in excluded:
            continue
        strength = np.where(resolved[:, j] & (np.abs(effect[:, j]) >= min_effect), np.abs(effect[:, j]), 0.0)
        for i in np.argsort(-strength, kind="stable")[:per_factor]:
            if strength[i] > 0:
                edges.append((units[i], factor, float(effect[i, j])))
    return edges


def assignment_graph(effect, resolved, *, units: Sequence[str], factors: Sequence[str], excluded: Sequence[str] = (),
                     min_effect: float = 0.25, per_factor: int = 2,
                     title: str = "Which unit controls which factor") -> Figure:
    """Bipartite drawing unit → factor of a standardised effect matrix ``(units, factors)``.

    Units on the left, factors on the right, labels inside their boxes; only the
    edges of :func:`assignment_edges` are drawn (width ∝ |effect|, colour =
    sign, value on the edge), so the picture stays legible at 10 × 5 and reads
    as an assignment. Excluded factors are left out and named in the legend.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    edges = assignment_edges(effect, resolved, units=units, factors=factors, excluded=excluded,
                             min_effect=min_effect, per_factor=per_factor)
    shown = [f for f in factors if f not in excluded]
    rows = max(len(units), len(shown), 1)
    fig, ax = plt.subplots(figsize=(8.0, 0.42 * rows + 1.9))
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.8, rows - 0.2)
    ax.invert_yaxis()
    ax.set_axis_off()

    def ys(n):
        return {k: (rows - 1) / 2 + (k - (n - 1) / 2) for k in range(n)}

    used = {u for u, _, _ in edges}
    unit_y = {u: ys(len(units))[k] for k, u in enumerate(units)}
    factor_y = {f: ys(len(shown))[k] for k, f in enumerate(shown)}
    box = dict(boxstyle="round,pad=0.35", linewidth=1.2)
    for u, y in unit_y.items():
        on = u in used
        ax.text(2.2, y, u, ha="right", va="center", fontsize=9, color="#111111" if on else "#999999",
                bbox=box | {"facecolor": "#dde6f0" if on else "#f5f5f5", "edgecolor": "#335577" if on else "#cccccc"})
    for f, y in factor_y.items():
        ax.text(7.8, y, f, ha="left", va="center", fontsize=9,
                bbox=box | {"facecolor": "#f3e6c8", "edgecolor": "#775522"})
    start, end = _spread(edges, 0, unit_y), _spread(edges, 1, factor_y)
    for k, (u, f, e) in enumerate(edges):
        colour = "#2166ac" if e >= 0 else "#d6604d"
        (x0, y0), (x1, y1) = (2.45, start[k]), (7.55, end[k])
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color=colour,
                                     linewidth=0.8 + 2.2 * min(abs(e), 2.0) / 2.0, alpha=0.85, shrinkA=0, shrinkB=0))
        ax.text(x0 + 0.88 * (x1 - x0), y0 + 0.88 * (y1 - y0), f"{e:+.2f}", fontsize=8, ha="center", va="center",
                color=colour, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    handles = [Line2D([], [], color="#2166ac", lw=0.8 + 2.2 * 0.5, label="+ effect (SD)"),
               Line2D([], [], color="#d6604d", lw=0.8 + 2.2 * 0.5, label="− effect (SD)"),
               Line2D([], [], color="#555555", lw=0.8 + 2.2 * 0.25, label="width: 0.5 SD"),
               Line2D([], [], color="#555555", lw=3.0, label="width: ≥ 2 SD")]
    note = (f"edges: CI excludes 0 and |effect| ≥ {min_effect:g} SD; strongest {per_factor} per factor"
            + (f"\nleft out (unreliable readout): {', '.join(excluded)}" if excluded else "")
            + ("\nno unit passes the threshold" if not edges else ""))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False,
              title=note, title_fontsize=8)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def _spread(edges, end: int, y: dict, gap: float = 0.34) -> list[float]:
    """Vertical position of each edge at one end: edges sharing a node fan out around its centre."""
    counts, seen, out = {}, {}, []
    for e in edges:
        counts[e[end]] = counts.get(e[end], 0) + 1
    for e in edges:
        node = e[end]
        k = seen.get(node, 0)
        seen[node] = k + 1
        out.append(y[node] + (k - (counts[node] - 1) / 2) * gap)
    return out
