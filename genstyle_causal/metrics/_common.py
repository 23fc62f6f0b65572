"""What every metric shares: turning a representation into codes, input checks,
discretisation and the discrete mutual-information matrix.

The split follows disentanglement_lib: a public wrapper samples factors from a
:class:`GroundTruthData` and encodes them, a private function computes the score
from arrays ``codes (n, d)`` and ``factors (n, k)`` (batch first).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..data.base import GroundTruthData
from ..errors import ConfigError, FactorError, NonFiniteError, ShapeError


@dataclasses.dataclass(frozen=True)
class FactorCode:
    """A representation computed from factor values instead of images.

    ``fn(factors (n, k)) -> codes (n, d)``. Oracles, rotated oracles and synthetic
    codes use it: no image is rendered, so metrics on them are cheap and exact.
    """

    fn: Callable[[jax.Array], jax.Array]

    def __post_init__(self):
        object.__setattr__(self, "_jitted", jax.jit(self.fn))

    def __call__(self, factors: jax.Array) -> jax.Array:
        return self._jitted(factors)


def oracle_code(data: GroundTruthData, mix=None) -> FactorCode:
    """The oracle representation: every factor scaled to [0, 1] by its range.

    With ``mix`` (a ``(k, d)`` matrix, e.g. orthogonal) the code is the centred,
    scaled factor vector times ``mix``: the *rotated oracle*, which keeps all the
    information but spreads every factor over every unit.
    """
    low = jnp.asarray([f.low for f in data.factors], jnp.float32)
    span = jnp.asarray([max(f.high - f.low, 1e-12) for f in data.factors], jnp.float32)
    if mix is None:
        return FactorCode(lambda f: (f - low) / span)
    m = jnp.asarray(mix, jnp.float32)
    if m.ndim != 2 or m.shape[0] != data.num_factors:
        raise ShapeError(f"mix must have shape ({data.num_factors}, d) for {data.name}; got {m.shape}")
    return FactorCode(lambda f: ((f - low) / span - 0.5) @ m)


Representation = Any  # callable images -> codes, a FactorCode, or a precomputed codes array


def check_codes(codes, factors=None, *, name: str = "codes") -> np.ndarray:
    """``codes`` as float64 ``(n, d)`` after checking shape, dtype, finiteness and length.

    Raises :class:`ShapeError` for a wrong shape/dtype or a length that differs from
    ``factors``, and :class:`NonFiniteError` naming the first NaN/inf entry.
    """
    shape = getattr(codes, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise ShapeError(f"{name} must have shape (n, d) with n, d > 0; got {shape}")
    dtype = np.dtype(codes.dtype)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ShapeError(f"{name} must be numeric; got dtype {dtype}")
    out = np.asarray(codes, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise NonFiniteError(f"{name} contain {int(bad.sum())} non-finite value(s), first {out[row, col]} at row {row}, unit {col}")
    if factors is not None:
        fshape = getattr(factors, "shape", None)
        if fshape is None or len(fshape) != 2:
            raise ShapeError(f"factors must have shape (n, k); got {fshape}")
        if fshape[0] != shape[0]:
            raise ShapeError(f"{name} and factors must have the same number of rows; got {shape[0]} codes and {fshape[0]} factor rows")
    return out


def encode(representation: Representation, data: GroundTruthData, factors: jax.Array, *, batch_size: int) -> np.ndarray:
    """Codes ``(n, d)`` float64 of the samples with the given factor values.

    A :class:`FactorCode` reads the factors directly; any other callable receives
    rendered images in batches of ``batch_size`` (rendering everything at once
    would hold ``n`` images in memory).
    """
    if isinstance(representation, FactorCode):
        return check_codes(representation(factors), factors)
    if not callable(representation):
        raise ConfigError(
            f"this metric needs a representation function (images -> codes) or a FactorCode to sample codes; "
            f"got {type(representation).__name__}"
        )
    chunks = [
        np.asarray(representation(data.render(factors[i : i + batch_size])))
        for i in range(0, factors.shape[0], batch_size)
    ]
    return check_codes(np.concatenate(chunks, axis=0), factors)


def sample_codes(representation, data, *, key, num, factors=None, batch_size) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, factor values)`` of ``num`` random samples, or the given precomputed pair.

    For precomputed codes (an array) ``factors`` must be the matching factor values.
    """
    if is_array(representation):
        if factors is None:
            raise ConfigError("precomputed codes need the matching factor values: pass factors=(n, k) array")
        codes = check_codes(representation, factors)
        return codes, np.asarray(data.check_factors(factors), dtype=np.float64)
    values = draw_factors(data, key, num)
    return encode(representation, data, values, batch_size=batch_size), np.asarray(values, dtype=np.float64)


