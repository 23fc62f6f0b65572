"""Small pure rasterisation helpers shared by the procedural datasets."""

from __future__ import annotations

import jax.numpy as jnp

SHAPE_NAMES = ("square", "ellipse", "heart")


def pixel_grid(size: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Pixel-centre coordinates ``(x, y)`` in [0, 1], each ``(size, size)``; y grows downwards."""
    c = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size
    y, x = jnp.meshgrid(c, c, indexing="ij")
    return x, y


def local_coords(x, y, cx, cy, half, angle):
    """Coordinates in the sprite's frame: centred, rotated by ``-angle``, unit = ``half``."""
    dx, dy = x - cx, y - cy
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    u = (cos * dx + sin * dy) / half
    v = (-sin * dx + cos * dy) / half
    return u, v


def shape_mask(shape, u, v):
    """Binary mask of shape 0 (square), 1 (ellipse) or 2 (heart) in sprite coordinates.

    A non-integer shape value is rounded to the nearest shape, so interventions
    with arbitrary values still give one of the three shapes.
    """
    square = jnp.maximum(jnp.abs(u), jnp.abs(v)) <= 1.0
    ellipse = u**2 + (v / 0.55) ** 2 <= 1.0
    hx, hy = 1.2 * u, 0.12 - 1.2 * v  # heart curve (x^2 + y^2 - 1)^3 <= x^2 y^3, lobes up
    heart = (hx**2 + hy**2 - 1.0) ** 3 - hx**2 * hy**3 <= 0.0
    idx = jnp.clip(jnp.round(shape), 0, 2).astype(jnp.int32)
    return jnp.stack([square, ellipse, heart])[idx]


def segment_coverage(x, y, p, q, width, px):
    """Anti-aliased coverage of a thick segment p->q (``width`` and ``px`` = pixel size, same units)."""
    d = jnp.stack([q[0] - p[0], q[1] - p[1]])
    t = jnp.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / jnp.maximum(d @ d, 1e-12), 0.0, 1.0)
    dist = jnp.hypot(x - (p[0] + t * d[0]), y - (p[1] + t * d[1]))
    return jnp.clip((width / 2 - dist) / px + 0.5, 0.0, 1.0)


def disc_coverage(x, y, cx, cy, radius, px):
    """Anti-aliased coverage of a disc."""
    return jnp.clip((radius - jnp.hypot(x - cx, y - cy)) / px + 0.5, 0.0, 1.0)


def box_coverage(x, y, x0, x1, y0, y1, px):
    """Anti-aliased coverage of the axis-aligned box ``[x0, x1] × [y0, y1]``."""
    cx = jnp.clip(jnp.minimum(x - x0, x1 - x) / px + 0.5, 0.0, 1.0)
    cy = jnp.clip(jnp.minimum(y - y0, y1 - y) / px + 0.5, 0.0, 1.0)
    return cx * cy


def paint(background, layers):
    """An RGB image ``(H, W, 3)``: ``layers`` of ``(coverage (H, W), colour)`` composited in order over a flat background."""
    cov0 = layers[0][0]
    img = jnp.broadcast_to(jnp.asarray(background, jnp.float32), cov0.shape + (3,))
    for cov, colour in layers:
        img = img + cov[..., None] * (jnp.asarray(colour, jnp.float32) - img)
    return img


def weighted_centroid(w, x, y):
    """Centroid ``(x, y)`` of the weights ``w`` over coordinates ``x``, ``y``."""
    total = jnp.maximum(w.sum(), 1e-6)
    return (w * x).sum() / total, (w * y).sum() / total


def mask_moments(mask):
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
