"""Analytic outcome functions for the procedural datasets: images → measured factors, no learning.

They make the dataset oracles auditable with exact answers before any probe is
trained: the pendulum reads its four variables back (:meth:`Pendulum.measure`);
styleshapes splits into content readouts (silhouette area and centroid, which
style never changes) and style readouts (hue direction and background grey,
which content never changes); dsprites reads size and position.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from ..data import DSprites, GroundTruthData, Pendulum, StyleShapes, foreground_mask
from ..errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Readout:
    """An outcome function with named columns, optional named column groups (e.g. style/content, or the
    columns of one factor) and an optional paired ``diff(y, base)`` (default ``y - base``)."""

    fn: Callable[[jax.Array], jax.Array]
    names: tuple[str, ...]
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
    diff: Callable[[jax.Array, jax.Array], jax.Array] | None = None

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.fn(images)

    def difference(self, y: jax.Array, base: jax.Array) -> jax.Array:
        return y - base if self.diff is None else self.diff(y, base)


def _moments(mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Area fraction and centroid (x, y in [0, 1], y downwards) of masks ``(n, H, W)``."""
    n, h, w = mask.shape
    mask = mask.astype(jnp.float32)
    area = mask.sum(axis=(1, 2))
    ys = (jnp.arange(h, dtype=jnp.float32) + 0.5) / h
    xs = (jnp.arange(w, dtype=jnp.float32) + 0.5) / w
    total = jnp.maximum(area, 1.0)
    cx = (mask.sum(axis=1) * xs).sum(axis=1) / total
    cy = (mask.sum(axis=2) * ys).sum(axis=1) / total
    return area / (h * w), cx, cy


def dsprites_readout(images: jax.Array) -> jax.Array:
    """``(size, x, y)``: square root of the sprite's area fraction and its centroid."""
    area, cx, cy = _moments(images[..., 0] > 0.5)
    return jnp.stack([jnp.sqrt(area), cx, cy], axis=1)


def styleshapes_readout(images: jax.Array) -> jax.Array:
    """``(area, x, y, hue_cos, hue_sin, background)`` of styleshapes images.

    The silhouette (:func:`foreground_mask`) depends on content only. Every
    foreground pixel is ``value × colour(hue)``, so the direction of the mean
    foreground colour in the opponent plane ``(R - (G+B)/2, √3/2 (G - B))``
    depends on hue only, whatever the stroke and texture; the background grey
    is the mean of the other pixels.
    """
    mask = foreground_mask(images)
    area, cx, cy = _moments(mask)
    fg = mask[..., None].astype(jnp.float32)
    mean_fg = (images * fg).sum(axis=(1, 2)) / jnp.maximum(fg.sum(axis=(1, 2)), 1.0)
    a = mean_fg[:, 0] - 0.5 * (mean_fg[:, 1] + mean_fg[:, 2])
    b = (jnp.sqrt(jnp.float32(3.0)) / 2) * (mean_fg[:, 1] - mean_fg[:, 2])
    norm = jnp.maximum(jnp.hypot(a, b), 1e-6)
    bg = 1.0 - fg
    background = (images.mean(axis=-1, keepdims=True) * bg).sum(axis=(1, 2, 3)) / jnp.maximum(bg.sum(axis=(1, 2, 3)), 1.0)
    return jnp.stack([area, cx, cy, a / norm, b / norm, background], axis=1)


def readout(data: GroundTruthData) -> Readout:
    """The analytic readout of a dataset (pendulum, styleshapes or dsprites)."""
    if isinstance(data, Pendulum):
        return Readout(data.measure, data.factor_names)
    if isinstance(data, StyleShapes):
        return Readout(
            styleshapes_readout,
            ("area", "x", "y", "hue_cos", "hue_sin", "background"),
            (("content", (0, 1, 2)), ("style", (3, 4, 5))),
        )
    if isinstance(data, DSprites):
        return Readout(dsprites_readout, ("size", "x", "y"))
    raise ConfigError(f"no analytic readout for dataset {data.name!r}; pass an outcome function or a probe")
