"""Structural generators: a structural causal model over named variables, then a renderer.

Declare the variables of a scene — each with its range, its parents, its
mechanism and its exogenous noise — as an :class:`SCM`; the SCM is the first
stage (``"variables"``) of a :class:`~genstyle_causal.generator.Generator`
whose latent code is the exogenous noise ``u`` (one unit ``u_<name>`` per
variable) and whose later stages render the variables to an image.

Every variable is addressable: ``Do("shadow", 3.0)`` on such a generator is a
*hard* intervention — the variable's mechanism is replaced by the constant, its
non-descendants stay bit-identical and its descendants are recomputed from
their mechanisms with their own noise. ``Shift`` adds to a mechanism (a soft
intervention), and several variables can be set or held at once, which is what
controlled direct effects need (:mod:`genstyle_causal.causal.discovery`).

Mechanisms are additive-noise models, ``v = f(parents) + u`` (a root is
``v = u``, its noise being its prior): ``f`` may be any pure, vectorised,
non-monotone function, and the noise of any sample can be recovered from its
variables (:meth:`SCM.abduct`), which is what fixing a factor of a sample needs.
For ``jit`` to reuse compilations, give mechanisms stable identities (module
functions, not lambdas built per call); the noise samplers here compare by value.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from .errors import FactorError, GraphError, ShapeError, UnitError

VARIABLES = "variables"
Mechanism = Callable[[Mapping[str, jax.Array]], jax.Array]


def check_acyclic(graph: nx.DiGraph) -> nx.DiGraph:
    """Return ``graph`` if it is a DAG; else raise :class:`GraphError` showing one cycle."""
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    path = " → ".join([str(u) for u, _ in cycle] + [str(cycle[0][0])])
    raise GraphError(f"the causal graph must be acyclic but has the cycle {path}")


# -- exogenous noise ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Noise uniform on ``[low, high]``."""

    low: float
    high: float

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.uniform(key, (n,), jnp.float32, self.low, self.high)


@dataclasses.dataclass(frozen=True)
class Normal:
    """Centred Gaussian noise with standard deviation ``std`` (0: no noise)."""

    std: float

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return self.std * jax.random.normal(key, (n,), jnp.float32)


@dataclasses.dataclass(frozen=True)
class Choice:
    """Noise drawn uniformly from a grid of ``values`` (a discrete root factor)."""

    values: tuple[float, ...]

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return jnp.asarray(self.values, jnp.float32)[jax.random.randint(key, (n,), 0, len(self.values))]


# -- variables and the model -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variable:
    """One variable of a scene: ``value = mechanism(parents) + noise``, kept inside ``[low, high]``.

    A root (no parents, no mechanism) is its noise, which defaults to
    ``Uniform(low, high)``; give ``noise=Choice(grid)`` for a discrete root.
    An endogenous variable's noise defaults to none (``Normal(0)``). The range
    is what the renderer accepts: a ``Do`` outside it is refused.
    """

    name: str
    low: float
    high: float
    parents: tuple[str, ...] = ()
    mechanism: Mechanism | None = None
    noise: Callable[[jax.Array, int], jax.Array] | None = None

    @property
    def is_root(self) -> bool:
        return not self.parents

    @property
    def exogenous(self) -> Callable[[jax.Array, int], jax.Array]:
        if self.noise is not None:
            return self.noise
        return Uniform(self.low, self.high) if self.is_root else Normal(0.0)


