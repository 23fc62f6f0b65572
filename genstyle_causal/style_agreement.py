"""Style and content swaps through an AdaIN model (or the oracle), scored against the true styleshapes factors.

For pairs (sample A, donor B) of styleshapes renders, ``SwapStyle("features", B)``
decodes A's content with B's feature statistics (AdaIN) and ``SwapContent`` the
reverse. A reader (the factor probe, or the analytic readouts) turns every output
into factor classes, which are compared with the *true* classes of A and B:

* **agreement**: the share of outputs that read as expected — the donor's class
  for the swapped part (style factors under ``SwapStyle``), the sample's own class
  for the kept part;
* **sample silhouette**: the share of outputs whose foreground overlaps the
  sample's true silhouette more than the donor's — whether the content follows
  the sample even where the exact grid cell of a blurred decode is off by one;
* **effect**: on the pairs whose classes differ, the share reading the donor's
  class under the swap minus that share for the unswapped output (the decoder's
  reconstruction of A), with a percentile-bootstrap CI: the swap's causal effect
  on "the factor takes the donor's value", net of reader errors that happen to hit
  the donor's class.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .causal import SwapContent, SwapStyle, bootstrap_mean, intervene
from .data import StyleShapes
from .data.styleshapes import foreground_mask
from .generator import Generator
from .models.style.adain import AdaIN, adain_generator

SWAPS = {"SwapStyle": SwapStyle, "SwapContent": SwapContent}


def analytic_style_classes(data: StyleShapes) -> tuple[tuple[str, ...], Callable[[jax.Array], jax.Array]]:
    """``(factor names, images -> classes)`` for hue and background from the analytic readout (no learning).

    Hue: the direction of the mean foreground colour, nearest grid hue on the
    circle; background: the mean grey of the background pixels, nearest grid level.
    Both are exact on styleshapes renders.
    """
    read = data.readout()
    hue, background = (np.asarray(data.factors[data.factor_index(n)].values, np.float32) for n in ("hue", "background"))
    names = read.names

    def classes(images: jax.Array) -> jax.Array:
        r = read(images)
        turn = jnp.mod(jnp.arctan2(r[:, names.index("hue_sin")], r[:, names.index("hue_cos")]) / (2 * jnp.pi), 1.0)
        circular = jnp.abs(turn[:, None] - hue[None])
        h = jnp.argmin(jnp.minimum(circular, 1.0 - circular), axis=1)
        b = jnp.argmin(jnp.abs(r[:, names.index("background"), None] - background[None]), axis=1)
        return jnp.stack([h, b], axis=1).astype(jnp.int32)

    return ("hue", "background"), classes


def analytic_content_classes(data: StyleShapes) -> tuple[tuple[str, ...], Callable[[jax.Array], jax.Array]]:
    """``(factor names, images -> classes)`` for shape, scale, posX and posY, read with no learning.

    Each image's foreground mask (the pixels that are not grey) is matched to the true silhouette of every
    content class (all shape × scale × position combinations) and read as the class of highest IoU. Exact on
    styleshapes renders; on a decoded image it asks for the exact grid cell, so a silhouette shifted by one
    position step reads as the neighbouring class.
    """
    names = ("shape", "scale", "posX", "posY")
    cols = [data.factor_index(n) for n in names]
    grids = [np.asarray(data.factors[c].values, np.float32) for c in cols]
    combos = np.stack(np.meshgrid(*[np.arange(len(g)) for g in grids], indexing="ij"), -1).reshape(-1, len(cols))
    factors = np.zeros((len(combos), len(data.factors)), np.float32)
    for j, c in enumerate(cols):
        factors[:, c] = grids[j][combos[:, j]]
    templates = jax.vmap(data.silhouette)(jnp.asarray(factors)).reshape(len(combos), -1).astype(jnp.float32)

    def classes(images: jax.Array) -> jax.Array:
        mask = foreground_mask(images).reshape(images.shape[0], -1).astype(jnp.float32)
        inter = mask @ templates.T
        union = mask.sum(axis=1, keepdims=True) + templates.sum(axis=1)[None] - inter
        return jnp.asarray(combos, jnp.int32)[jnp.argmax(inter / jnp.maximum(union, 1.0), axis=1)]

    return names, classes


def analytic_classes(data: StyleShapes) -> tuple[tuple[str, ...], Callable[[jax.Array], jax.Array]]:
    """Content (:func:`analytic_content_classes`) then style (:func:`analytic_style_classes`) classes."""
    (content, read_content), (style, read_style) = analytic_content_classes(data), analytic_style_classes(data)
    return content + style, lambda images: jnp.concatenate([read_content(images), read_style(images)], axis=1)


def _silhouette_follows(data: StyleShapes, outputs: jax.Array, fa: jax.Array, fb: jax.Array) -> np.ndarray:
    """Per output stack ``(k, n, ...)``: the share of outputs whose foreground overlaps (IoU) the sample's true
    silhouette more than the donor's, on the pairs whose silhouettes differ."""
    sa, sb = (jax.vmap(data.silhouette)(f).reshape(len(f), -1) for f in (fa, fb))
    differ = np.asarray(jnp.any(sa != sb, axis=1))

    def iou(mask, s):
        return (mask & s).sum(axis=1) / jnp.maximum((mask | s).sum(axis=1), 1)

    shares = []
    for x in outputs:
        mask = foreground_mask(x).reshape(x.shape[0], -1)
        shares.append(np.mean(np.asarray(iou(mask, sa) > iou(mask, sb))[differ]))
    return np.asarray(shares)


