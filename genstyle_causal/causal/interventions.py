"""Interventions on a staged :class:`~genstyle_causal.generator.Generator`, as data.

Each intervention is a small frozen dataclass registered as a JAX pytree: the
numbers it carries (units, values, channels, donor latents) are leaves, the
names (layer, mode) are static. :func:`intervene` applies any of them to any
generator by splitting the forward pass at the intervened layer,
``h = g.run(z, stop=layer)``, editing ``h`` and continuing with
``g.run(h, start=layer)``. A batch of interventions (leaves with a leading axis)
is what :func:`genstyle_causal.causal.effects.sweep` maps over: it edits the
shared activations once per intervention and runs the rest of the generator on
all edited batches flattened into one.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Union

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError, LayerError, ShapeError, UnitError
from ..generator import LATENT, Generator
from ..models.style.stats import adain

Unit = Union[int, str, jax.Array]


def _pytree(data: tuple[str, ...], meta: tuple[str, ...]):
    def register(cls):
        cls = dataclasses.dataclass(frozen=True)(cls)
        return jax.tree_util.register_dataclass(cls, data_fields=list(data), meta_fields=list(meta))

    return register


def _concrete(x) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def _resolve_unit(generator: Generator, unit: Unit) -> jax.Array | int:
    """Index of ``unit`` (position, name or integer array); concrete values are range-checked."""
    if isinstance(unit, (str, int, np.integer)):
        return generator.unit_index(unit)
    if _concrete(unit):
        for u in np.asarray(unit).ravel():
            generator.unit_index(int(u))
    return jnp.asarray(unit, jnp.int32)


def _unit_slot(generator: Generator, z: jax.Array, unit: Unit):
    """``z.at[:, unit]`` for a checked unit, to ``set`` or ``add``."""
    return z.at[:, _resolve_unit(generator, unit)]


def _check_donor(z: jax.Array, donor: jax.Array, what: str) -> None:
    if getattr(donor, "shape", None) != z.shape:
        raise ShapeError(f"{what} donor latents must have the shape of the latent batch {z.shape}; got {getattr(donor, 'shape', None)}")


def _check_channels(generator: Generator, layer: str, h: jax.Array, channels) -> jax.Array:
    """Channel indices (last axis of ``h``) as an int32 array; concrete values are range-checked."""
    size = h.shape[-1]
    if _concrete(channels):
        bad = [int(c) for c in np.asarray(channels).ravel() if not 0 <= int(c) < size]
        if bad:
            raise UnitError(
                f"channel {bad[0]} is out of range for layer {layer!r} of {generator.name!r}, "
                f"which has {size} channels (valid 0..{size - 1})"
            )
    return jnp.asarray(channels, jnp.int32)


@_pytree(data=("unit", "value"), meta=())
class Do:
    """do(z_unit = value) on a latent unit (index or name)."""

    unit: Unit
    value: jax.Array | float
    layer = LATENT

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return _unit_slot(generator, h, self.unit).set(jnp.asarray(self.value, h.dtype))


@_pytree(data=("unit", "delta"), meta=())
class Shift:
    """z_unit ← z_unit + delta on a latent unit: a soft intervention that keeps the sample's own value."""

    unit: Unit
    delta: jax.Array | float
    layer = LATENT

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return _unit_slot(generator, h, self.unit).add(jnp.asarray(self.delta, h.dtype))


@_pytree(data=("channels",), meta=("layer", "mode"))
class Ablate:
    """Set channels (last axis) of a layer to zero, or to their mean over the batch (GAN Dissection, Bau et al. 2019).

    Mean ablation keeps the layer's first moment, so an effect reflects the
    information the channels carry rather than their removed offset.
    """

    layer: str
    channels: tuple[int, ...] | jax.Array
    mode: Literal["zero", "mean"] = "zero"

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        if self.mode not in ("zero", "mean"):
            raise ConfigError(f"Ablate mode must be 'zero' or 'mean'; got {self.mode!r}")
        ch = _check_channels(generator, self.layer, h, self.channels)
        fill = jnp.zeros_like(h[..., ch]) if self.mode == "zero" else jnp.broadcast_to(h[..., ch].mean(0), h[..., ch].shape)
        return h.at[..., ch].set(fill)


@_pytree(data=("channels", "donor"), meta=("layer",))
class Hybridize:
    """Counterfactual hybridization (Besserve et al. 2020): channels of ``layer`` come from the donor's forward pass."""

    layer: str
    channels: tuple[int, ...] | jax.Array
    donor: jax.Array

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        _check_donor(z, self.donor, "Hybridize")
        ch = _check_channels(generator, self.layer, h, self.channels)
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
    h_donor = generator.run(donor, stop=layer)
    return adain(h, h_donor) if part == "style" else adain(h_donor, h)


@_pytree(data=("donor",), meta=("layer",))
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


@_pytree(data=("donor",), meta=("layer",))
class SwapContent:
    """Give each sample the donor's content: the donor's content units, or its normalised features under the sample's own mean/std."""

    layer: str
    donor: jax.Array

    def edit(self, generator: Generator, h: jax.Array, z: jax.Array) -> jax.Array:
        return _swap(generator, h, z, self.layer, self.donor, "content", "SwapContent")


Intervention = Union[Do, Shift, Ablate, Hybridize, SwapStyle, SwapContent]
INTERVENTIONS = (Do, Shift, Ablate, Hybridize, SwapStyle, SwapContent)


def resolve(generator: Generator, intervention: Intervention | None) -> Intervention | None:
    """The intervention with unit names replaced by checked indices, ready to pass through ``jit``."""
    if isinstance(intervention, (Do, Shift)) and isinstance(intervention.unit, str):
        return dataclasses.replace(intervention, unit=generator.unit_index(intervention.unit))
    return intervention


def check_intervention(intervention) -> None:
    if not isinstance(intervention, INTERVENTIONS):
        raise TypeError(f"not an intervention: {intervention!r}; expected one of {[c.__name__ for c in INTERVENTIONS]}")


def intervene(generator: Generator, z: jax.Array, intervention: Intervention | None) -> jax.Array:
    """Images the generator makes from latents ``z`` under ``intervention`` (``None``: no intervention).

    Runs to the intervention's layer, edits the activations there
    (``intervention.edit(generator, h, z)``) and runs on. Pure and jit-able; the
    same function serves VAE decoders, GAN generators, the AdaIN decoder and
    dataset oracles.
    """
    generator.check_latent(z)
    if intervention is None:
        return generator.run(z)
    check_intervention(intervention)
    h = generator.run(z, stop=intervention.layer)
    return generator.run(intervention.edit(generator, h, z), start=intervention.layer)
