"""The sprinkler scene (after Pearl's classic network): a depth-3 causal graph with a fork, a collider and a bell curve.

Five variables, each in [0, 1] but for its noise:

- ``season`` (root): the sun's position along the top of the sky;
- ``rain = 0.1 + 0.8 exp(-((season - 0.5) / 0.2)²)`` + noise: the height of a
  blue rain gauge at the left — non-monotone, rain peaks mid-season;
- ``sprinkler = 0.15 + 0.7 season`` + noise: the height of a cyan gauge at
  the right;
- ``wet = 0.1 + 0.4 rain + 0.4 sprinkler`` + noise: the width of the puddle on
  the ground — a collider of rain and sprinkler;
- ``slippery = 0.1 + 0.8 wet²`` + noise: the length of a red warning bar.

Fork: season → rain, season → sprinkler; collider: rain → wet ← sprinkler;
chain of length 3: season → rain → wet → slippery. So the direct-effect graph
(the DAG, 5 edges) and the total-effect graph (its transitive closure, 9
edges) differ, and a two-level contrast at symmetric do-values would miss
season → rain. Noise is uniform on ±0.03, so every variable stays in range.
Each element has its own colour and region, and :meth:`Sprinkler.measure`
reads every variable back analytically (exact up to anti-aliasing).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..structural import SCM, Uniform, Variable
from ._raster import box_coverage, disc_coverage, paint, weighted_centroid
from .scene import Scene

NOISE = Uniform(-0.03, 0.03)
BACKGROUND = (0.96, 0.96, 0.92)
SUN, RAIN, SPRINKLER, PUDDLE, WARNING = (1.0, 0.75, 0.1), (0.1, 0.2, 0.8), (0.1, 0.75, 0.8), (0.2, 0.3, 0.45), (0.85, 0.1, 0.1)
#: Geometry in image fractions (y downwards): gauges stand on GAUGE_BASE and reach GAUGE_SPAN at value 1.
SUN_Y, SUN_RADIUS, SUN_X0, SUN_SPAN = 0.12, 0.07, 0.2, 0.6
GAUGE_BASE, GAUGE_SPAN, GAUGE_HALF = 0.78, 0.5, 0.04
RAIN_X, SPRINKLER_X = 0.08, 0.92
PUDDLE_Y, PUDDLE_HALF_HEIGHT, PUDDLE_SPAN = 0.9, 0.04, 0.6
WARNING_Y, WARNING_HALF_HEIGHT, WARNING_X0, WARNING_SPAN = 0.45, 0.04, 0.2, 0.6


def _rain(p):
    return 0.1 + 0.8 * jnp.exp(-(((p["season"] - 0.5) / 0.2) ** 2))


def _sprinkler(p):
    return 0.15 + 0.7 * p["season"]


def _wet(p):
    return 0.1 + 0.4 * p["rain"] + 0.4 * p["sprinkler"]


def _slippery(p):
    return 0.1 + 0.8 * p["wet"] ** 2


SPRINKLER_SCM = SCM((
    Variable("season", 0.0, 1.0),
    Variable("rain", 0.0, 1.0, parents=("season",), mechanism=_rain, noise=NOISE),
    Variable("sprinkler", 0.0, 1.0, parents=("season",), mechanism=_sprinkler, noise=NOISE),
    Variable("wet", 0.0, 1.0, parents=("rain", "sprinkler"), mechanism=_wet, noise=NOISE),
    Variable("slippery", 0.0, 1.0, parents=("wet",), mechanism=_slippery, noise=NOISE),
))


@dataclasses.dataclass(frozen=True)
class Sprinkler(Scene):
    """RGB sprinkler scene (see the module docstring); ``size`` is the image side in pixels."""

    size: int = 64

    @property
    def name(self) -> str:
        return "sprinkler"

    @property
    def scm(self) -> SCM:
        return SPRINKLER_SCM

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 3)

    def _grid(self):
        c = (jnp.arange(self.size, dtype=jnp.float32) + 0.5) / self.size
        y, x = jnp.meshgrid(c, c, indexing="ij")
        return x, y, 1.0 / self.size

    def _regions(self, x, y):
        sky = y < SUN_Y + SUN_RADIUS + 0.05
        rain = (x < RAIN_X + 2 * GAUGE_HALF) & ~sky & (y < GAUGE_BASE + 0.01)
        sprinkler = (x > SPRINKLER_X - 2 * GAUGE_HALF) & ~sky & (y < GAUGE_BASE + 0.01)
        puddle = y > GAUGE_BASE + 0.03
        warning = ~sky & ~rain & ~sprinkler & ~puddle
        return sky, rain, sprinkler, puddle, warning

    def render_one(self, v: jax.Array) -> jax.Array:
        x, y, px = self._grid()
        season, rain, sprinkler, wet, slippery = v[0], v[1], v[2], v[3], v[4]
        top = lambda h: GAUGE_BASE - GAUGE_SPAN * h  # noqa: E731
        return paint(BACKGROUND, [
            (disc_coverage(x, y, SUN_X0 + SUN_SPAN * season, SUN_Y, SUN_RADIUS, px), SUN),
            (box_coverage(x, y, RAIN_X - GAUGE_HALF, RAIN_X + GAUGE_HALF, top(rain), GAUGE_BASE, px), RAIN),
            (box_coverage(x, y, SPRINKLER_X - GAUGE_HALF, SPRINKLER_X + GAUGE_HALF, top(sprinkler), GAUGE_BASE, px), SPRINKLER),
            (box_coverage(x, y, 0.5 - PUDDLE_SPAN * wet / 2, 0.5 + PUDDLE_SPAN * wet / 2,
                          PUDDLE_Y - PUDDLE_HALF_HEIGHT, PUDDLE_Y + PUDDLE_HALF_HEIGHT, px), PUDDLE),
            (box_coverage(x, y, WARNING_X0, WARNING_X0 + WARNING_SPAN * slippery,
                          WARNING_Y - WARNING_HALF_HEIGHT, WARNING_Y + WARNING_HALF_HEIGHT, px), WARNING),
        ])

    def measure(self, images: jax.Array) -> jax.Array:
        """``(season, rain, sprinkler, wet, slippery)`` from images: the sun's centroid and each bar's covered area."""
        x, y, px = self._grid()
        regions = self._regions(x, y)
        bg = jnp.asarray(BACKGROUND, jnp.float32)

        def coverage(img, region, colour):
            """Per-pixel coverage of a colour over the background, on the channel where they differ most."""
            c = int(np.argmax(np.abs(np.subtract(colour, BACKGROUND))))
            return jnp.where(region, jnp.clip((img[..., c] - bg[c]) / (colour[c] - bg[c]), 0.0, 1.0), 0.0)

        def one(img):
            sky, rain, sprinkler, puddle, warning = regions
            sun_x, _ = weighted_centroid(coverage(img, sky, SUN), x, y)
            area = lambda region, colour: coverage(img, region, colour).sum() * px * px  # noqa: E731
            return jnp.stack([
                (sun_x - SUN_X0) / SUN_SPAN,
                area(rain, RAIN) / (2 * GAUGE_HALF * GAUGE_SPAN),
                area(sprinkler, SPRINKLER) / (2 * GAUGE_HALF * GAUGE_SPAN),
                area(puddle, PUDDLE) / (2 * PUDDLE_HALF_HEIGHT * PUDDLE_SPAN),
                area(warning, WARNING) / (2 * WARNING_HALF_HEIGHT * WARNING_SPAN),
            ])

        return jax.vmap(one)(images)
