"""Any SCM as an image dataset: each variable a dot on its own row, its value the dot's horizontal position.

``Dots(scm)`` turns a declared :class:`~genstyle_causal.structural.SCM` into a
:class:`~genstyle_causal.data.scene.Scene` with no rendering code to write,
so a new causal structure can be audited in a few lines. The readout takes
each row band's ink centroid; a dot whose row neighbour comes close leaks a
little ink into the band (crosstalk of a few hundredths), which is what an
audit's readout floor has to absorb.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..structural import SCM
from .scene import Scene

MARGIN = 0.1


@dataclasses.dataclass(frozen=True)
class Dots(Scene):
    """The scene of ``model`` drawn as one dot per variable, ``size`` × ``size`` pixels (RGB, black on white)."""

    model: SCM
    size: int = 32
    label: str = "dots"

    @property
    def name(self) -> str:
        return self.label

    @property
    def scm(self) -> SCM:
        return self.model

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 3)

    def _layout(self):
        c = (jnp.arange(self.size, dtype=jnp.float32) + 0.5) / self.size
        y, x = jnp.meshgrid(c, c, indexing="ij")
        k = self.model.num_variables
        low = np.asarray([v.low for v in self.model.variables], np.float32)
        span = np.asarray([v.high - v.low for v in self.model.variables], np.float32)
        return x, y, (jnp.arange(k, dtype=jnp.float32) + 0.5) / k, 0.5 / k, low, span

    def render_one(self, v: jax.Array) -> jax.Array:
        x, y, rows, _, low, span = self._layout()
        cx = MARGIN + (1 - 2 * MARGIN) * (v - low) / span
        dist = jnp.hypot(x - cx[:, None, None], y - rows[:, None, None])
        radius = min(0.11, 0.55 / self.model.num_variables)  # a little over half a row: neighbours touch each band
        ink = jnp.max(jnp.clip((radius - dist) * self.size + 0.5, 0.0, 1.0), axis=0)
        return jnp.repeat((1.0 - ink)[..., None], 3, axis=-1)

    def measure(self, images: jax.Array) -> jax.Array:
        """Each variable from the ink centroid of its row band."""
        x, y, rows, half, low, span = self._layout()
        band = (jnp.abs(y[None] - rows[:, None, None]) < half).astype(jnp.float32)  # (k, H, W)
        w = (1.0 - images[..., 0])[:, None] * band[None]
        cx = (w * x).sum(axis=(2, 3)) / jnp.maximum(w.sum(axis=(2, 3)), 1e-6)
        return low + span * (cx - MARGIN) / (1 - 2 * MARGIN)
