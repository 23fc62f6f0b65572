"""Entangled oracles: a dataset renderer whose latent code is an orthogonal mix of a block of factors.

The generator's first stage ``unmix`` rotates the block back to factor values,
so an intervention on one mixed unit moves every factor of the block: the
effect matrix must be dense in exactly that block and diagonal elsewhere. This
is the negative control of every disentanglement audit.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..data import GroundTruthData
from ..errors import ConfigError
from ..generator import Generator, Stage


@dataclasses.dataclass(frozen=True)
class _Unmix:
    """Stage ``w ↦ f``: ``f_B = c + (w_B - c) Qᵀ`` on the block ``B``, identity elsewhere (hashable, so no recompiles)."""

    block: tuple[int, ...]
    centre: tuple[float, ...]
    rotation: tuple[tuple[float, ...], ...]

    def _apply(self, h: jax.Array, transpose: bool) -> jax.Array:
        q = jnp.asarray(self.rotation, jnp.float32)
        c = jnp.asarray(self.centre, jnp.float32)
        idx = jnp.asarray(self.block, jnp.int32)
        return h.at[:, idx].set(c + (h[:, idx] - c) @ (q.T if transpose else q))

    def __call__(self, params, w: jax.Array) -> jax.Array:
        del params
        return self._apply(w, transpose=True)

    def mix(self, f: jax.Array) -> jax.Array:
        return self._apply(f, transpose=False)


@dataclasses.dataclass(frozen=True)
class _MixedPrior:
    data: GroundTruthData
    unmix: _Unmix

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return self.unmix.mix(self.data.sample_factors(key, n))


def random_rotation(key: jax.Array, k: int) -> np.ndarray:
    """A random ``k × k`` orthogonal matrix with no zero entries (QR of a Gaussian; Mezzadri 2007)."""
    q, r = np.linalg.qr(np.asarray(jax.random.normal(key, (k, k)), np.float64))
    return q * np.sign(np.diag(r))


def mixed_oracle(data: GroundTruthData, block: Sequence[int | str], *, key: jax.Array | None = None, rotation=None) -> Generator:
    """The oracle of ``data`` with the factors in ``block`` orthogonally mixed around their range centres.

    ``rotation`` (a ``k × k`` orthogonal matrix) or ``key`` (a random one) sets the mix.
    """
    idx = tuple(data.factor_index(f) for f in block)
    if len(set(idx)) != len(idx) or len(idx) < 2:
        raise ConfigError(f"a mixed block needs at least two distinct factors; got {list(block)}")
    if rotation is None:
        if key is None:
            raise ConfigError("mixed_oracle needs a rotation matrix or a key to draw one")
        rotation = random_rotation(key, len(idx))
    q = np.asarray(rotation, np.float64)
    if q.shape != (len(idx), len(idx)) or not np.allclose(q @ q.T, np.eye(len(idx)), atol=1e-5):
        raise ConfigError(f"rotation must be an orthogonal {len(idx)}×{len(idx)} matrix; got shape {q.shape}")
    centre = tuple((data.factors[i].low + data.factors[i].high) / 2 for i in idx)
    unmix = _Unmix(idx, centre, tuple(map(tuple, q.tolist())))
    oracle = data.oracle()
    names = list(data.factor_names)
    for j, i in enumerate(idx):
        names[i] = f"mix{j}"
    return Generator(
        [Stage("unmix", unmix), *oracle.stages],
        latent_names=names,
        prior=_MixedPrior(data, unmix),
        name=f"{data.name}-mixed-oracle",
    )
