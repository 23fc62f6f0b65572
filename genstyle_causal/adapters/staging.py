"""Named stages of a forward pass that was written in one piece.

An outside model's forward pass is one function of ``(params, z)``. A *tapped*
forward pass, ``forward(params, z, hook, paths)``, calls ``hook(path, value)``
after each named submodule in ``paths`` (``None``: all) and continues with what
the hook returns. Stage ``k`` of the resulting :class:`~genstyle_causal.generator.Generator`
runs the pass with layer ``k-1``'s output replaced by the stage input and stops
at layer ``k``; a run over several stages is one such pass (:class:`TappedGenerator`).
The layers before the start then run on a zero latent and their result is
discarded: under ``jit`` XLA removes them as dead code, so the staged generator
costs what the model costs.

A layer can be a stage only if it *cuts* the forward pass: what comes after it
must read the latent only through it (no skip connection around it, no latent
injected later) and must use it. Both are checked on the traced program.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax.extend.core import Literal

from ..errors import LayerError, ShapeError
from ..generator import LATENT, Generator, Stage
from ..models.vae import StandardNormal

IMAGE = "image"
Hook = Callable[[str, Any], Any]
Forward = Callable[[Any, jax.Array, Hook, "frozenset[str] | None"], Any]


class Reached(Exception):
    """Carries a stage's output out of the rest of the forward pass."""

    def __init__(self, value):
        super().__init__()
        self.value = value


@dataclasses.dataclass(frozen=True)
class TapStage:
    """Stage ``(params, h) -> h``: the forward pass with ``start``'s output set to ``h``, stopped at ``stop``.

    ``start=None``: ``h`` is the latent; ``stop=None``: run to the end and apply ``output``.
    """

    forward: Forward
    start: str | None
    stop: str | None
    latent_dim: int
    output: Callable | None = None

    def __call__(self, params, h):
        z = h if self.start is None else jnp.zeros((h.shape[0], self.latent_dim), jnp.float32)
        return self.between(params, z, h)

    def between(self, params, z, h):
        """The stage with an explicit latent ``z`` (what the cut check traces)."""

        def hook(path, value):
            if path == self.start:
                if getattr(value, "shape", None) != h.shape:
                    raise ShapeError(f"activations for layer {path!r} must have shape {getattr(value, 'shape', None)}; "
                                     f"got {h.shape}")
                value = h.astype(value.dtype)
            if path == self.stop:
                raise Reached(value)
            return value

        paths = frozenset(p for p in (self.start, self.stop) if p is not None)
        try:
            out = self.forward(params, z, hook, paths)
        except Reached as reached:
            return reached.value
        return out if self.output is None else self.output(out)


@jax.tree_util.register_pytree_node_class
class TappedGenerator(Generator):
    """A :class:`Generator` whose stages cut one forward pass: a run over several stages is one pass of the model
    (from ``start``'s output to ``stop``), not one per stage, so eager calls and tracing cost one forward pass."""

    def run(self, h: jax.Array, *, start: str = LATENT, stop: str | None = None) -> jax.Array:
        i, j = self.stage_span(start, stop)
        if i == j:
            return h
        return dataclasses.replace(self.stages[i].fn, stop=self.stages[j - 1].fn.stop)(self.params, h)


def record_calls(forward: Forward, params, latent_dim: int) -> dict[str, list]:
    """Every submodule path the forward pass calls, in order of completion, with the shapes of its outputs."""
    calls: dict[str, list] = {}

    def hook(path, value):
        calls.setdefault(path, []).append(jax.ShapeDtypeStruct(value.shape, value.dtype) if _is_array(value) else None)
        return value

    jax.eval_shape(lambda p, z: forward(p, z, hook, None), params, jax.ShapeDtypeStruct((2, latent_dim), jnp.float32))
    return calls


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and len(value.shape) >= 2 and value.shape[0] == 2


def tappable(calls: dict[str, list]) -> tuple[str, ...]:
    """Paths called exactly once with one array output of batch size 2 (the probe batch)."""
    return tuple(p for p, outs in calls.items() if len(outs) == 1 and outs[0] is not None)


