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