def train_test_codes(representation, data, *, key, num_train, num_test, factors=None, batch_size):
    """Train and test ``(codes, factors)`` pairs: fresh samples, or precomputed rows split ``num_train : num_test``."""
    if is_array(representation):
        codes, values = sample_codes(representation, data, key=key, num=0, factors=factors, batch_size=batch_size)
        cut = int(round(codes.shape[0] * num_train / (num_train + num_test)))
        if not 0 < cut < codes.shape[0]:
            raise ShapeError(f"need at least 2 rows of precomputed codes to split into train and test; got {codes.shape[0]}")
        return (codes[:cut], values[:cut]), (codes[cut:], values[cut:])
    k_train, k_test = jax.random.split(key)
    train = sample_codes(representation, data, key=k_train, num=num_train, batch_size=batch_size)
    test = sample_codes(representation, data, key=k_test, num=num_test, batch_size=batch_size)
    return train, test


# -- jit-compiled sampling (eager JAX would compile every primitive for every new shape) --
@functools.partial(jax.jit, static_argnums=(0, 2))
def draw_factors(data: GroundTruthData, key: jax.Array, n: int) -> jax.Array:
    """``data.sample_factors(key, n)``, compiled once per dataset and size."""
    return data.sample_factors(key, n)


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def draw_held_groups(data: GroundTruthData, key: jax.Array, num_groups: int, group_size: int) -> jax.Array:
    """Factor rows ``(k, num_groups * group_size, k)``: block ``j`` is ``num_groups`` consecutive
    groups of ``group_size`` rows, each group with factor ``j`` held at its own value drawn from the prior.

    The distribution of ``data.sample_factors_fixed`` for every group at once: two
    calls of the sampler for all blocks (far less to compile than one per group).
    """
    k_rows, k_held = jax.random.split(key)
    k = data.num_factors
    rows = data.sample_factors(k_rows, k * num_groups * group_size).reshape(k, num_groups * group_size, k)
    held = jnp.repeat(data.sample_factors(k_held, k * num_groups).reshape(k, num_groups, k), group_size, axis=1)
    return jnp.stack([data.with_factor(rows[j], j, held[j, :, j]) for j in range(k)])