@dataclasses.dataclass(frozen=True)
class SwapScores:
    """Agreement shares and effects ``(interventions, factors)`` of style/content swaps (see the module docstring)."""

    interventions: tuple[str, ...]
    factors: tuple[str, ...]
    roles: tuple[str, ...]
    agreement: np.ndarray
    effect: np.ndarray
    low: np.ndarray
    high: np.ndarray
    chance: np.ndarray  # (factors,) 1 / number of classes
    reader_accuracy: np.ndarray  # (factors,) the reader on the real sample images
    pairs: int
    level: float
    # share of outputs whose silhouette follows the sample (IoU with its true silhouette above the donor's):
    # (unswapped, *interventions); expected high for the unswapped output and SwapStyle, low for SwapContent
    sample_silhouette: np.ndarray

    def expected(self, intervention: str, factor: str) -> str:
        """Whose class the factor should read under the intervention: ``"donor"`` or ``"sample"``."""
        swapped = "style" if intervention == "SwapStyle" else "content"
        return "donor" if self.roles[self.factors.index(factor)] == swapped else "sample"

    def rows(self) -> list[dict]:
        """One row per intervention × factor, for tables."""
        out = []
        for i, iv in enumerate(self.interventions):
            for j, f in enumerate(self.factors):
                out.append({"intervention": iv, "factor": f, "role": self.roles[j], "reads as": self.expected(iv, f),
                            "agreement": float(self.agreement[i, j]), "effect": float(self.effect[i, j]),
                            "low": float(self.low[i, j]), "high": float(self.high[i, j]),
                            "chance": float(self.chance[j]), "reader on real": float(self.reader_accuracy[j])})
        return out


@functools.partial(jax.jit, static_argnames="layer")
def _swapped(generator, z, donor, layer):
    """Outputs ``(3, n, H, W, 3)``: unswapped, SwapStyle and SwapContent at ``layer``."""
    return jnp.stack([intervene(generator, z, None)] + [intervene(generator, z, cls(layer, donor))
                                                          for cls in SWAPS.values()])


def swap_scores(model: AdaIN | Generator, data: StyleShapes, read_classes: Callable[[jax.Array], jax.Array], *,
                key: jax.Array, factors: tuple[str, ...] | None = None, n: int = 256, num_bootstrap: int = 1000,
                level: float = 0.95) -> SwapScores:
    """Score ``SwapStyle``/``SwapContent`` against the true factors.

    ``model``: an :class:`AdaIN` model (swapped at the encoder's ``features`` through
    :func:`adain_generator`) or ``data``'s oracle (swapped at ``latent``: the known answer,
    every factor reads as expected). ``read_classes``: images -> factor classes
    ``(n, len(factors))`` (e.g. ``probe.predict_classes`` for all factors, or
    :func:`analytic_style_classes`); ``factors`` names its columns (default: all of ``data``'s).
    """
    factors = tuple(data.factor_names) if factors is None else tuple(factors)
    cols = [data.factor_index(f) for f in factors]
    k_a, k_b, k_boot = jax.random.split(key, 3)
    (fa, a), (fb, b) = data.sample(k_a, n), data.sample(k_b, n)
    if isinstance(model, AdaIN):
        generator, layer, za, zb = adain_generator(model, data.image_shape, data=data), "features", a, b
    else:
        generator, layer, za, zb = model, "latent", fa, fb
    outputs = _swapped(generator, za.reshape(n, -1), zb.reshape(n, -1), layer)
    read = np.stack([np.asarray(read_classes(x)) for x in outputs])  # (3, n, k)
    ca, cb = data.factor_classes(fa)[:, cols], data.factor_classes(fb)[:, cols]
    roles = tuple(data.factors[c].role for c in cols)
    names = tuple(SWAPS)
    agreement = np.zeros((len(names), len(factors)))
    for i, iv in enumerate(names):
        swapped = "style" if iv == "SwapStyle" else "content"
        target = np.where(np.asarray(roles) == swapped, cb, ca)
        agreement[i] = np.mean(read[i + 1] == target, axis=0)
    # paired effect on "reads the donor's class", on the pairs whose classes differ (others carry no information)
    donor_hits = (read == cb[None]).astype(np.float32)
    est, low, high = (np.zeros((len(names), len(factors))) for _ in range(3))
    for j, k in enumerate(jax.random.split(k_boot, len(factors))):
        differ = ca[:, j] != cb[:, j]
        diffs = donor_hits[1:, differ, j] - donor_hits[:1, differ, j]  # (swaps, pairs that differ)
        e = bootstrap_mean(jnp.asarray(diffs)[..., None], k, num_bootstrap=num_bootstrap, level=level)
        est[:, j], low[:, j], high[:, j] = (np.asarray(v)[:, 0] for v in (e.estimate, e.low, e.high))
    chance = np.asarray([1.0 / len(data.factors[c].values) for c in cols])
    accuracy = np.mean(np.asarray(read_classes(a)) == ca, axis=0)
    follows = _silhouette_follows(data, outputs, fa, fb)
    return SwapScores(names, factors, roles, agreement, est, low, high, chance, accuracy, n, level, follows)
