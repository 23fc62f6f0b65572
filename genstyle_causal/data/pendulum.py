"""The pendulum scene of CausalVAE (Yang et al. 2021), with its structural causal model.

Causes: the pendulum angle θ and the light angle φ (grids θ = iπ/200, i ∈ [−40, 43];
φ = jπ/200, j ∈ [60, 147]). Effects: the shadow the rod casts on the ground line
y = −0.5. The pivot is at (10, 10.5), the bob (radius 1.5) at pivot + 8·(sin θ, −cos θ),
the rod tip at pivot + 9.5·(sin θ, −cos θ). Pivot and tip are projected along the light
direction onto the ground: ``x_s = x − (y + 0.5) / tan φ``; shadow position is the mean
of the two projections, shadow length ``max(3, |difference|)``.

The scene is a :class:`~genstyle_causal.data.scene.Scene`: its SCM gives the
true DAG (pendulum_angle → shadow_position, pendulum_angle → shadow_length,
light_angle → shadow_position, light_angle → shadow_length; a depth-1 graph,
so direct and total effects coincide). Each element has its own colour and
region, so :meth:`Pendulum.measure` reads all four variables back from an
image analytically.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..structural import SCM, Choice, Normal, Variable
from ._raster import box_coverage, disc_coverage, paint, segment_coverage, weighted_centroid
from .scene import Scene

PIVOT = (10.0, 10.5)
BOB_DISTANCE, BOB_RADIUS, ROD_LENGTH = 8.0, 1.5, 9.5
LIGHT_DISTANCE, LIGHT_RADIUS = 9.0, 1.2
GROUND_Y, MIN_SHADOW = -0.5, 3.0
#: World window drawn into the image: x in [X0, X0 + SPAN], y in [Y0, Y0 + SPAN].
X0, Y0, SPAN = -2.0, -2.5, 24.0
BACKGROUND = (0.95, 0.95, 0.95)
ROD, BOB, LIGHT, SHADOW = (0.1, 0.1, 0.1), (0.85, 0.1, 0.1), (1.0, 0.8, 0.2), (0.45, 0.45, 0.45)

CAUSES = ("pendulum_angle", "light_angle")
EFFECTS = ("shadow_position", "shadow_length")


def shadow(theta, phi):
    """Shadow ``(position, length)`` cast by the rod at angle ``theta`` under light at ``phi`` (radians)."""
    px, py = PIVOT
    tx, ty = px + ROD_LENGTH * jnp.sin(theta), py - ROD_LENGTH * jnp.cos(theta)
    tan = jnp.tan(phi)
    a = px - (py - GROUND_Y) / tan
    b = tx - (ty - GROUND_Y) / tan
    return (a + b) / 2, jnp.maximum(MIN_SHADOW, jnp.abs(a - b))


@functools.cache
def _effect_ranges():
    """``(position range, length range)`` of the shadow over the angle grids, one unit of margin (computed on first use)."""
    th, ph = np.meshgrid(np.arange(-40, 44) * math.pi / 200, np.arange(60, 148) * math.pi / 200)
    pos, length = (np.asarray(a) for a in shadow(th, ph))
    return (math.floor(pos.min()) - 1.0, math.ceil(pos.max()) + 1.0), (MIN_SHADOW, math.ceil(length.max()) + 1.0)


def _shadow_position(parents):
    return shadow(parents["pendulum_angle"], parents["light_angle"])[0]


def _shadow_length(parents):
    return shadow(parents["pendulum_angle"], parents["light_angle"])[1]


@dataclasses.dataclass(frozen=True)
class Pendulum(Scene):
    """RGB pendulum scene; ``noise_std`` adds exogenous noise to both effects."""

    size: int = 64
    noise_std: float = 0.0

    @property
    def name(self) -> str:
        return "pendulum"

    @property
    def scm(self) -> SCM:
        """Causes: the two angles (grids); effects: the shadow's position and length, plus ``Normal(noise_std)``."""
        noise = Normal(self.noise_std)
        position, length = _effect_ranges()
        return SCM((
            Variable("pendulum_angle", -40 * math.pi / 200, 43 * math.pi / 200,
                     noise=Choice(tuple(i * math.pi / 200 for i in range(-40, 44)))),
            Variable("light_angle", 60 * math.pi / 200, 147 * math.pi / 200,
                     noise=Choice(tuple(j * math.pi / 200 for j in range(60, 148)))),
            Variable("shadow_position", *self._widened(position), parents=CAUSES, mechanism=_shadow_position, noise=noise),
            Variable("shadow_length", *self._widened(length), parents=CAUSES, mechanism=_shadow_length, noise=noise),
        ))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 3)

    def _widened(self, span: tuple[float, float]) -> tuple[float, float]:
        """An effect's range plus 6 noise standard deviations each side (exceeded with probability ~1e-9)."""
        return (span[0] - 6 * self.noise_std, span[1] + 6 * self.noise_std)

    # -- rendering and measurement -------------------------------------------------
    def _world_grid(self):
        px = SPAN / self.size
        c = jnp.arange(self.size, dtype=jnp.float32) + 0.5
        y, x = jnp.meshgrid(Y0 + SPAN - c * px, X0 + c * px, indexing="ij")
        return x, y, px

    def render_one(self, f: jax.Array) -> jax.Array:
        x, y, px = self._world_grid()
        theta, phi, pos, length = f[0], f[1], f[2], f[3]
        sx, sy = jnp.sin(theta), -jnp.cos(theta)
        bob = (PIVOT[0] + BOB_DISTANCE * sx, PIVOT[1] + BOB_DISTANCE * sy)
        light = (PIVOT[0] + LIGHT_DISTANCE * jnp.cos(phi), PIVOT[1] + LIGHT_DISTANCE * jnp.sin(phi))
        layers = [
            (segment_coverage(x, y, PIVOT, bob, 0.45, px), ROD),
            (disc_coverage(x, y, *bob, BOB_RADIUS, px), BOB),
            (disc_coverage(x, y, *light, LIGHT_RADIUS, px), LIGHT),
            (box_coverage(x, y, pos - length / 2, pos + length / 2, GROUND_Y - 0.5, GROUND_Y + 0.5, px), SHADOW),
        ]
        return paint(BACKGROUND, layers)

    def measure(self, images: jax.Array) -> jax.Array:
        """Read ``(θ, φ, shadow_position, shadow_length)`` back from images ``(n, H, W, 3)``.

        Pure and vmapped: bob and light centroids give the two angles, the shadow
        band's coverage gives position (centroid) and length (area / band height).
        Exact up to anti-aliasing (≈ 1e-2 rad, ≈ 0.05 units at 64 px).
        """
        x, y, px = self._world_grid()
        below_pivot, above_pivot = (y < PIVOT[1]), (y > PIVOT[1] + 4.0)
        band = y < GROUND_Y + 1.0

        def one(img):
            bob_w = jnp.where(below_pivot & ~band, jnp.clip(img[..., 0] - img[..., 1], 0) / (BOB[0] - BOB[1]), 0)
            light_w = jnp.where(above_pivot, jnp.clip(BACKGROUND[2] - img[..., 2], 0) / (BACKGROUND[2] - LIGHT[2]), 0)
            shadow_w = jnp.where(band, jnp.clip(BACKGROUND[1] - img[..., 1], 0) / (BACKGROUND[1] - SHADOW[1]), 0)
            bx, by = weighted_centroid(bob_w, x, y)
            lx, ly = weighted_centroid(light_w, x, y)
            sx, _ = weighted_centroid(shadow_w, x, y)
            theta = jnp.arctan2(bx - PIVOT[0], PIVOT[1] - by)
            phi = jnp.arctan2(ly - PIVOT[1], lx - PIVOT[0])
            return jnp.stack([theta, phi, sx, shadow_w.sum() * px * px])  # area / band height (1 unit)

        return jax.vmap(one)(images)

