"""Pure batch functions ``key -> batch`` for :func:`~genstyle_causal.train.fit`."""

from __future__ import annotations

import dataclasses

import jax

from ..data.base import GroundTruthData


@dataclasses.dataclass(frozen=True)
class ImageBatches:
    """``key -> images (batch_size, H, W, C)`` rendered from random factors of ``data``.

    Hashable, so repeated ``fit`` calls with equal batch functions reuse the compiled step.
    """

    data: GroundTruthData
    batch_size: int

    def __call__(self, key: jax.Array) -> jax.Array:
        return self.data.sample(key, self.batch_size)[1]
