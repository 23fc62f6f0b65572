"""Interventions on a staged :class:`~genstyle_causal.generator.Generator`, as data.

An intervention is anything with a ``layer`` (where it acts) and a pure
``edit(generator, h, z) -> h`` of the activations there: :func:`intervene`
runs the generator to that layer, ``h = g.run(z, stop=layer)``, edits ``h`` and
continues with ``g.run(h, start=layer)``. That small protocol is the whole
contract, so a new kind of intervention is a new class, not an edit of this
module: decorate it with :func:`intervention_type` to make it a frozen
dataclass and a JAX pytree whose numbers (units, values, channels, donors) are
leaves and whose names (layer, mode) are static. An optional
``bind(generator)`` turns names into checked indices before ``jit``.

A batch of interventions (leaves with a leading axis ``K``) is what
:func:`genstyle_causal.causal.effects.sweep` maps over: it edits the shared
activations once per intervention and runs the rest of the generator on all
edited batches flattened into one.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Protocol, Sequence, Union, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError, LayerError, ShapeError, UnitError
from ..generator import LATENT, Generator

Unit = Union[int, str, Sequence[Union[int, str]], jax.Array]


@runtime_checkable
class Intervention(Protocol):
    """The intervention protocol: the ``layer`` it acts at and a pure edit of the activations ``h`` there.

    ``edit`` gets the generator (its params and stages), the activations ``h``
    at ``layer`` and the base latents ``z``; it returns edited activations of
    the same shape. It must be traceable (no Python branching on values).
    """

    layer: str

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array: ...


def intervention_type(*, data: Sequence[str], meta: Sequence[str] = ()):
    """Class decorator: a frozen dataclass registered as a pytree (``data`` fields are leaves, ``meta`` static)."""

    def register(cls):
        cls = dataclasses.dataclass(frozen=True)(cls)
        return jax.tree_util.register_dataclass(cls, data_fields=list(data), meta_fields=list(meta))

    return register


def is_concrete(x) -> bool:
    """Whether no leaf of ``x`` is a tracer (so its values can be checked in Python)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def _names_or_indices(unit) -> list:
    if isinstance(unit, (str, int, np.integer)):
        return [unit]
    if isinstance(unit, (tuple, list)):
        return list(unit)
    return [int(u) for u in np.asarray(unit).ravel()]


def unit_indices(generator: Generator, unit: Unit) -> jax.Array | int:
    """Latent index (or int32 array of indices) of ``unit``: a position, a name, a sequence or an array of them.

    Concrete values are range-checked (:class:`UnitError` names the valid ones);
    a traced array is passed through.
    """
    if isinstance(unit, (str, int, np.integer)):
        return generator.unit_index(unit)
    if not is_concrete(unit):
        return jnp.asarray(unit, jnp.int32)
    if isinstance(unit, (tuple, list)):
        return jnp.asarray([generator.unit_index(u) for u in unit], jnp.int32)
    for u in np.asarray(unit).ravel():
        generator.unit_index(int(u))
    return jnp.asarray(unit, jnp.int32)


def _check_donor(z: jax.Array, donor: jax.Array, what: str) -> None:
    if getattr(donor, "shape", None) != z.shape:
        raise ShapeError(f"{what} donor latents must have the shape of the latent batch {z.shape}; got {getattr(donor, 'shape', None)}")


def _check_channels(generator: Generator, layer: str, channels) -> None:
    """Range-check concrete channel indices against the last axis of ``layer`` (computed abstractly)."""
    if not is_concrete(channels):
        return
    size = generator.layer_shape(layer)[-1]
    bad = [int(c) for c in np.asarray(channels).ravel() if not 0 <= int(c) < size]
    if bad:
        raise UnitError(
            f"channel {bad[0]} is out of range for layer {layer!r} of {generator.name!r}, "
            f"which has {size} channels (valid 0..{size - 1})"
        )


def _as_value(value, h: jax.Array) -> jax.Array:
    return jnp.asarray(value, h.dtype)


@intervention_type(data=("unit", "value"))
class Do:
    """do(unit = value): a latent unit (index or name), several at once (a joint do), or a variable.

    On a structural generator (:mod:`genstyle_causal.structural`) a variable's
    name makes it a hard intervention on that variable: its mechanism is
    replaced by the constant, its non-descendants stay bit-identical and its
    descendants are recomputed. ``Do(("a", "b"), (1.0, 2.0))`` sets both.
    """

    unit: Unit
    value: Any
    layer = LATENT

    def bind(self, generator: Generator):
        structural = _structural_form(generator, self.unit, set_values=self.value)
        return structural if structural is not None else dataclasses.replace(self, unit=unit_indices(generator, self.unit))

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return h.at[:, self.unit].set(_as_value(self.value, h))


@intervention_type(data=("unit", "delta"))
class Shift:
    """unit ← unit + delta: a soft intervention that keeps each sample's own value.

    On a latent unit it shifts the latent; on a structural generator's variable
    it adds ``delta`` to the variable's mechanism, so its descendants follow.
    """

    unit: Unit
    delta: Any
    layer = LATENT

    def bind(self, generator: Generator):
        structural = _structural_form(generator, self.unit, shift=self.delta)
        return structural if structural is not None else dataclasses.replace(self, unit=unit_indices(generator, self.unit))

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return h.at[:, self.unit].add(_as_value(self.delta, h))


def variables_named(generator: Generator, units) -> list[str] | None:
    """``units`` as variable names when they name variables of a structural generator, ``None`` when they are latent units.

    Raises :class:`UnitError` for a mix of the two.
    """
    if generator.scm is None or not is_concrete(units):
        return None
    names = _names_or_indices(units)
    is_variable = [isinstance(u, str) and u in generator.variable_names for u in names]
    if not any(is_variable):
        return None
    if not all(is_variable):
        raise UnitError(f"cannot mix variables and latent units in one intervention: {names}")
    return names