@dataclasses.dataclass(frozen=True)
class SCM:
    """A structural causal model over :class:`Variable` s, listed in any order; it must be a DAG.

    Calling it, ``scm(params, u)``, is the ``"variables"`` stage of a
    structural generator: exogenous noise ``(n, k)`` to variables ``(n, k)``
    in declaration order.
    """

    variables: tuple[Variable, ...]
    layer: str = VARIABLES

    def __post_init__(self):
        object.__setattr__(self, "variables", tuple(self.variables))
        names = [v.name for v in self.variables]
        if not names or len(set(names)) != len(names):
            raise GraphError(f"an SCM needs distinct variable names; got {names}")
        for v in self.variables:
            unknown = [p for p in v.parents if p not in names]
            if unknown:
                raise GraphError(f"variable {v.name!r} has unknown parent(s) {unknown}; variables: {names}")
            if v.parents and v.mechanism is None:
                raise GraphError(f"variable {v.name!r} has parents {list(v.parents)} but no mechanism")
            if v.mechanism is not None and not v.parents:
                raise GraphError(f"variable {v.name!r} has a mechanism but no parents; a root is its noise")
            if not v.low < v.high:
                raise FactorError(f"variable {v.name!r} needs low < high; got [{v.low}, {v.high}]")
        check_acyclic(self.graph())

    # -- names and structure ----------------------------------------------------------------
    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    @property
    def num_variables(self) -> int:
        return len(self.variables)

    def index(self, name: str) -> int:
        """Position of a variable; :class:`UnitError` lists the valid names."""
        if name not in self.variable_names:
            raise UnitError(f"unknown variable {name!r}; variables: {list(self.variable_names)}")
        return self.variable_names.index(name)

    def graph(self) -> nx.DiGraph:
        """The causal DAG: an edge from each parent to its child (the direct-effect graph)."""
        g = nx.DiGraph()
        g.add_nodes_from(self.variable_names)
        g.add_edges_from((p, v.name) for v in self.variables for p in v.parents)
        return g

    @property
    def order(self) -> tuple[int, ...]:
        """Variable indices in a topological order (parents first; ties in declaration order)."""
        g = self.graph()
        return tuple(self.index(name) for name in nx.lexicographical_topological_sort(g, key=self.index))

    def descendants(self, name: str) -> set[str]:
        return nx.descendants(self.graph(), name)

    # -- sampling and solving -----------------------------------------------------------------
    def sample_exogenous(self, key: jax.Array, n: int) -> jax.Array:
        """Exogenous noise ``u`` ``(n, k)``, each variable's drawn independently."""
        keys = jax.random.split(key, self.num_variables)
        return jnp.stack([v.exogenous(k, n) for k, v in zip(keys, self.variables)], axis=1).astype(jnp.float32)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """Observational samples of the variables ``(n, k)``."""
        return self.solve(self.sample_exogenous(key, n))

    def _mechanism(self, i: int, values: list) -> jax.Array:
        v = self.variables[i]
        parents = {p: values[self.index(p)] for p in v.parents}
        return v.mechanism(parents)

    def solve(
        self,
        u: jax.Array,
        *,
        params=None,
        set_mask: jax.Array | None = None,
        set_values: jax.Array | None = None,
        shift: jax.Array | None = None,
        hold_mask: jax.Array | None = None,
        held: jax.Array | None = None,
    ) -> jax.Array:
        """Variables ``(n, k)`` from noise ``u`` ``(n, k)``, under an optional intervention.

        Variable ``i`` is ``set_values[i]`` where ``set_mask[i]`` (hard do),
        ``held[:, i]`` where ``hold_mask[i]`` (held at a given value, e.g. the
        sample's own), else ``f_i(parents) + u_i + shift[i]``. Masks and values
        are ``(k,)`` (or ``(n, k)``, per sample); variables are computed parents first, so every descendant
        of an intervened variable follows it and nothing else changes.
        ``params`` are the generator's (a declared SCM has none; a learned
        structural model reads its mechanisms' weights from them).
        """
        del params
        n, k = u.shape
        values: list = [None] * k
        for i in self.order:
            natural = u[:, i] if self.variables[i].is_root else self._mechanism(i, values) + u[:, i]
            if shift is not None:
                natural = natural + shift[..., i]
            if hold_mask is not None:
                natural = jnp.where(hold_mask[..., i], held[:, i], natural)
            if set_mask is not None:
                natural = jnp.where(set_mask[..., i], set_values[..., i], natural)
            values[i] = natural.astype(jnp.float32)
        return jnp.stack(values, axis=1)

    def __call__(self, params, u: jax.Array) -> jax.Array:
        return self.solve(u, params=params)

    def abduct(self, values: jax.Array) -> jax.Array:
        """The noise ``u`` that produces ``values`` ``(n, k)``: ``u_i = v_i - f_i(parents)`` (additive noise)."""
        cols = [values[:, i] for i in range(self.num_variables)]
        return jnp.stack(
            [cols[i] if v.is_root else cols[i] - self._mechanism(i, cols) for i, v in enumerate(self.variables)], axis=1
        )

    def check_mechanisms(self, n: int = 2) -> None:
        """Raise :class:`ShapeError` naming the variable whose mechanism does not map ``(n,)`` parents to ``(n,)`` floats."""
        for i, v in enumerate(self.variables):
            if v.is_root:
                continue
            parents = {p: jax.ShapeDtypeStruct((n,), jnp.float32) for p in v.parents}
            out = jax.eval_shape(v.mechanism, parents)
            if getattr(out, "shape", None) != (n,) or not jnp.issubdtype(out.dtype, jnp.floating):
                raise ShapeError(
                    f"mechanism of variable {v.name!r} must map parent arrays of shape ({n},) to a float array "
                    f"({n},); got {getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', None)}"
                )

    def check_values(self, names: Sequence[str], values) -> None:
        """Raise :class:`FactorError` if a concrete do-value lies outside its variable's range."""
        for name, value in zip(names, np.broadcast_to(np.asarray(values, np.float64), (len(names),))):
            v = self.variables[self.index(name)]
            tol = 1e-6 * (v.high - v.low)
            if not v.low - tol <= value <= v.high + tol:
                raise FactorError(f"do({name} = {value:g}) is outside the variable's range [{v.low:g}, {v.high:g}]")


