"""dSprites, rendered procedurally on the grid of the public data set.

Factors (Matthey et al. 2017): shape 3 (square, ellipse, heart), scale 6
(0.5..1), orientation 40 (0..2π, both ends included as in the public set),
posX 32 and posY 32 (0..1) — 737,280 combinations. Images are 64×64×1 binary
(``size`` can be lowered for fast experiments; the geometry scales with it).
posY grows downwards (image rows).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from ._raster import local_coords, mask_moments, pixel_grid, shape_mask
from .base import Factor, GroundTruthData, Readout, grid

#: Rotational symmetry order of each shape: a square repeats every π/2, an ellipse every π, a heart every 2π.
SYMMETRY = (4, 2, 1)
#: Half side of the square at scale 1, as a fraction of the image (≈ 20 px wide at 64 px).
HALF_SIZE = 0.16


def sprite_centre(pos):
    """Image coordinate (fraction of width) of the sprite centre for a position factor in [0, 1]."""
    return 0.25 + 0.5 * pos


@dataclasses.dataclass(frozen=True)
class DSprites(GroundTruthData):
    """2D shapes on a black background; see the module docstring for the factor grid."""

    size: int = 64

    @property
    def name(self) -> str:
        return "dsprites"

    @property
    def factors(self) -> tuple[Factor, ...]:
        return (
            Factor("shape", (0.0, 1.0, 2.0), kind="categorical", labels=("square", "ellipse", "heart")),
            grid("scale", 0.5, 1.0, 6),
            dataclasses.replace(grid("orientation", 0.0, 2 * math.pi, 40), kind="circular", symmetry=("shape", SYMMETRY)),
            grid("posX", 0.0, 1.0, 32),
            grid("posY", 0.0, 1.0, 32),
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 1)

    def render_one(self, f: jax.Array) -> jax.Array:
        x, y = pixel_grid(self.size)
        u, v = local_coords(x, y, sprite_centre(f[3]), sprite_centre(f[4]), HALF_SIZE * f[1], f[2])
        return shape_mask(f[0], u, v).astype(jnp.float32)[..., None]

    def readout(self) -> Readout:
        """``(size, x, y)``: the square root of the sprite's area fraction and its centroid (no learning)."""
        return Readout(dsprites_readout, ("size", "x", "y"))


def dsprites_readout(images: jax.Array) -> jax.Array:
    """``(size, x, y)`` of dSprites images: square root of the sprite's area fraction and its centroid."""
    area, cx, cy = mask_moments(images[..., 0] > 0.5)
    return jnp.stack([jnp.sqrt(area), cx, cy], axis=1)
