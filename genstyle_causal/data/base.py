"""The ground-truth dataset interface shared by every procedural dataset.

A dataset is a frozen (hashable) dataclass that knows its factors of variation and
renders images from factor values with a pure, jit-compiled, vmapped function.
Factor values are float32 arrays of shape ``(n, num_factors)`` in each factor's own
units (the grid values listed in :class:`Factor`); discrete factors take grid
values when sampled, but the renderers accept any value inside the range, which is
what interventions such as ``Do(posX, 0.37)`` need.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Literal, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FactorError, ShapeError
from ..generator import Generator, Stage

Role = Literal["content", "style", "cause", "effect"]
Kind = Literal["ordinal", "categorical", "circular"]


@dataclasses.dataclass(frozen=True)
class Factor:
    """One factor of variation.

    ``values`` is the grid of a discrete factor; a continuous factor lists only
    ``(low, high)`` and sets ``continuous=True``. ``kind`` says how a value is
    compared: ``"ordinal"`` by difference, ``"categorical"`` only by class
    (e.g. dsprites shape), ``"circular"`` by angle modulo the object's rotational
    symmetry; ``symmetry = (factor, orders)`` names the categorical factor whose
    class sets that symmetry order (dsprites orientation: ``("shape", (4, 2, 1))``
    for square, ellipse, heart), so readouts and effects can compare angles honestly.
    ``labels`` names the classes of a categorical factor.
    """

    name: str
    values: tuple[float, ...]
    role: Role = "content"
    continuous: bool = False
    kind: Kind = "ordinal"
    symmetry: tuple[str, tuple[int, ...]] | None = None
    labels: tuple[str, ...] = ()

    @property
    def size(self) -> int | None:
        """Number of grid values, ``None`` for a continuous factor."""
        return None if self.continuous else len(self.values)

    @property
    def low(self) -> float:
        return float(min(self.values))

    @property
    def high(self) -> float:
        return float(max(self.values))


def grid(name: str, low: float, high: float, size: int, role: Role = "content") -> Factor:
    """A discrete factor with ``size`` evenly spaced values from ``low`` to ``high``."""
    return Factor(name, tuple(float(v) for v in np.linspace(low, high, size, dtype=np.float64)), role)


@dataclasses.dataclass(frozen=True)
class Readout:
    """An analytic outcome: images ``(n, H, W, C)`` → named measurements ``(n, m)``, no learning.

    ``groups`` names groups of columns (e.g. style/content); ``truth`` maps
    factor values ``(n, k)`` to what a perfect readout would measure
    ``(n, m)``, when the readout measures known functions of the factors —
    this is what lets an audit measure the readout's own error. ``diff(y, base)``
    is the paired per-sample difference of two readings when plain ``y - base``
    is wrong (e.g. angles modulo a symmetry).
    """

    fn: Callable
    names: tuple[str, ...]
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
    truth: Callable | None = None
    diff: Callable | None = None

    def __call__(self, images):
        return self.fn(images)

    def difference(self, y, base):
        return y - base if self.diff is None else self.diff(y, base)


@dataclasses.dataclass(frozen=True)
class GroundTruthData:
    """Base class: subclasses define ``factors``, ``image_shape`` and either ``render_one`` (a procedural
    renderer) or ``render_batch`` (e.g. a lookup of stored images, :class:`~.arrays.ArrayDataset`).

    A dataset also owns what is known about it: :meth:`readout` (an analytic
    outcome function, if there is one) and :meth:`graph` (the true causal graph
    over its factors, if they are causally linked). Both default to ``None``.
    """

    # -- to be provided by subclasses ---------------------------------------------
    @property
    def factors(self) -> tuple[Factor, ...]:
        raise NotImplementedError

    @property
    def image_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def render_one(self, f: jax.Array) -> jax.Array:
        """Render one image ``(H, W, C)`` in [0, 1] from one factor vector ``(k,)`` (procedural datasets)."""
        raise NotImplementedError

    def render_batch(self, factors: jax.Array) -> jax.Array:
        """Images ``(n, H, W, C)`` for factor vectors ``(n, k)``: pure and jit-able, no checks (see :meth:`render`)."""
        return _render_batch(self, factors)

    # -- knowledge -------------------------------------------------------------------
    def readout(self) -> Readout | None:
        """The analytic readout of this dataset's images (``None``: none; train a probe instead)."""
        return None

    def graph(self):
        """The true causal DAG over the factors (a ``networkx.DiGraph``), ``None`` when not causally linked."""
        return None

    # -- names and sizes ---------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    @property
    def factor_sizes(self) -> tuple[int | None, ...]:
        return tuple(f.size for f in self.factors)

    @property
    def num_factors(self) -> int:
        return len(self.factors)

    @property
    def num_combinations(self) -> int | None:
        """Size of the full factor grid, ``None`` if any factor is continuous."""
        sizes = self.factor_sizes
        return None if None in sizes else int(np.prod(sizes))

    def factors_with_role(self, role: Role) -> tuple[int, ...]:
        """Indices of the factors with the given role (content, style, cause, effect)."""
        return tuple(i for i, f in enumerate(self.factors) if f.role == role)

    @property
    def content_factors(self) -> tuple[int, ...]:
        return self.factors_with_role("content")

    @property
    def style_factors(self) -> tuple[int, ...]:
        return self.factors_with_role("style")

    def factor_index(self, factor: int | str) -> int:
        """Index of a factor given by name or position; raises :class:`FactorError`."""
        if isinstance(factor, str):
            if factor not in self.factor_names:
                raise FactorError(f"unknown factor {factor!r} of {self.name}; valid names: {list(self.factor_names)}")
            return self.factor_names.index(factor)
        if not 0 <= int(factor) < self.num_factors:
            raise FactorError(
                f"factor index {factor} out of range for {self.name}: {self.num_factors} factors {list(self.factor_names)}"
            )
        return int(factor)

    # -- validation --------------------------------------------------------------
    def check_factors(self, factors) -> jax.Array:
        """Return ``factors`` as float32 after checking shape, dtype and ranges.

        Raises :class:`ShapeError` for a wrong shape or non-numeric dtype and
        :class:`FactorError` naming the first factor whose value leaves its range.
        Traced arrays (inside ``jit``) are only shape-checked.
        """
        shape = getattr(factors, "shape", None)
        if shape is None or len(shape) != 2 or shape[1] != self.num_factors:
            raise ShapeError(
                f"{self.name} factors must have shape (n, {self.num_factors}) for {list(self.factor_names)}; got {shape}"
            )
        dtype = np.dtype(factors.dtype)
        if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            raise ShapeError(f"{self.name} factors must be numeric; got dtype {dtype}")
        if isinstance(factors, jax.core.Tracer):
            return factors.astype(jnp.float32)
        values = np.asarray(factors, dtype=np.float64)
        for i in range(self.num_factors):
            self._check_range(i, values[:, i])
        return jnp.asarray(factors, dtype=jnp.float32)

    def _check_range(self, i: int, col: np.ndarray) -> None:
        f = self.factors[i]
        tol = 1e-6 * max(1.0, abs(f.high - f.low))
        bad = ~((col >= f.low - tol) & (col <= f.high + tol))
        if bad.any():
            raise FactorError(
                f"factor {f.name!r} of {self.name} must lie in [{f.low:g}, {f.high:g}]; "
                f"got {col[bad][0]:g} (row {int(np.argmax(bad))})"
            )

    def factor_classes(self, factors) -> np.ndarray:
        """Grid indices ``(n, k)`` int32 of factor values (nearest grid value).

        The discrete labels metrics need; raises :class:`FactorError` for
        continuous factors, which have no grid.
        """
        values = np.asarray(factors, dtype=np.float64)
        out = np.empty(values.shape, dtype=np.int32)
        for i, f in enumerate(self.factors):
            if f.continuous:
                raise FactorError(f"factor {f.name!r} of {self.name} is continuous and has no grid index")
            out[:, i] = np.argmin(np.abs(values[:, i, None] - np.asarray(f.values)[None]), axis=1)
        return out

    # -- sampling ----------------------------------------------------------------
    def sample_factors(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` factor vectors drawn independently and uniformly from each factor's grid (or range)."""
        return _sample_independent(self.factors, key, n)

    def sample_factors_fixed(self, key: jax.Array, n: int, factor: int | str, value: float | None = None) -> jax.Array:
        """``n`` factor vectors with ``factor`` held at ``value`` and all others random.

        ``value=None`` draws the held value once from the factor's prior. This is
        the sampling the BetaVAE and FactorVAE scores need.
        """
        i = self.factor_index(factor)
        k_fix, k_rest = jax.random.split(key)
        if value is None:
            value = self.sample_factors(k_fix, 1)[0, i]
        else:
            self._check_range(i, np.asarray([value], dtype=np.float64))
        return self.with_factor(self.sample_factors(k_rest, n), i, value)

    def with_factor(self, factors: jax.Array, factor: int | str, value) -> jax.Array:
        """Set one factor column to ``value`` (scalar or per-row); recompute dependents if any.

        Datasets whose factors are linked by a causal mechanism (the pendulum)
        override this so that effects follow their causes.
        """
        i = self.factor_index(factor)
        return factors.at[:, i].set(value)

    def render(self, factors) -> jax.Array:
        """Images ``(n, H, W, C)`` float32 in [0, 1] for a batch of factor vectors."""
        return self.render_batch(self.check_factors(factors))

    def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """``(factors, images)`` for ``n`` random factor vectors."""
        factors = self.sample_factors(key, n)
        return factors, self.render(factors)

    # -- the oracle --------------------------------------------------------------
    def oracle(self) -> Generator:
        """The renderer as a generator whose latent code is the true factor vector.

        A correct audit of this generator must come out exact: each latent unit
        moves exactly its own factor.
        """
        groups = {r: self.factors_with_role(r) for r in ("content", "style", "cause", "effect")}
        return Generator(
            [Stage("image", self._oracle_render)],
            latent_names=self.factor_names,
            prior=self.sample_factors,
            unit_groups={k: v for k, v in groups.items() if v},
            name=f"{self.name}-oracle",
            dataset=self,
        )

    def _oracle_render(self, params, z):
        del params
        return self.render_batch(z)


@functools.partial(jax.jit, static_argnums=0)
def _render_batch(data: GroundTruthData, factors: jax.Array) -> jax.Array:
    return jax.vmap(data.render_one)(factors.astype(jnp.float32))


def _sample_independent(factors: Sequence[Factor], key: jax.Array, n: int) -> jax.Array:
    keys = jax.random.split(key, len(factors))
    cols = []
    for k, f in zip(keys, factors):
        if f.continuous:
            cols.append(jax.random.uniform(k, (n,), minval=f.low, maxval=f.high))
        else:
            cols.append(jnp.asarray(f.values, jnp.float32)[jax.random.randint(k, (n,), 0, len(f.values))])
    return jnp.stack(cols, axis=1).astype(jnp.float32)