@functools.partial(jax.jit, static_argnums=(0, 2))
def draw_shared_pairs(data: GroundTruthData, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Two factor arrays ``(k, n, k)``: in block ``j`` the rows of both agree on factor ``j``, all else independent."""
    ka, kb = jax.random.split(key)
    k = data.num_factors
    first = data.sample_factors(ka, k * n).reshape(k, n, k)
    second = data.sample_factors(kb, k * n).reshape(k, n, k)
    return first, jnp.stack([data.with_factor(second[j], j, first[j, :, j]) for j in range(k)])


def per_factor(num_points: int, num_factors: int) -> int:
    """Points per factor when ``num_points`` are stratified over the factors (rounded up)."""
    return -(-num_points // num_factors)


def require_sampler(representation, metric: str) -> None:
    """Metrics that sample with a held factor cannot work from precomputed codes."""
    if is_array(representation):
        raise ConfigError(
            f"{metric} samples batches with one factor held fixed, so it needs a representation function "
            f"(images -> codes) or a FactorCode, not precomputed codes"
        )


def is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not callable(x)


def discrete_factors(data: GroundTruthData, metric: str) -> tuple[int, ...]:
    """Indices of the discrete factors; raises :class:`FactorError` when there are none."""
    idx = tuple(i for i, f in enumerate(data.factors) if not f.continuous)
    if not idx:
        raise FactorError(
            f"{metric} needs discrete factors, but every factor of {data.name} is continuous: {list(data.factor_names)}"
        )
    return idx


def factor_labels(data: GroundTruthData, values: np.ndarray, metric: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Grid indices ``(n, k')`` int32 of the discrete factors, and their names."""
    idx = discrete_factors(data, metric)
    labels = np.stack([_grid_index(data.factors[i].values, values[:, i]) for i in idx], axis=1)
    return labels, tuple(data.factor_names[i] for i in idx)


def labelled_codes(representation, data, metric: str, *, key, num, factors, batch_size):
    """``(codes, discrete labels, factor names)`` of ``num`` samples (or precomputed codes).

    Checks that ``data`` has discrete factors before sampling anything.
    """
    discrete_factors(data, metric)
    codes, values = sample_codes(representation, data, key=key, num=num, factors=factors, batch_size=batch_size)
    labels, names = factor_labels(data, values, metric)
    return codes, labels, names


def labelled_train_test(representation, data, metric: str, *, key, num_train, num_test, factors, batch_size):
    """Train and test ``(codes, discrete labels)`` pairs and the factor names, as :func:`train_test_codes`."""
    discrete_factors(data, metric)
    (c_train, v_train), (c_test, v_test) = train_test_codes(
        representation, data, key=key, num_train=num_train, num_test=num_test, factors=factors, batch_size=batch_size
    )
    y_train, names = factor_labels(data, v_train, metric)
    y_test, _ = factor_labels(data, v_test, metric)
    return (c_train, y_train), (c_test, y_test), names


def _grid_index(grid, column: np.ndarray) -> np.ndarray:
    return np.argmin(np.abs(column[:, None] - np.asarray(grid, dtype=np.float64)[None]), axis=1).astype(np.int32)


def check_labels(labels, name: str = "factors") -> np.ndarray:
    """Integer class labels ``(n, k)`` as int64; raises :class:`ShapeError` otherwise."""
    arr = np.asarray(labels)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer) or (arr.size and arr.min() < 0):
        raise ShapeError(f"{name} must be non-negative integer class labels of shape (n, k); got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64)


def check_labelled(codes, labels, *, name: str = "codes") -> tuple[np.ndarray, np.ndarray]:
    """``(codes float64, labels int64)`` after :func:`check_codes` and :func:`check_labels`."""
    return check_codes(codes, labels, name=name), check_labels(labels)


def seed(key: jax.Array) -> int:
    """A numpy/scikit-learn seed derived from a JAX key."""
    return int(jax.random.randint(key, (), 0, np.iinfo(np.int32).max))


# -- information theory -----------------------------------------------------------
def histogram_discretize(codes: np.ndarray, num_bins: int) -> np.ndarray:
    """Bin every column into ``num_bins`` equal-width bins between its min and max, labels ``0 … num_bins − 1``.

    Exactly disentanglement_lib's ``_histogram_discretize``: ``np.digitize(x,
    np.histogram(x, num_bins)[1][:-1])`` per column (shifted to start at 0), with
    numpy's own bin edges — so values lying on an edge fall in the same bin, and a
    constant column gets numpy's ±0.5 widened range.
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
        raise ConfigError(f"num_bins must be a positive integer; got {num_bins!r}")
    edges = [np.histogram_bin_edges(col, bins=num_bins)[:-1] for col in codes.T]
    return np.stack([np.digitize(col, e) for col, e in zip(codes.T, edges)], axis=1).astype(np.int64) - 1


def mutual_information(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (nats) between every column of ``a`` and of ``b``.

    ``a (n, d)`` and ``b (n, k)`` are integer labels; returns ``(d, k)``, the value
    ``sklearn.metrics.mutual_info_score`` gives for each pair, from one joint
    count matrix (one-hot ``a`` times one-hot ``b``).
    """
    n = a.shape[0]
    oa, sa = _one_hot(a)
    ob, sb = _one_hot(b)
    joint = (oa.T @ ob) / n  # (sum of a's classes, sum of b's classes)
    pa, pb = oa.mean(axis=0), ob.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / np.outer(pa, pb)), 0.0)
    rows = np.add.reduceat(terms, sa, axis=0)
    return np.maximum(np.add.reduceat(rows, sb, axis=1), 0.0)


def entropy(labels: np.ndarray) -> np.ndarray:
    """Plug-in entropy (nats) of every column of integer ``labels (n, k)``."""
    onehot, starts = _one_hot(labels)
    p = onehot.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return np.add.reduceat(terms, starts)


def _one_hot(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated one-hot encodings of every column and where each column starts."""
    sizes = labels.max(axis=0) + 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros((labels.shape[0], int(sizes.sum())), dtype=np.float64)
    out[np.arange(labels.shape[0])[:, None], starts[None] + labels] = 1.0
    return out, starts


def tidy(x):
    """Numpy/JAX scalars and arrays as plain Python floats, ints and lists (JSON-ready)."""
    if isinstance(x, dict):
        return {k: tidy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [tidy(v) for v in x]
    if isinstance(x, (np.ndarray, jax.Array)):
        return tidy(np.asarray(x).tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    return x