def check_layers(layers: Sequence[str], calls, valid: Sequence[str], name: str) -> list[str]:
    """``layers`` as a list after checking that each is a valid layer and that they come in forward order."""
    layers = list(layers)
    for layer in layers:
        if layer not in valid:
            why = "is called more than once" if layer in calls else "is not a submodule called by the forward pass"
            raise LayerError(f"layer {layer!r} of {name!r} {why}; valid layers: {list(valid)}")
    order = [p for p in valid if p in layers]
    if order != layers:
        raise LayerError(f"layers of {name!r} must be listed in forward order: {order}")
    return layers


def cut_problem(forward: Forward, params, latent_dim: int, layer: str, shape) -> str | None:
    """Why ``layer`` cannot be a stage (``None`` if it cuts the forward pass)."""
    stage = TapStage(forward, layer, None, latent_dim)
    z = jax.ShapeDtypeStruct((shape.shape[0], latent_dim), jnp.float32)
    closed = jax.make_jaxpr(lambda z, h, p: stage.between(p, z, h))(z, shape, params)
    from_z, from_h = _reaches(closed.jaxpr, 0), _reaches(closed.jaxpr, 1)
    if from_z:
        return "the output also depends on the latent through another path (a skip connection or a latent input after it)"
    if not from_h:
        return "the output does not depend on it"
    return None


def _reaches(jaxpr, source: int) -> bool:
    """Whether any output of ``jaxpr`` depends on input ``source`` (conservatively through nested calls)."""
    tainted = {jaxpr.invars[source]}
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, Literal) and v in tainted for v in eqn.invars):
            tainted.update(eqn.outvars)
    return any(not isinstance(v, Literal) and v in tainted for v in jaxpr.outvars)


def staged_generator(
    forward: Forward,
    params,
    latent_dim: int,
    *,
    layers: Sequence[str] | None,
    prior=None,
    latent_names: Sequence[str] | None = None,
    output: Callable | None = None,
    name: str,
) -> Generator:
    """A :class:`Generator` with one stage per layer (in forward order) and a final ``image`` stage.

    ``layers=None`` takes every layer that cuts the forward pass. Raises
    :class:`LayerError` for an unknown layer (listing the valid ones) or one that
    does not cut the pass, :class:`ShapeError` unless the output is an image batch.
    """
    calls = record_calls(forward, params, latent_dim)
    valid = tappable(calls)
    if layers is None:
        chosen = [p for p in valid if cut_problem(forward, params, latent_dim, p, calls[p][0]) is None]
    else:
        chosen = check_layers(layers, calls, valid, name)
        for layer in chosen:
            problem = cut_problem(forward, params, latent_dim, layer, calls[layer][0])
            if problem:
                raise LayerError(f"layer {layer!r} of {name!r} does not cut the forward pass: {problem}; interventions "
                                 f"there would need the latent. Layers that do: "
                                 f"{[p for p in valid if cut_problem(forward, params, latent_dim, p, calls[p][0]) is None]}")
    bounds = [None, *chosen, None]
    stages = [Stage(s if s is not None else IMAGE, TapStage(forward, a, s, latent_dim, output))
              for a, s in zip(bounds[:-1], bounds[1:])]
    gen = TappedGenerator(stages, params, latent_names=latent_names or [f"z{i}" for i in range(latent_dim)],
                          prior=prior or StandardNormal(latent_dim), name=name)
    check_images(gen)
    return gen


def check_images(gen: Generator) -> None:
    """Raise :class:`ShapeError` unless the generator maps latents ``(n, d)`` to float images ``(n, H, W, C)``, C in (1, 3)."""
    out = jax.eval_shape(gen.run, jax.ShapeDtypeStruct((2, gen.latent_dim), jnp.float32))
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 4 or shape[0] != 2 or shape[3] not in (1, 3) or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ShapeError(f"generator {gen.name!r} must output an image batch (n, H, W, C) of floats with C in (1, 3); "
                         f"for 2 latents it gives {getattr(out, 'dtype', type(out).__name__)} {shape} (reshape or "
                         "transpose it with output=...)")
