"""Style/content shapes: the *content* of an image (what and where) and its *style*
(colour, line, texture, background) as separately known factors.

Content factors: shape (square, ellipse, heart), scale 4, posX 16, posY 16.
Style factors: hue 8 (fraction of the colour wheel), stroke 4 (outline width
0..3 px at 64 px), texture 4 (0 flat, 1 coarse stripes, 2 fine stripes, 3 checks,
in the shape's own frame so moving the shape does not change its texture) and
background 4 (grey level 0..0.6).

The silhouette depends on content alone, and every foreground pixel is saturated
(HSV saturation 0.85) while the background is grey, so :func:`foreground_mask`
recovers the silhouette from any image: style never changes it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ._raster import local_coords, mask_moments, pixel_grid, shape_mask
from .base import Factor, GroundTruthData, Readout, grid
from .dsprites import HALF_SIZE, sprite_centre

SATURATION = 0.85
STROKE_VALUE = 0.45
TEXTURE_DEPTH = 0.35
TEXTURE_FREQUENCIES = (0.0, 1.5, 3.0, 1.5)  # stripes per sprite unit for textures 0..3


def hsv_to_rgb(h, s, v):
    """HSV in [0, 1] to RGB, elementwise (last axis 3 on output)."""
    i = jnp.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(jnp.int32) % 6
    r = jnp.choose(i, [v, q, p, p, t, v], mode="clip")
    g = jnp.choose(i, [t, v, v, q, p, p], mode="clip")
    b = jnp.choose(i, [p, p, t, v, v, q], mode="clip")
    return jnp.stack([r, g, b], axis=-1)


def foreground_mask(images: jax.Array) -> jax.Array:
    """Silhouette ``(n, H, W)`` of styleshapes images: pixels that are not grey."""
    mx, mn = images.max(axis=-1), images.min(axis=-1)
    return (mx - mn) > 0.3 * jnp.maximum(mx, 1e-6)


def _erode(mask: jax.Array) -> jax.Array:
    """3×3 binary erosion (outside the image counts as background), as separable shifted minima."""
    p = jnp.pad(mask, 1)
    rows = p[:, :-2] & p[:, 1:-1] & p[:, 2:]
    return rows[:-2] & rows[1:-1] & rows[2:]


@dataclasses.dataclass(frozen=True)
class StyleShapes(GroundTruthData):
    """64×64 RGB shapes whose style and content factors are known separately."""

    size: int = 64

    @property
    def name(self) -> str:
        return "styleshapes"

    @property
    def factors(self) -> tuple[Factor, ...]:
        return (
            Factor("shape", (0.0, 1.0, 2.0), "content"),
            grid("scale", 0.6, 1.0, 4),
            grid("posX", 0.0, 1.0, 16),
            grid("posY", 0.0, 1.0, 16),
            grid("hue", 0.0, 7 / 8, 8, "style"),
            grid("stroke", 0.0, 3.0, 4, "style"),
            Factor("texture", (0.0, 1.0, 2.0, 3.0), "style"),
            grid("background", 0.0, 0.6, 4, "style"),
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 3)

    def silhouette(self, f: jax.Array) -> jax.Array:
        """Boolean silhouette ``(H, W)`` from the content factors of one factor vector."""
        x, y = pixel_grid(self.size)
        u, v = local_coords(x, y, sprite_centre(f[2]), sprite_centre(f[3]), HALF_SIZE * f[1], 0.0)
        return shape_mask(f[0], u, v)

    def render_one(self, f: jax.Array) -> jax.Array:
        mask = self.silhouette(f)
        x, y = pixel_grid(self.size)
        u, v = local_coords(x, y, sprite_centre(f[2]), sprite_centre(f[3]), HALF_SIZE * f[1], 0.0)
        # line: an inner outline `stroke` pixels wide (scaled with image size)
        steps = max(1, round(3 * self.size / 64))
        eroded = [mask]
        for _ in range(steps):
            eroded.append(_erode(eroded[-1]))
        width = jnp.clip(jnp.round(f[5] * self.size / 64), 0, steps).astype(jnp.int32)
        outline = mask & ~jnp.stack(eroded)[width]
        # texture: stripes or checks in the sprite frame
        tex = jnp.clip(jnp.round(f[6]), 0, 3).astype(jnp.int32)
        freq = jnp.asarray(TEXTURE_FREQUENCIES)[tex]
        stripes_u = jnp.floor(u * freq + 8.0) % 2
        stripes_v = jnp.floor(v * freq + 8.0) % 2
        pattern = jnp.where(tex == 3, (stripes_u + stripes_v) % 2, stripes_u)
        value = jnp.where(outline, STROKE_VALUE, 1.0 - TEXTURE_DEPTH * pattern)
        colour = value[..., None] * hsv_to_rgb(f[4] % 1.0, SATURATION, 1.0)  # RGB scales linearly with V
        background = jnp.full(mask.shape + (3,), f[7], jnp.float32)
        return jnp.where(mask[..., None], colour, background).astype(jnp.float32)

    def readout(self) -> Readout:
        """Content readouts (area, centroid) that style never moves, style readouts (hue direction, background) that content never moves."""
        return Readout(
            styleshapes_readout,
            ("area", "x", "y", "hue_cos", "hue_sin", "background"),
            (("content", (0, 1, 2)), ("style", (3, 4, 5))),
        )


def styleshapes_readout(images: jax.Array) -> jax.Array:
    """``(area, x, y, hue_cos, hue_sin, background)`` of styleshapes images.

    The silhouette (:func:`foreground_mask`) depends on content only. Every
    foreground pixel is ``value × colour(hue)``, so the direction of the mean
    foreground colour in the opponent plane ``(R - (G+B)/2, √3/2 (G - B))``
    depends on hue only, whatever the stroke and texture; the background grey
    is the mean of the other pixels.
    """
    mask = foreground_mask(images)
    area, cx, cy = mask_moments(mask)
    fg = mask[..., None].astype(jnp.float32)
    mean_fg = (images * fg).sum(axis=(1, 2)) / jnp.maximum(fg.sum(axis=(1, 2)), 1.0)
    a = mean_fg[:, 0] - 0.5 * (mean_fg[:, 1] + mean_fg[:, 2])
    b = (jnp.sqrt(jnp.float32(3.0)) / 2) * (mean_fg[:, 1] - mean_fg[:, 2])
    norm = jnp.maximum(jnp.hypot(a, b), 1e-6)
    bg = 1.0 - fg
    background = (images.mean(axis=-1, keepdims=True) * bg).sum(axis=(1, 2, 3)) / jnp.maximum(bg.sum(axis=(1, 2, 3)), 1.0)
    return jnp.stack([area, cx, cy, a / norm, b / norm, background], axis=1)
