"""Generators from Flax models trained elsewhere: NNX modules and Linen modules with their variables.

Layers are named by their path of submodules, joined with dots: NNX attributes
and list indices (``decoder.up2``, ``layers.0``), Linen names (``decoder.Conv_1``,
``layers_0``). A layer's output is what its ``__call__`` returns, so
``Ablate("decoder.up2", ...)`` edits exactly that value and the forward pass goes
on unchanged: no rewrite of the model. Put the model into inference mode first
(NNX ``model.eval()``; a Linen ``method`` that passes ``train=False``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from ..errors import ConfigError
from ..generator import Generator
from .staging import staged_generator

Method = str | Callable


def _path(parts) -> str:
    return ".".join(str(p) for p in parts)


class _Tapped:
    """Stands in for an NNX submodule: calls it, then hands its output to the hook."""

    def __init__(self, module, path: str, hook):
        self._module, self._path, self._hook = module, path, hook

    def __call__(self, *args, **kwargs):
        return self._hook(self._path, self._module(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._module, name)


@dataclasses.dataclass(frozen=True)
class NNXForward:
    """Tapped forward pass of an NNX module: merged afresh on every call, so tapping never touches the caller's model."""

    graphdef: Any
    method: Method

    def __call__(self, state, z, hook, paths):
        from flax import nnx

        model = nnx.merge(self.graphdef, state)
        modules = dict(nnx.iter_modules(model))
        for parts, module in modules.items():
            name = _path(parts)
            if not parts or not callable(module) or (paths is not None and name not in paths):
                continue  # the root, containers (nnx.List) and untapped layers stay as they are
            parent, key, tapped = modules[parts[:-1]], parts[-1], _Tapped(module, name, hook)
            if isinstance(key, str) and hasattr(parent, key):
                setattr(parent, key, tapped)
            else:  # an item of an nnx.List or nnx.Dict
                parent[key] = tapped
        return _call(model, self.method, z)


@dataclasses.dataclass(frozen=True, eq=False)
class LinenForward:
    """Tapped forward pass of a Linen module through ``nn.intercept_methods`` (identity-hashed)."""

    module: Any
    method: Method

    def __call__(self, variables, z, hook, paths):
        import flax.linen as nn

        def intercept(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            path = _path(context.module.path)
            if context.method_name == "__call__" and path and (paths is None or path in paths):
                out = hook(path, out)
            return out

        with nn.intercept_methods(intercept):
            return self.module.apply(variables, z, method=self.method)


def _check_method(model, method: Method) -> None:
    if isinstance(method, str) and not callable(getattr(model, method, None)):
        raise ConfigError(f"{type(model).__name__} has no method {method!r} to generate with")


def _call(model, method: Method, z):
    return getattr(model, method)(z) if isinstance(method, str) else method(model, z)


def nnx_generator(
    model,
    latent_dim: int,
    *,
    layers: Sequence[str] | None = None,
    method: Method = "__call__",
    output: Callable | None = None,
    prior=None,
    latent_names: Sequence[str] | None = None,
    name: str | None = None,
) -> Generator:
    """A :class:`Generator` from an NNX module mapping latents ``(n, latent_dim)`` to images.

    Args:
      model: the module; its state (``nnx.split``) becomes the generator's params.
      layers: layer paths to intervene on, in forward order (default: every submodule
        that cuts the forward pass; see :mod:`genstyle_causal.adapters.staging`).
      method: the method that generates (name, or ``fn(model, z)``), e.g. ``"decode"``.
      output: applied to the method's result, e.g. ``jax.nn.sigmoid`` for logits.
      prior: ``prior(key, n) -> z`` (default N(0, I)); latent_names: default ``z0..``.
    """
    from flax import nnx

    _check_method(model, method)
    training = [_path(p) or "(the model)" for p, m in nnx.iter_modules(model)
                if getattr(m, "deterministic", None) is False or getattr(m, "use_running_average", None) is False]
    if training:
        raise ConfigError(f"{type(model).__name__} is in training mode ({training[0]} uses dropout or batch "
                          "statistics); call model.eval() first so that generating is deterministic")
    graphdef, state = nnx.split(model)
    return staged_generator(NNXForward(graphdef, method), state, latent_dim, layers=layers, prior=prior,
                            latent_names=latent_names, output=output, name=name or type(model).__name__)


def linen_generator(
    module,
    variables,
    latent_dim: int,
    *,
    layers: Sequence[str] | None = None,
    method: Method = "__call__",
    output: Callable | None = None,
    prior=None,
    latent_names: Sequence[str] | None = None,
    name: str | None = None,
) -> Generator:
    """A :class:`Generator` from a Linen module and its variables (the generator's params); arguments as :func:`nnx_generator`,
    with ``method`` a method name or ``fn(module, z)`` as ``Module.apply`` takes it."""
    _check_method(module, method)
    return staged_generator(LinenForward(module, method), variables, latent_dim,
                            layers=layers, prior=prior, latent_names=latent_names, output=output,
                            name=name or type(module).__name__)