# -- interventions on variables ----------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Structural:
    """An intervention on the variables of a structural generator (see :meth:`SCM.solve`).

    ``set_mask``/``set_values`` (hard do), ``shift`` (soft) and ``hold_mask``
    (held at the sample's own, unintervened value) are ``(k,)`` arrays; a batch
    of them has a leading axis. Usually built by :func:`structural_intervention`
    or by ``Do``/``Shift`` naming variables.
    """

    set_mask: jax.Array
    set_values: jax.Array
    shift: jax.Array
    hold_mask: jax.Array
    layer: str = dataclasses.field(default=VARIABLES, metadata=dict(static=True))

    def edit(self, generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return generator.scm.solve(
            z, params=generator.params, set_mask=self.set_mask, set_values=self.set_values, shift=self.shift,
            hold_mask=self.hold_mask, held=h,
        )


def _mask(scm: SCM, names: Sequence[str]) -> np.ndarray:
    mask = np.zeros(scm.num_variables, bool)
    mask[[scm.index(n) for n in names]] = True
    return mask


def structural_intervention(
    generator, names: Sequence[str] = (), *, set_values=None, shift=None, hold: Sequence[str] = ()
) -> Structural:
    """``do(names = set_values)`` (or ``names += shift``) on a structural generator, holding ``hold`` at their sampled values.

    Holding every variable except a target ``Y`` while setting ``X`` gives the
    controlled direct effect of ``X`` on ``Y`` (Pearl 2001). Do-values outside
    a variable's range raise :class:`FactorError`.
    """
    scm = generator.scm
    if scm is None:
        raise UnitError(f"{generator.name!r} is not a structural generator; it has no variables to intervene on")
    names = list(names)
    k = scm.num_variables
    both = set(names) & set(hold)
    if both:
        raise UnitError(f"variables {sorted(both)} cannot be both intervened on and held")
    set_mask = np.zeros(k, bool)
    values = np.zeros(k, np.float32)
    shifts = np.zeros(k, np.float32)
    if set_values is not None:
        scm.check_values(names, set_values)
        set_mask = _mask(scm, names)
        for name, value in zip(names, np.broadcast_to(np.asarray(set_values, np.float32), (len(names),))):
            values[scm.index(name)] = value
    if shift is not None:
        for name, delta in zip(names, np.broadcast_to(np.asarray(shift, np.float32), (len(names),))):
            shifts[scm.index(name)] = delta
    return Structural(jnp.asarray(set_mask), jnp.asarray(values), jnp.asarray(shifts), jnp.asarray(_mask(scm, hold)), scm.layer)


def do_variables(generator, names: Sequence[str], values) -> Structural:
    """A batch of hard interventions ``do(names[i] = values[i])``, one variable each (leading axis ``K``)."""
    scm = generator.scm
    idx = np.asarray([scm.index(n) for n in names], np.int32)
    values = np.asarray(values, np.float32).reshape(len(idx))
    for name, value in zip(names, values):
        scm.check_values([name], value)
    one_hot = np.eye(scm.num_variables, dtype=bool)[idx]
    zeros = jnp.zeros(one_hot.shape, jnp.float32)
    return Structural(jnp.asarray(one_hot), jnp.asarray(one_hot * values[:, None]), zeros, jnp.zeros(one_hot.shape, bool), scm.layer)


def structural_generator(
    scm: SCM,
    stages: Sequence,
    params=None,
    *,
    name: str = "structural",
    dataset=None,
    unit_groups: Mapping[str, Sequence[int]] | None = None,
):
    """A :class:`~genstyle_causal.generator.Generator`: noise ``u`` → ``"variables"`` (the SCM) → ``stages`` → image.

    Latent units are named ``u_<variable>``; the prior is the SCM's noise.
    """
    from .generator import Generator, Stage

    scm.check_mechanisms()
    return Generator(
        [Stage(scm.layer, scm), *stages],
        params,
        latent_names=tuple(f"u_{v}" for v in scm.variable_names),
        prior=scm.sample_exogenous,
        unit_groups=unit_groups,
        name=name,
        dataset=dataset,
        scm=scm,
    )
