"""Average causal effects of interventions on generated images, with bootstrap confidence intervals.

Every estimate is paired by common random numbers: one batch of base latents
``z`` is drawn from the generator's prior and every intervention (and its
baseline) acts on that same batch, so effects are per-sample differences and
the sampling noise of ``z`` largely cancels. Sweeps over many interventions run
as one jit-compiled ``lax.map`` whose chunks are vmapped (``batch_size``), so
memory stays bounded and there is no Python loop over samples.

An *outcome* maps images ``(n, H, W, C)`` to ``(n, m)`` float32 (probe factors,
``Pendulum.measure``, pixel or style statistics, any pure user function). An
outcome with a ``difference(y, base)`` method defines its own paired difference
(a probe's orientation differs modulo the shape's symmetry); else ``y - base``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError, ShapeError
from ..generator import Generator
from ..structural import do_variables
from .interventions import Do, Hybridize, Intervention, check_intervention, intervene, resolve, variables_named

Outcome = Callable[[jax.Array], jax.Array]


# -- result containers ----------------------------------------------------------------------


@functools.partial(jax.tree_util.register_dataclass, data_fields=["estimate", "low", "high"], meta_fields=["level"])
@dataclasses.dataclass(frozen=True)
class Effect:
    """An effect estimate with its ``level`` (e.g. 0.95) percentile-bootstrap interval ``[low, high]``."""

    estimate: jax.Array
    low: jax.Array
    high: jax.Array
    level: float

    def excludes_zero(self) -> jax.Array:
        return (self.low > 0) | (self.high < 0)

    def covers(self, value) -> jax.Array:
        return (self.low <= value) & (value <= self.high)


@dataclasses.dataclass(frozen=True)
class EffectMatrix:
    """Effects of interventions on units (rows) on outcomes (columns), with CIs.

    ``scale`` is each outcome's standard deviation under the prior, so
    ``effect / scale`` compares outcomes measured in different units.
    ``statistic`` says what a cell is: ``"contrast"`` (signed mean of paired
    differences) or ``"magnitude"`` (mean absolute paired difference).
    ``level`` is the confidence the CIs hold with; ``familywise`` says whether
    they hold jointly over all cells (Bonferroni: each cell at ``cell_level``)
    or each on its own.
    """

    effect: np.ndarray
    low: np.ndarray
    high: np.ndarray
    scale: np.ndarray
    unit_names: tuple[str, ...]
    outcome_names: tuple[str, ...]
    level: float
    statistic: str = "contrast"
    familywise: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return self.effect.shape

    @property
    def cell_level(self) -> float:
        """The confidence level of each cell's own CI."""
        return _cell_level(self.level, self.effect.size, self.familywise)

    def excludes_zero(self) -> np.ndarray:
        return (self.low > 0) | (self.high < 0)

    def standardized(self) -> np.ndarray:
        return self.effect / np.where(self.scale > 0, self.scale, 1.0)

    def to_dict(self) -> dict:
        """JSON-ready dictionary (plain lists and floats)."""
        return {
            "unit_names": list(self.unit_names),
            "outcome_names": list(self.outcome_names),
            "effect": self.effect.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "scale": self.scale.tolist(),
            "level": float(self.level),
            "familywise": self.familywise,
            "cell_level": self.cell_level,
            "statistic": self.statistic,
        }


# -- checks ---------------------------------------------------------------------------------


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def check_outcome(generator: Generator, outcome: Outcome, n: int) -> int:
    """Number of outcome columns ``m``; raises :class:`ShapeError` unless ``outcome`` maps ``n`` images to ``(n, m)`` floats."""
    images = jax.eval_shape(generator.run, jax.ShapeDtypeStruct((n, generator.latent_dim), jnp.float32))
    out = jax.eval_shape(outcome, images)
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != n or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ShapeError(
            f"outcome {_name(outcome)} must map images {images.shape} to a float array (n, m) = ({n}, m); "
            f"got {getattr(out, 'dtype', type(out).__name__)} {shape}"
        )
    return int(shape[1])


