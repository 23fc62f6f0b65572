"""The one generator abstraction every audit runs on.

A :class:`Generator` is a pure image generator split into named *stages*:
``latent -> stage_1 -> ... -> image``. Splitting the forward pass is what makes
internal-layer interventions pure and cheap: the activations of layer ``l`` are
``g.run(z, stop=l)``, and generation continues from edited activations with
``g.run(h, start=l)``. Dataset renderers (oracles), VAE decoders, GAN generators
and the AdaIN decoder all become ``Generator`` s, so the causal module never
needs to know which one it audits.

A ``Generator`` is a JAX pytree: its ``params`` are leaves, everything else is
static, so it can be passed straight into ``jax.jit``/``vmap``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from .errors import LayerError, ShapeError, UnitError

LATENT = "latent"


class Stage(NamedTuple):
    """One named step of a generator: ``fn(params, h) -> h`` on a batch."""

    name: str
    fn: Callable[[Any, jax.Array], jax.Array]


@jax.tree_util.register_pytree_node_class
class Generator:
    """A staged, pure generator ``z (n, d) -> images (n, H, W, C)``.

    Args:
      stages: the forward pass as named stages; the last one outputs images.
      params: pytree handed to every stage function (``None`` for oracles).
      latent_names: one name per latent unit (``z0..`` for learned models,
        factor names for dataset oracles).
      prior: ``prior(key, n) -> z`` samples the latent distribution the model
        was trained with; audits draw their base samples from it.
      unit_groups: optional named groups of latent units, e.g.
        ``{"content": (0, 1), "style": (2, 3)}`` for style/content oracles.
      name: shown in reports.
      dataset: the ground-truth dataset this generator renders, for oracles
        (its readout and true graph then describe this generator); ``None``
        for learned models, which are never matched to a dataset by size.
      scm: for a structural generator (:mod:`genstyle_causal.structural`), the
        structural model its first stage solves; its variables accept hard
        ``Do`` by name.
    """

    def __init__(
        self,
        stages: Sequence[Stage],
        params: Any = None,
        *,
        latent_names: Sequence[str],
        prior: Callable[[jax.Array, int], jax.Array],
        unit_groups: Mapping[str, Sequence[int]] | None = None,
        name: str = "generator",
        dataset: Any = None,
        scm: Any = None,
    ):
        self.stages = tuple(Stage(*s) for s in stages)
        if not self.stages:
            raise ValueError("a Generator needs at least one stage")
        names = [s.name for s in self.stages]
        if LATENT in names or len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique and not {LATENT!r}: {names}")
        self.params = params
        self.latent_names = tuple(latent_names)
        self.prior = prior
        self.unit_groups = tuple((k, tuple(int(i) for i in v)) for k, v in (unit_groups or {}).items())
        self.name = name
        self.dataset = dataset
        self.scm = scm
        if scm is not None and self.stages[0].name != scm.layer:
            raise ValueError(f"a structural generator's first stage must be its variables stage {scm.layer!r}; got {names[0]!r}")

    # -- pytree protocol: params are children, the rest is static -------------------
    def _static(self):
        return (self.stages, self.latent_names, self.prior, self.unit_groups, self.name, self.dataset, self.scm)

    def tree_flatten(self):
        return (self.params,), self._static()

    @classmethod
    def tree_unflatten(cls, static, children):
        obj = object.__new__(cls)
        obj.stages, obj.latent_names, obj.prior, obj.unit_groups, obj.name, obj.dataset, obj.scm = static
        (obj.params,) = children
        return obj

    # -- names -------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return len(self.latent_names)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """``("latent", stage names...)``: every place an intervention can act."""
        return (LATENT,) + tuple(s.name for s in self.stages)

    @property
    def groups(self) -> dict[str, tuple[int, ...]]:
        return dict(self.unit_groups)

    def layer_index(self, layer: str) -> int:
        """Position of ``layer`` in :attr:`layer_names`; raises :class:`LayerError`."""
        try:
            return self.layer_names.index(layer)
        except ValueError:
            raise LayerError(
                f"unknown layer {layer!r} of generator {self.name!r}; valid layers: {list(self.layer_names)}"
            ) from None

    def unit_index(self, unit: int | str) -> int:
        """Index of a latent unit given by position or name; raises :class:`UnitError`."""
        if isinstance(unit, str):
            if unit not in self.latent_names:
                variables = f"; variables: {list(self.variable_names)}" if self.scm is not None else ""
                raise UnitError(f"unknown latent unit {unit!r}; valid names: {list(self.latent_names)}{variables}")
            return self.latent_names.index(unit)
        if not 0 <= int(unit) < self.latent_dim:
            raise UnitError(
                f"latent unit {unit} is out of range: generator {self.name!r} has latent size {self.latent_dim} "
                f"(valid indices 0..{self.latent_dim - 1})"
            )
        return int(unit)

    def check_latent(self, z: jax.Array) -> None:
        """Raise :class:`ShapeError` unless ``z`` is a float batch of shape (n, latent_dim)."""
        shape = getattr(z, "shape", None)
        if shape is None or len(shape) != 2 or shape[1] != self.latent_dim:
            raise ShapeError(f"latent batch must have shape (n, {self.latent_dim}) for {self.name!r}; got {shape}")
        if not jnp.issubdtype(z.dtype, jnp.floating):
            raise ShapeError(f"latent batch must be floating point; got dtype {z.dtype}")

    # -- forward -----------------------------------------------------------------
    def stage_span(self, start: str = LATENT, stop: str | None = None) -> tuple[int, int]:
        """``(i, j)``: running from layer ``start`` to ``stop`` (default: the image) applies ``stages[i:j]``."""
        i = self.layer_index(start)
        j = len(self.stages) if stop is None else self.layer_index(stop)
        if j < i:
            raise LayerError(f"layer {stop!r} comes before {start!r} in {list(self.layer_names)}")
        return i, j

    def run(self, h: jax.Array, *, start: str = LATENT, stop: str | None = None) -> jax.Array:
        """Apply the stages after layer ``start`` up to and including ``stop`` (default: the image)."""
        i, j = self.stage_span(start, stop)
        for stage in self.stages[i:j]:
            h = stage.fn(self.params, h)
        return h

    def __call__(self, z: jax.Array) -> jax.Array:
        return self.run(z)

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return self.prior(key, n)

    def layer_shape(self, layer: str, n: int = 1) -> tuple[int, ...]:
        """Shape of one batch of ``n`` activations at ``layer`` (computed abstractly, no FLOPs)."""
        z = jax.ShapeDtypeStruct((n, self.latent_dim), jnp.float32)
        return jax.eval_shape(lambda g, z: g.run(z, stop=layer), self, z).shape

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the structural variables (empty unless this is a structural generator)."""
        return () if self.scm is None else tuple(self.scm.variable_names)

    def __repr__(self) -> str:
        return f"Generator({self.name!r}, latent={self.latent_dim}, layers={list(self.layer_names)})"
