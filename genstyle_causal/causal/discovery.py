"""The causal graph of a structural generator, read off interventions: direct or total effects, labelled.

Two graphs answer two questions (Pearl 2001; Woodward 2003):

- **direct**: ``X → Y`` iff ``Y`` moves when ``X`` is set while every other
  variable except ``Y`` is held at its sampled value (a controlled direct
  effect). Holding ``Y``'s descendants too changes nothing, as they cannot move
  ``Y`` in a DAG. This graph is the DAG itself.
- **total**: ``X → Y`` iff ``Y`` moves when only ``X`` is set. This is the
  DAG's transitive closure: every ancestor → descendant pair.

They coincide only for depth-1 graphs; each is scored against its own truth.

Each effect is a *dose dispersion*: ``X`` is set to several levels (quantiles
of its observational distribution) and, per sample, the mean absolute
deviation of the measured ``Y`` across levels is averaged over samples, with a
bootstrap CI. A two-level contrast would miss non-monotone mechanisms (a
parabola returns to the same value at symmetric levels); the dispersion does
not. An edge needs the CI's lower bound above the **readout floor**: where
``X`` does not move ``Y``, the measured ``Y`` still varies across levels by
the readout's own error (anti-aliasing, crosstalk between nearby elements, an
element leaving the frame), and the dispersion of that error — known because
the oracle knows the true variables of every image it renders — is exactly
what such a null cell measures. Its mean over samples is the floor: a null
cell's lower CI bound cannot exceed it, so it is derived, not tuned, and is
reported.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from ..errors import ConfigError, ShapeError
from ..generator import Generator
from ..structural import Structural
from .effects import EffectMatrix, Outcome, _cell_level, bootstrap_mean, check_outcome, observe, outcome_columns, sweep
from .graph import compare_graphs

GRAPH_KINDS = ("direct", "total")
DEFAULT_LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
RESOLUTION = 1e-6  # float32 measurements of one image agree to about this fraction of a variable's range


@dataclasses.dataclass(frozen=True)
class Discovery:
    """A direct or total effect graph of a structural generator, with the matrix and floor it was read from.

    ``effects`` is variables × variables (dose dispersion, in the measured
    variable's units; for ``direct`` the diagonal is the variable's response
    to its own do, a check that the readout reads it); ``floor`` is the readout
    floor per cell, which an effect's lower CI bound must exceed; ``reference`` is the matching truth (the DAG for
    ``direct``, its transitive closure for ``total``) when known; ``images``
    counts the generator's rendered images.
    """

    kind: str
    effects: EffectMatrix
    floor: np.ndarray
    graph: nx.DiGraph
    reference: nx.DiGraph | None
    images: int

    def scores(self) -> dict:
        """SHD, edge precision and recall against the matching truth (empty without one)."""
        return {} if self.reference is None else compare_graphs(self.graph, self.reference)


def truth_graph(dag: nx.DiGraph, kind: str) -> nx.DiGraph:
    """The graph an audit of ``kind`` must find: the DAG (direct) or its transitive closure (total)."""
    _check_kind(kind)
    return nx.DiGraph(dag) if kind == "direct" else nx.transitive_closure_dag(dag)


def _check_kind(kind: str) -> None:
    if kind not in GRAPH_KINDS:
        raise ConfigError(f"graph must be one of {list(GRAPH_KINDS)}; got {kind!r}")


def _batch(k: int, doses: np.ndarray, kind: str, layer: str) -> Structural:
    """Interventions: for each cause ``X`` (and, for ``direct``, each target ``Y``) and each dose, set ``X``; hold the rest but ``Y``."""
    v = doses.shape[1]
    pairs = [(x, y) for x in range(k) for y in range(k)] if kind == "direct" else [(x, None) for x in range(k)]
    set_mask = np.zeros((len(pairs), v, k), bool)
    hold_mask = np.zeros((len(pairs), v, k), bool)
    values = np.zeros((len(pairs), v, k), np.float32)
    for p, (x, y) in enumerate(pairs):
        set_mask[p, :, x] = True
        values[p, :, x] = doses[x]
        if y is not None:
            hold_mask[p, :, :] = True
            hold_mask[p, :, [x, y]] = False
    flat = lambda a: jnp.asarray(a.reshape(len(pairs) * v, k))  # noqa: E731
    return Structural(flat(set_mask), flat(values), jnp.zeros((len(pairs) * v, k), jnp.float32), flat(hold_mask), layer)


@jax.jit
def _intervened_variables(generator: Generator, z: jax.Array, batch: Structural) -> jax.Array:
    """The true variables ``(K, n, k)`` behind each intervention (no rendering)."""
    v = generator.run(z, stop=generator.scm.layer)
    return jax.vmap(lambda iv: iv.edit(generator, v, z))(batch)


def _dispersion(y: jax.Array) -> jax.Array:
    """Per-sample mean absolute deviation across dose levels (axis 0): ``(V, ...) -> (...)``."""
    return jnp.abs(y - y.mean(axis=0)).mean(axis=0)


def discover(
    generator: Generator,
    outcome: Outcome | None = None,
    *,
    key: jax.Array,
    kind: str = "direct",
    n: int = 128,
    levels: Sequence[float] = DEFAULT_LEVELS,
    floor: Sequence[float] | None = None,
    num_bootstrap: int = 1000,
    level: float = 0.95,
    max_images: int = 2048,
) -> Discovery:
    """The ``kind`` ("direct" or "total") effect graph of a structural generator's variables.

    ``outcome`` reads the variables back from images (default: the linked
    dataset's readout); its columns must include every variable by name.
    ``floor`` (per variable or per cell, in the measured variable's units)
    defaults to the readout's own error on the audit's images: per cell, the
    mean over samples of the error's dispersion across the levels, which is
    what a cell without an effect measures. That needs a readout that knows its
    truth (:class:`~genstyle_causal.data.Readout` ``.truth``) and a generator
    that renders its variables faithfully (a dataset oracle); give it for any
    other structural generator (e.g. the dataset oracle's ``Discovery.floor``).
    CIs are familywise over the off-diagonal cells. Cost: ``k·V`` (total) or
    ``k²·V`` (direct) interventions on ``n`` samples each, ``V = len(levels)``.
    """
    _check_kind(kind)
    scm = generator.scm
    if scm is None:
        raise ConfigError(
            f"{generator.name!r} is not a structural generator: its latent units are independent roots, so its direct "
            "and total graphs coincide; use audit() or effect_matrix() for it"
        )
    outcome = _default_outcome(generator, outcome)
    names = outcome_columns(outcome, check_outcome(generator, outcome, n), None)
    missing = [v for v in scm.variable_names if v not in names]
    if missing:
        raise ShapeError(f"the outcome must measure every variable by name; missing {missing} in columns {list(names)}")
    cols = np.asarray([names.index(v) for v in scm.variable_names])
    k, levels = scm.num_variables, np.asarray(levels, np.float32)
    if levels.ndim != 1 or levels.size < 3 or not ((levels > 0) & (levels < 1)).all():
        raise ConfigError(f"levels must be at least 3 quantiles strictly inside (0, 1); got {levels.tolist()}")

    k_z, k_boot = jax.random.split(key)
    z = generator.sample_latent(k_z, n)
    observed = generator.run(z, stop=scm.layer)
    doses = np.asarray(jnp.quantile(observed, jnp.asarray(levels), axis=0)).T  # (k, V)
    batch = _batch(k, doses, kind, scm.layer)
    v = len(levels)
    measured = _by_cell(sweep(generator, z, batch, outcome, max_images=max_images)[..., cols], k, v, n, kind)
    samples = _dispersion(measured)  # (k, n, k): row X, column Y
    if floor is None:
        floor = _readout_floor(generator, outcome, z, batch, measured, kind)
    elif np.shape(floor) not in ((k,), (k, k)):
        raise ShapeError(f"floor needs one value per variable ({k},) or per cell ({k}, {k}); got shape {np.shape(floor)}")
    floor = np.broadcast_to(np.asarray(floor, np.float64), (k, k)).copy()
    cell = _cell_level(level, k * (k - 1), True)
    effect = bootstrap_mean(samples, k_boot, num_bootstrap, cell)
    scale = np.asarray(observe(generator, z, outcome), np.float64)[:, cols].std(axis=0)
    a = lambda x: np.asarray(x, np.float64)  # noqa: E731
    matrix = EffectMatrix(a(effect.estimate), a(effect.low), a(effect.high), scale, scm.variable_names,
                          scm.variable_names, level, "dispersion")
    return Discovery(kind, matrix, floor, _graph(matrix, floor, kind), _reference(generator, kind), int(batch.set_mask.shape[0]) * n)


def _by_cell(y: jax.Array, k: int, v: int, n: int, kind: str) -> jax.Array:
    """Measurements ``(K, n, k)`` of a discovery batch as ``(V, k, n, k)``: level, cause ``X``, sample, measured ``Y``.

    For ``direct`` each cell keeps the measurement of ``Y`` from the batch that held everything but ``X`` and ``Y``.
    """
    if kind == "total":
        return jnp.moveaxis(y.reshape(k, v, n, k), 1, 0)
    y = y.reshape(k, k, v, n, k)  # cause X, target Y, level, sample, measured column
    cell = y[np.arange(k)[:, None], np.arange(k)[None, :], :, :, np.arange(k)[None, :]]  # (X, Y, V, n)
    return jnp.transpose(cell, (2, 0, 3, 1))


def _default_outcome(generator: Generator, outcome):
    if outcome is not None:
        return outcome
    readout = generator.dataset.readout() if generator.dataset is not None else None
    if readout is None:
        raise ConfigError(f"{generator.name!r} has no dataset with an analytic readout; pass an outcome that reads its variables")
    return readout


def _readout_floor(generator: Generator, outcome, z, batch, measured, kind: str) -> np.ndarray:
    """Per cell, the mean over samples of the dispersion of the readout's error across the dose levels, ``(k, k)``.

    Where ``X`` does not move ``Y``, a sample's measured ``Y`` differs across
    levels by its readout error alone, so its dispersion *is* the error's
    dispersion: a null cell's mean effect equals this floor and its lower CI
    bound cannot exceed it. The error is measured against the true variables
    of every image, which only a dataset oracle renders faithfully. To it is
    added the float32 resolution of a measurement (``RESOLUTION`` of the
    variable's range): the same image measured at two places of a vectorised
    batch can differ in its last bits.
    """
    truth = getattr(outcome, "truth", None)
    data = generator.dataset
    if truth is None or data is None or getattr(data, "scm", None) != generator.scm:
        raise ConfigError(
            "the readout floor is measured against the true variables, which only a dataset oracle renders with a "
            "readout that knows its truth; pass floor= (e.g. from the dataset oracle's discovery)"
        )
    k, v, n = measured.shape[1], measured.shape[0], measured.shape[2]
    true = _intervened_variables(generator, z, batch)
    expected = jax.vmap(truth)(true)
    names = outcome_columns(outcome, expected.shape[-1], None)
    cols = np.asarray([names.index(name) for name in generator.scm.variable_names])
    error = measured - _by_cell(expected[..., cols], k, v, n, kind)
    span = np.asarray([var.high - var.low for var in generator.scm.variables], np.float64)
    return np.asarray(_dispersion(error).mean(axis=1), np.float64) + RESOLUTION * span[None, :]


def _graph(matrix: EffectMatrix, floor: np.ndarray, kind: str) -> nx.DiGraph:
    """Edge ``X → Y`` (``X ≠ Y``) where the effect's lower CI bound exceeds the cell's readout floor."""
    names = matrix.unit_names
    g = nx.DiGraph(kind=kind, level=matrix.level, statistic=matrix.statistic)
    g.add_nodes_from(names)
    standardized = matrix.standardized()
    for i, j in zip(*np.nonzero(matrix.low > floor)):
        if i != j:
            g.add_edge(names[i], names[j], weight=float(matrix.effect[i, j]), low=float(matrix.low[i, j]),
                       high=float(matrix.high[i, j]), standardized=float(standardized[i, j]), floor=float(floor[i, j]))
    return g


def _reference(generator: Generator, kind: str) -> nx.DiGraph | None:
    """The matching truth: the generator's own SCM graph when it is a dataset oracle, else the dataset's graph if it has one."""
    data = generator.dataset
    dag = data.graph() if data is not None and data.graph() is not None else None
    return None if dag is None else truth_graph(dag, kind)