def _num_interventions(interventions) -> int:
    leaves = jax.tree_util.tree_leaves(interventions)
    sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else None for leaf in leaves}
    if not leaves or None in sizes or len(sizes) != 1:
        raise ShapeError(
            f"a batch of interventions needs every leaf to share one leading axis; got leaf shapes "
            f"{[np.shape(leaf) for leaf in leaves]} in {type(interventions).__name__}"
        )
    return sizes.pop()


def _prepare(generator: Generator, z: jax.Array, interventions) -> tuple:
    """Bind a batch of interventions (names → checked indices) and run its first entry abstractly (shape errors, no FLOPs).

    Returns the bound batch and its size.
    """
    check_intervention(interventions)
    interventions = resolve(generator, interventions)
    k = _num_interventions(interventions)
    first = jax.tree_util.tree_map(lambda leaf: leaf[0], interventions)
    jax.eval_shape(lambda g, z: intervene(g, z, first), generator, z)
    return interventions, k


# -- the batched core ----------------------------------------------------------------------------


def _keep(y, aux):
    del aux
    return y


@functools.partial(jax.jit, static_argnames=("outcome", "reduce", "chunk"))
def _map_interventions(generator, z, interventions, aux, outcome, reduce, chunk):
    """``reduce(outcome(images_k), aux)`` for each intervention ``k`` of a batch, ``chunk`` interventions at a time.

    The activations at the intervened layer are computed once (common random
    numbers); each chunk edits them per intervention (vmapped) and runs the rest
    of the generator on the ``chunk · n`` edited samples as one flat batch, so a
    sweep costs about what one batched pass over as many images costs. Outcomes
    must act image by image.
    """
    layer = interventions.layer
    h = generator.run(z, stop=layer)
    k = _num_interventions(interventions)
    num = -(-k // chunk)

    def pad(x):
        x = jnp.concatenate([x, jnp.repeat(x[-1:], num * chunk - k, axis=0)])
        return x.reshape(num, chunk, *x.shape[1:])

    def run_chunk(ivs):
        edited = jax.vmap(lambda iv: iv.edit(generator, h, z))(ivs)
        y = outcome(generator.run(edited.reshape(-1, *edited.shape[2:]), start=layer))
        return jax.vmap(reduce, in_axes=(0, None))(y.reshape(chunk, z.shape[0], *y.shape[1:]), aux)

    out = jax.lax.map(run_chunk, jax.tree_util.tree_map(pad, interventions))
    return out.reshape(num * chunk, *out.shape[2:])[:k]


@functools.partial(jax.jit, static_argnames=("outcome",))
def observe(generator: Generator, z: jax.Array, outcome: Outcome) -> jax.Array:
    """Outcomes ``(n, m)`` of the unintervened images (jit-compiled)."""
    return outcome(generator.run(z))


def sweep(
    generator: Generator,
    z: jax.Array,
    interventions: Intervention,
    outcome: Outcome,
    *,
    max_images: int = 2048,
) -> jax.Array:
    """Outcomes ``(K, n, m)`` of a batch of ``K`` interventions (leaves with leading axis ``K``) on the same latents ``z``.

    One jit-compiled ``lax.map`` over chunks of ``max(1, max_images // n)``
    interventions, each chunk one flat batch through the generator: bounded
    memory, no Python loop. The outcome must act image by image.
    """
    generator.check_latent(z)
    check_outcome(generator, outcome, z.shape[0])
    interventions, k = _prepare(generator, z, interventions)
    return _map_interventions(generator, z, interventions, None, outcome, _keep, _chunk(k, z.shape[0], max_images))


def _chunk(k: int, n: int, max_images: int) -> int:
    """Interventions per chunk: at most ``max_images // n``, spread evenly so that padding stays below one chunk's share."""
    chunks = -(-k // max(1, min(k, max_images // n)))
    return -(-k // chunks)


def do_batch(units, values, *, generator: Generator | None = None) -> Intervention:
    """``do(units[i] = values[i])`` for every ``i``: a batch with leading axis ``K``.

    Units are latent indices; with ``generator``, also latent names, or the
    variable names of a structural generator (a batch of hard interventions on
    variables, see :func:`~genstyle_causal.structural.do_variables`).
    """
    if generator is not None and variables_named(generator, list(units)) is not None:
        return do_variables(generator, list(units), values)
    idx = _unit_indices(generator, units) if generator is not None else units
    return Do(jnp.asarray(idx, jnp.int32), jnp.asarray(values, jnp.float32))


def grid_sweep(
    generator: Generator,
    z: jax.Array,
    outcome: Outcome,
    *,
    units: Sequence[int | str],
    values,
    max_images: int = 2048,
) -> jax.Array:
    """Outcomes ``(U, V, n, m)`` of ``do(u = v)`` for every unit × value on the same latents (one :func:`sweep`).

    ``values`` is ``(V,)`` (shared) or ``(U, V)`` (per unit, e.g. each unit's own range).
    Units are latent units, or variables of a structural generator.
    """
    units = list(units)
    values = jnp.broadcast_to(jnp.asarray(values, jnp.float32), (len(units), np.shape(values)[-1]))
    u, v = values.shape
    batch = do_batch([unit for unit in units for _ in range(v)], values.reshape(-1), generator=generator)
    y = sweep(generator, z, batch, outcome, max_images=max_images)
    return y.reshape(u, v, *y.shape[1:])


def _unit_indices(generator: Generator, units) -> np.ndarray:
    units = range(generator.latent_dim) if units is None else units
    return np.asarray([generator.unit_index(u) for u in units], np.int32)


def unit_values(generator: Generator, z: jax.Array, units: Sequence[int | str]) -> jax.Array:
    """The values ``(n, U)`` the units take for latents ``z``: latent columns, or the variables of a structural generator."""
    units = list(units)
    if variables_named(generator, units) is not None:
        v = generator.run(z, stop=generator.scm.layer)
        return v[:, np.asarray([generator.scm.index(u) for u in units])]
    return z[:, _unit_indices(generator, units)]


def _unit_names(generator: Generator, units) -> list[str]:
    """Row names: variable names as given, latent units by their names."""
    if units is None:
        return list(generator.latent_names)
    return [u if isinstance(u, str) and u in generator.variable_names else generator.latent_names[generator.unit_index(u)] for u in units]


# -- bootstrap ---------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("num_bootstrap", "level"))
def bootstrap_mean(samples: jax.Array, key: jax.Array, num_bootstrap: int = 1000, level: float = 0.95) -> Effect:
    """Mean over axis ``-2`` of ``samples (..., n, m)`` with a percentile-bootstrap CI (Efron & Tibshirani 1993).

    The ``num_bootstrap`` resamples are drawn once as a count matrix ``(B, n)``
    shared by every column and batch entry, so the whole bootstrap is one
    matrix product. Means are taken of deviations from the first sample and
    that sample is added back last: constant samples then give exactly
    ``low = estimate = high``, and since adding a fixed number is monotone in
    floating point, rounding never puts the estimate outside its own interval.
    """
    n = samples.shape[-2]
    idx = jax.random.randint(key, (num_bootstrap, n), 0, n)
    counts = jnp.zeros((num_bootstrap, n), jnp.float32).at[jnp.arange(num_bootstrap)[:, None], idx].add(1.0)
    samples = samples.astype(jnp.float32)
    anchor = samples[..., :1, :]
    deviations = samples - anchor
    means = jnp.sort(jnp.einsum("bn,...nm->...bm", counts, deviations) / n, axis=-2)
    alpha = 1.0 - level
    low, high = (anchor[..., 0, :] + _sorted_quantile(means, q) for q in (alpha / 2, 1 - alpha / 2))
    return Effect(anchor[..., 0, :] + deviations.mean(axis=-2), low, high, level)


def _sorted_quantile(sorted_values: jax.Array, q: float) -> jax.Array:
    """Quantile ``q`` along axis -2 of sorted values, linearly interpolated (numpy's default rule)."""
    pos = q * (sorted_values.shape[-2] - 1)
    i = min(int(np.floor(pos)), sorted_values.shape[-2] - 2)
    frac = pos - i
    return (1.0 - frac) * sorted_values[..., i, :] + frac * sorted_values[..., i + 1, :]


def _diffs(y, base, magnitude: bool, outcome=None):
    """Paired differences; an outcome with a ``difference(y, base)`` method says how its columns differ (e.g. angles)."""
    difference = getattr(outcome, "difference", None)
    d = y - base if difference is None else difference(y, base)
    return jnp.abs(d) if magnitude else d


# -- single effects ---------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("outcome", "magnitude", "num_bootstrap", "level"))
def _average_effect(generator, z, intervention, baseline, key, outcome, magnitude, num_bootstrap, level):
    y = outcome(intervene(generator, z, intervention))
    base = outcome(intervene(generator, z, baseline))
    return bootstrap_mean(_diffs(y, base, magnitude, outcome), key, num_bootstrap, level)


def _base_latents(generator, key, n, z):
    k_z, k_boot = jax.random.split(key)
    z = generator.sample_latent(k_z, n) if z is None else z
    generator.check_latent(z)
    return z, k_boot


def average_effect(
    generator: Generator,
    outcome: Outcome,
    intervention: Intervention,
    *,
    key: jax.Array,
    n: int = 256,
    z: jax.Array | None = None,
    baseline: Intervention | None = None,
    magnitude: bool = False,
    num_bootstrap: int = 1000,
    level: float = 0.95,
) -> Effect:
    """Average causal effect ``E[Y(intervention) - Y(baseline)]`` with a bootstrap CI, shape ``(m,)``.

    ``baseline=None`` compares with the unintervened sample (the effect of the
    treatment on the treated); GAN Dissection's ACE is ``baseline=Ablate(...)``
    against an insertion. ``magnitude=True`` averages ``|difference|`` instead,
    for interventions whose signed effect averages out (swaps, hybrids). ``z``
    overrides the base latents (e.g. to match donors); else ``n`` are drawn with
    ``key``. Pure and traceable: can be vmapped over keys.
    """
    z, k_boot = _base_latents(generator, key, n, z)
    check_outcome(generator, outcome, z.shape[0])
    intervention, baseline = resolve(generator, intervention), resolve(generator, baseline)
    for iv in (intervention, baseline):
        jax.eval_shape(lambda g, z: intervene(g, z, iv), generator, z)
    return _average_effect(generator, z, intervention, baseline, k_boot, outcome, magnitude, num_bootstrap, level)


# -- effect matrices --------------------------------------------------------------------------------------


def outcome_columns(outcome, m: int, names: Sequence[str] | None) -> tuple[str, ...]:
    """Column names of an outcome: given ``names``, its ``names`` attribute, or ``y0..``."""
    names = names if names is not None else getattr(outcome, "names", None) or [f"y{j}" for j in range(m)]
    if len(names) != m:
        raise ShapeError(f"{len(names)} outcome names {list(names)} for an outcome with {m} columns")
    return tuple(names)


def _matrix(effect: Effect, scale, unit_names, outcome_names, level, statistic, familywise=False) -> EffectMatrix:
    a = lambda x: np.asarray(x, np.float64)  # noqa: E731
    return EffectMatrix(a(effect.estimate), a(effect.low), a(effect.high), a(scale), tuple(unit_names), outcome_names,
                        level, statistic, familywise)


def _cell_level(level: float, cells: int, familywise: bool) -> float:
    """Per-cell CI level; with ``familywise`` the Bonferroni level that makes all cells hold jointly at ``level``."""
    return 1.0 - (1.0 - level) / cells if familywise else level


def effect_matrix(
    generator: Generator,
    outcome: Outcome,
    *,
    key: jax.Array,
    n: int = 256,
    units: Sequence[int | str] | None = None,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
    quantiles: tuple[float, float] = (0.1, 0.9),
    outcome_names: Sequence[str] | None = None,
    statistic: str = "contrast",
    familywise: bool = False,
    num_bootstrap: int = 1000,
    level: float = 0.95,
    max_images: int = 2048,
) -> EffectMatrix:
    """Units × outcomes matrix of do-contrasts ``E[Y(do(u = high_u)) - Y(do(u = low_u))]`` with CIs.

    Units are latent units (default: all) or, on a structural generator,
    variables (hard interventions). ``low``/``high`` default to the
    ``quantiles`` of each unit under the prior. All ``2·len(units)``
    interventions act on the same ``n`` base latents.
    ``statistic="magnitude"`` averages ``|difference|`` instead: it detects
    effects that are not monotone (e.g. a shadow that lengthens on both sides),
    at the price of being positive for any change, however small.
    ``familywise=True`` widens every CI (Bonferroni) so that all cells hold
    jointly at ``level`` — the setting for reading a graph off the matrix.
    """
    if statistic not in ("contrast", "magnitude"):
        raise ConfigError(f"statistic must be 'contrast' or 'magnitude'; got {statistic!r}")
    k_z, k_boot = jax.random.split(key)
    z = generator.sample_latent(k_z, n)
    units = list(range(generator.latent_dim)) if units is None else list(units)
    observed = unit_values(generator, z, units)
    lo = jnp.quantile(observed, quantiles[0], axis=0) if low is None else jnp.asarray(low, jnp.float32)
    hi = jnp.quantile(observed, quantiles[1], axis=0) if high is None else jnp.asarray(high, jnp.float32)
    if lo.shape != (len(units),) or hi.shape != (len(units),):
        raise ShapeError(f"low and high need one value per unit ({len(units)}); got shapes {lo.shape} and {hi.shape}")
    batch = do_batch(units + units, jnp.concatenate([hi, lo]), generator=generator)
    y = sweep(generator, z, batch, outcome, max_images=max_images)
    m = y.shape[-1]
    cell = _cell_level(level, len(units) * m, familywise)
    effect = bootstrap_mean(_diffs(y[: len(units)], y[len(units):], statistic == "magnitude", outcome), k_boot,
                            num_bootstrap, cell)
    scale = observe(generator, z, outcome).std(axis=0)
    names = outcome_columns(outcome, m, outcome_names)
    return _matrix(effect, scale, _unit_names(generator, units), names, level, statistic, familywise)


def dose_response(
    generator: Generator,
    outcome: Outcome,
    unit: int | str,
    values: Sequence[float],
    *,
    key: jax.Array,
    n: int = 256,
    num_bootstrap: int = 1000,
    level: float = 0.95,
) -> Effect:
    """``E[Y | do(unit = v)]`` for each value, shape ``(V, m)``, with CIs (one batched sweep; a unit or a variable)."""
    k_z, k_boot = jax.random.split(key)
    z = generator.sample_latent(k_z, n)
    values = jnp.asarray(values, jnp.float32)
    y = sweep(generator, z, do_batch([unit] * values.shape[0], values, generator=generator), outcome)
    return bootstrap_mean(y, k_boot, num_bootstrap, level)


def interventional_slope(
    generator: Generator,
    outcome: Outcome,
    unit: int | str,
    *,
    key: jax.Array,
    n: int = 256,
    num_values: int = 21,
    num_bootstrap: int = 1000,
    level: float = 0.95,
) -> Effect:
    """Least-squares slope of the dose–response ``v ↦ Y(do(unit = v))`` over the unit's prior, with CI, ``(m,)``.

    ``unit`` is a latent unit or a variable of a structural generator (a hard
    do on it). Values are ``num_values`` evenly spaced quantiles of the unit's
    observational distribution, so the fit weighs them as that distribution
    does: this is the estimand a correctly adjusted observational linear
    regression (e.g. DoWhy's backdoor ``linear_regression``) targets, which
    makes the two comparable even when the mechanism is nonlinear. Per-sample
    slopes are averaged, paired by common random numbers.
    """
    k_z, k_boot = jax.random.split(key)
    z = generator.sample_latent(k_z, n)
    values = jnp.quantile(unit_values(generator, z, [unit])[:, 0], jnp.linspace(0.0, 1.0, num_values, dtype=jnp.float32))
    y = sweep(generator, z, do_batch([unit] * num_values, values, generator=generator), outcome)  # (V, n, m)
    v = values - values.mean()
    slopes = jnp.einsum("v,vnm->nm", v, y) / jnp.sum(v * v)
    return bootstrap_mean(slopes, k_boot, num_bootstrap, level)


# -- influence maps and hybridization ----------------------------------------------------------------------


def _images(x):
    return x


def _abs_change_map(images, base):
    return jnp.abs(images - base).mean(axis=(0, -1))


def influence_maps(generator: Generator, z: jax.Array, interventions: Intervention, *, max_images: int = 2048) -> jax.Array:
    """Per-pixel influence ``E|image(intervention) - image|`` (mean over samples and colour channels), ``(K, H, W)``.

    Besserve et al. 2020 use these maps of hybridized channels to find modules.
    ``interventions`` is a batch with leading axis ``K``.
    """
    generator.check_latent(z)
    interventions, k = _prepare(generator, z, interventions)
    base = observe(generator, z, _images)
    return _map_interventions(generator, z, interventions, base, _images, _abs_change_map, _chunk(k, z.shape[0], max_images))


def hybridization_matrix(
    generator: Generator,
    outcome: Outcome,
    layer: str,
    groups: Sequence[Sequence[int]],
    *,
    key: jax.Array,
    n: int = 256,
    group_names: Sequence[str] | None = None,
    outcome_names: Sequence[str] | None = None,
    num_bootstrap: int = 1000,
    level: float = 0.95,
) -> EffectMatrix:
    """Channel groups × outcomes: ``E|Y(hybrid) - Y|`` when a group of ``layer`` comes from another sample (Besserve et al. 2020).

    Groups are padded to equal size by repeating their first channel (a no-op
    for hybridization) so that all groups run in one sweep.
    """
    k_z, k_donor, k_boot = jax.random.split(key, 3)
    z, donor = generator.sample_latent(k_z, n), generator.sample_latent(k_donor, n)
    width = max(len(g) for g in groups)
    channels = np.asarray([list(g) + [g[0]] * (width - len(g)) for g in groups], np.int32)
    batch = Hybridize(layer, jnp.asarray(channels), jnp.broadcast_to(donor, (len(groups),) + donor.shape))
    y = sweep(generator, z, batch, outcome)
    base = observe(generator, z, outcome)
    effect = bootstrap_mean(_diffs(y, base, True, outcome), k_boot, num_bootstrap, level)
    names = group_names or [f"{layer}[{','.join(map(str, g))}]" for g in groups]
    return _matrix(effect, base.std(axis=0), names, outcome_columns(outcome, y.shape[-1], outcome_names), level, "magnitude")


def modularity(matrix: EffectMatrix) -> np.ndarray:
    """Per-row modularity (Ridgeway & Agakov 2018) of the standardized absolute effects: 1 when a unit moves one outcome only.

    ``1 - Σ_{j≠j*} θ_j² / (θ_{j*}² (m - 1))`` with ``θ`` the row and ``j*`` its
    largest entry; rows with no effect score 0.
    """
    squared = matrix.standardized() ** 2
    m = squared.shape[1]
    peak = squared.max(axis=1)
    rest = squared.sum(axis=1) - peak
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(peak > 0, 1.0 - rest / (peak * max(m - 1, 1)), 0.0)
    return score