def _structural_form(generator: Generator, unit, **kwargs):
    """The structural intervention meant by a ``Do``/``Shift`` naming variables of a structural generator, else ``None``."""
    names = variables_named(generator, unit)
    if names is None:
        return None
    from ..structural import structural_intervention

    return structural_intervention(generator, names, **kwargs)


@intervention_type(data=("channels",), meta=("layer", "mode"))
class Ablate:
    """Set channels (last axis) of a layer to zero, or to their mean over the batch (GAN Dissection, Bau et al. 2019).

    Mean ablation keeps the layer's first moment, so an effect reflects the
    information the channels carry rather than their removed offset.
    """

    layer: str
    channels: tuple[int, ...] | jax.Array
    mode: Literal["zero", "mean"] = "zero"

    def bind(self, generator: Generator):
        if self.mode not in ("zero", "mean"):
            raise ConfigError(f"Ablate mode must be 'zero' or 'mean'; got {self.mode!r}")
        _check_channels(generator, self.layer, self.channels)
        return self

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        ch = jnp.asarray(self.channels, jnp.int32)
        fill = jnp.zeros_like(h[..., ch]) if self.mode == "zero" else jnp.broadcast_to(h[..., ch].mean(0), h[..., ch].shape)
        return h.at[..., ch].set(fill)


@intervention_type(data=("channels", "donor"), meta=("layer",))
class Hybridize:
    """Counterfactual hybridization (Besserve et al. 2020): channels of ``layer`` come from the donor's forward pass."""

    layer: str
    channels: tuple[int, ...] | jax.Array
    donor: jax.Array

    def bind(self, generator: Generator):
        _check_channels(generator, self.layer, self.channels)
        return self

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        _check_donor(z, self.donor, "Hybridize")
        ch = jnp.asarray(self.channels, jnp.int32)
        h_donor = generator.run(self.donor, stop=self.layer)
        return h.at[..., ch].set(h_donor[..., ch])


def _swap(generator: Generator, h: jax.Array, z: jax.Array, layer: str, donor: jax.Array, part: str, what: str) -> jax.Array:
    """Activations ``h`` at ``layer`` with ``part`` ("style" or "content") taken from the donor (see :class:`SwapStyle`)."""
    _check_donor(z, donor, what)
    if layer == LATENT:
        groups = generator.groups
        if part not in groups:
            raise LayerError(
                f"{what} at layer 'latent' needs a {part!r} unit group, but {generator.name!r} has groups "
                f"{sorted(groups)}; use a feature-map layer of {list(generator.layer_names[1:])}"
            )
        units = jnp.asarray(groups[part], jnp.int32)
        return h.at[:, units].set(donor[:, units])
    if h.ndim != 4:
        raise ShapeError(f"{what} needs a feature map (n, h, w, c) at layer {layer!r}; it has shape {h.shape}")
    from ..models.style.stats import adain  # imported on use: the style stack is heavy to import

    h_donor = generator.run(donor, stop=layer)
    return adain(h, h_donor) if part == "style" else adain(h_donor, h)


@intervention_type(data=("donor",), meta=("layer",))
class SwapStyle:
    """Give each sample the donor's style.

    At ``latent`` (a generator with a ``style`` unit group, e.g. the styleshapes
    oracle) the donor's style units are copied; at a feature map the sample's
    activations get the donor's per-channel mean and std (AdaIN).
    """

    layer: str
    donor: jax.Array

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return _swap(generator, h, z, self.layer, self.donor, "style", "SwapStyle")


@intervention_type(data=("donor",), meta=("layer",))
class SwapContent:
    """Give each sample the donor's content: the donor's content units, or its normalised features under the sample's own mean/std."""

    layer: str
    donor: jax.Array

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return _swap(generator, h, z, self.layer, self.donor, "content", "SwapContent")


def check_intervention(intervention) -> None:
    """Raise ``TypeError`` unless ``intervention`` follows the :class:`Intervention` protocol."""
    if not isinstance(intervention, Intervention):
        raise TypeError(
            f"not an intervention: {intervention!r}; an intervention has a `layer` name and an "
            "`edit(generator, h, z)` method (e.g. Do, Shift, Ablate, Hybridize, SwapStyle, SwapContent)"
        )


def resolve(generator: Generator, intervention: Intervention | None) -> Intervention | None:
    """The intervention bound to ``generator`` (names → checked indices, variables → structural form), ready for ``jit``."""
    if intervention is None:
        return None
    check_intervention(intervention)
    bind = getattr(intervention, "bind", None)
    bound = bind(generator) if bind is not None else intervention
    generator.layer_index(bound.layer)
    return bound


def intervene(generator: Generator, z: jax.Array, intervention: Intervention | None) -> jax.Array:
    """Images the generator makes from latents ``z`` under ``intervention`` (``None``: no intervention).

    Runs to the intervention's layer, edits the activations there
    (``intervention.edit(generator, h, z)``) and runs on. Pure and jit-able
    once bound (names are resolved here when the intervention is concrete); the
    same function serves VAE decoders, GAN generators, the AdaIN decoder,
    dataset oracles and structural generators.
    """
    generator.check_latent(z)
    if intervention is None:
        return generator.run(z)
    intervention = resolve(generator, intervention) if is_concrete(intervention) else intervention
    h = generator.run(z, stop=intervention.layer)
    return generator.run(intervention.edit(generator, h, z), start=intervention.layer)
