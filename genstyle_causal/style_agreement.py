"""Style and content swaps through the AdaIN generator, scored against the true styleshapes factors.

For pairs (sample A, donor B) of styleshapes renders, ``SwapStyle("features", B)``
decodes A's content with B's feature statistics (AdaIN) and ``SwapContent`` the
reverse. A reader (the factor probe, or the analytic readouts) turns every output
into factor classes, which are compared with the *true* classes of A and B:

* **agreement**: the share of outputs that read as expected — the donor's class
  for the swapped part (style factors under ``SwapStyle``), the sample's own class
  for the kept part;
* **effect**: on the pairs whose classes differ, the share reading the donor's
  class under the swap minus that share for the unswapped output (the decoder's
  reconstruction of A), with a percentile-bootstrap CI: the swap's causal effect
  on "the factor takes the donor's value", net of reader errors that happen to hit
  the donor's class.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .causal import SwapContent, SwapStyle, bootstrap_mean, intervene, readout
from .data import StyleShapes
from .models.style.adain import AdaIN, adain_generator

SWAPS = {"SwapStyle": SwapStyle, "SwapContent": SwapContent}


def analytic_style_classes(data: StyleShapes) -> tuple[tuple[str, ...], Callable[[jax.Array], jax.Array]]:
    """``(factor names, images -> classes)`` for hue and background from the analytic readout (no learning).

    Hue: the direction of the mean foreground colour, nearest grid hue on the
    circle; background: the mean grey of the background pixels, nearest grid level.
    Both are exact on styleshapes renders.
    """
    read = readout(data)
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


@jax.jit
def _swapped(generator, z, donor):
    """Outputs ``(3, n, H, W, 3)``: unswapped (reconstruction), SwapStyle, SwapContent at the encoder's features."""
    return jnp.stack([intervene(generator, z, None)] + [intervene(generator, z, cls("features", donor))
                                                          for cls in SWAPS.values()])


def swap_scores(model: AdaIN, data: StyleShapes, read_classes: Callable[[jax.Array], jax.Array], *,
                key: jax.Array, factors: tuple[str, ...] | None = None, n: int = 256, num_bootstrap: int = 1000,
                level: float = 0.95) -> SwapScores:
    """Score ``SwapStyle``/``SwapContent`` through :func:`adain_generator` against the true factors.

    ``read_classes``: images -> factor classes ``(n, len(factors))`` (e.g.
    ``probe.predict_classes`` for all factors, or :func:`analytic_style_classes`);
    ``factors`` names its columns (default: all of ``data``'s factors).
    """
    factors = tuple(data.factor_names) if factors is None else tuple(factors)
    cols = [data.factor_index(f) for f in factors]
    k_a, k_b, k_boot = jax.random.split(key, 3)
    (fa, a), (fb, b) = data.sample(k_a, n), data.sample(k_b, n)
    generator = adain_generator(model, data.image_shape, data=data)
    outputs = _swapped(generator, a.reshape(n, -1), b.reshape(n, -1))
    read = np.stack([np.asarray(read_classes(x)) for x in outputs])  # (3, n, k)
    ca, cb = data.factor_classes(fa)[:, cols], data.factor_classes(fb)[:, cols]
    roles = tuple(data.factors[c].role for c in cols)
    names = tuple(SWAPS)
    agreement = np.zeros((len(names), len(factors)))
    for i, iv in enumerate(names):
        swapped = "style" if iv == "SwapStyle" else "content"
        target = np.where(np.asarray(roles) == swapped, cb, ca)
        agreement[i] = np.mean(read[i + 1] == target, axis=0)
    # paired effect on "reads the donor's class", over pairs whose classes differ (others carry no information)
    differ = (ca != cb).astype(np.float32)
    donor_hits = (read == cb[None]).astype(np.float32)
    diffs = (donor_hits[1:] - donor_hits[:1]) * differ[None] * (n / np.maximum(differ.sum(0), 1.0))
    effect = bootstrap_mean(jnp.asarray(diffs), k_boot, num_bootstrap=num_bootstrap, level=level)
    chance = np.asarray([1.0 / len(data.factors[c].values) for c in cols])
    accuracy = np.mean(np.asarray(read_classes(a)) == ca, axis=0)
    return SwapScores(names, factors, roles, agreement, np.asarray(effect.estimate), np.asarray(effect.low),
                      np.asarray(effect.high), chance, accuracy, n, level)
