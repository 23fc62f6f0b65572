"""Generators from PyTorch modules: the audit drives an ``nn.Module`` through host callbacks.

Each run of the :class:`~genstyle_causal.generator.Generator` is one
:func:`jax.pure_callback`: the batch leaves the JAX computation, PyTorch runs the
module under ``torch.no_grad()`` and the result comes back — one host round trip
(two copies of the batch, plus JAX's callback overhead, measured in
``benchmarks/bench_adapters.py``) per run, in jitted code as well, and no XLA
fusion across it. Under ``vmap`` the callback receives the whole batch at once
(``vmap_method="expand_dims"``), so a sweep is still one PyTorch call per stage.

Interventions act on named submodules (``module.named_modules()`` names, e.g.
``decoder.2``) through forward hooks: a hook returns the edited output, another
stops the pass once the wanted layer has run. A run over several stages is one
pass of the module; a run that starts at an internal layer runs the layers
before it on a zero latent, since PyTorch cannot start a forward pass in the
middle and has no dead-code elimination — so an intervention inside the network
costs up to one extra forward pass. Activations are shown channels-last
(``(n, C, H, W)`` becomes ``(n, H, W, C)``) so ``Ablate``/``Hybridize`` channels
mean the same as for JAX models. The module's weights are read at every call
(they are not the generator's params).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import torch

from ..errors import ConfigError, LayerError, ShapeError
from ..generator import Generator, Stage
from ..models.vae import StandardNormal
from .staging import IMAGE, Reached, TappedGenerator, check_images, check_layers


def _to_jax_layout(t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu().numpy()
    return np.moveaxis(a, 1, -1) if a.ndim >= 3 else a


def _to_torch_layout(a: np.ndarray) -> torch.Tensor:
    """A writable float32 copy, channels-first (callback arrays are read-only views)."""
    return torch.from_numpy(np.array(np.moveaxis(a, -1, 1) if a.ndim >= 3 else a, dtype=np.float32))


@dataclasses.dataclass(eq=False)
class TorchRunner:
    """Runs the module between two named layers on host arrays; one lock keeps the hooks of concurrent calls apart."""

    module: Any
    latent_dim: int
    shapes: dict  # layer ("" = latent, IMAGE = output) -> per-sample shape, channels-last
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def run(self, start: str, stop: str, h: np.ndarray) -> np.ndarray:
        """Output of layer ``stop`` for activations ``h`` at ``start`` (any leading batch axes)."""
        inner = self.shapes[start]
        lead = h.shape[: h.ndim - len(inner)]
        x = np.asarray(h, np.float32).reshape((-1,) + tuple(inner))
        modules = dict(self.module.named_modules())
        device = _device(self.module)
        with self.lock, torch.no_grad():
            handles = []
            if start:
                z = torch.zeros(x.shape[0], self.latent_dim, device=device)
                h_start = _to_torch_layout(x).to(device)
                handles.append(modules[start].register_forward_hook(lambda m, i, o: h_start))
            else:
                z = _to_torch_layout(x).to(device)
            if stop != IMAGE:
                handles.append(modules[stop].register_forward_hook(_stop_hook))
            try:
                out = self.module(z)
            except Reached as reached:
                out = reached.value
            finally:
                for handle in handles:
                    handle.remove()
        y = _to_jax_layout(out).astype(np.float32)
        return y.reshape(lead + y.shape[1:])


def _device(module) -> torch.device:
    """Where the module computes: the device of its parameters (the CPU if it has none)."""
    return next(iter(module.parameters()), torch.zeros(())).device


def _stop_hook(module, inputs, output):
    raise Reached(output)


@dataclasses.dataclass(frozen=True)
class TorchStage:
    """Stage ``(params, h) -> h`` running the module from ``start`` to ``stop`` in a host callback."""

    runner: TorchRunner
    start: str
    stop: str
    output: Callable | None = None

    def __call__(self, params, h):
        del params
        out = jax.ShapeDtypeStruct((h.shape[0],) + tuple(self.runner.shapes[self.stop]), jnp.float32)
        y = jax.pure_callback(lambda a: self.runner.run(self.start, self.stop, a), out, h.astype(jnp.float32),
                              vmap_method="expand_dims")
        return y if self.output is None or self.stop != IMAGE else self.output(y)


def torch_generator(
    module,
    latent_dim: int,
    *,
    layers: Sequence[str] | None = None,
    output: Callable | None = None,
    prior=None,
    latent_names: Sequence[str] | None = None,
    name: str | None = None,
) -> Generator:
    """A :class:`Generator` from a PyTorch module mapping latents ``(n, latent_dim)`` to images ``(n, C, H, W)``.

    Args:
      module: an ``nn.Module`` in eval mode (``module.eval()``), on any device (batches go where its parameters are).
      layers: submodule names to intervene on, in forward order (default: every submodule called once that
        cuts the forward pass, checked numerically on two latents).
      output: a JAX function applied to the images (channels-last), e.g. ``jax.nn.sigmoid``.
      prior, latent_names, name: as :func:`genstyle_causal.adapters.nnx_generator`.
    """
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"torch_generator needs a torch.nn.Module; got {type(module).__name__}")
    if module.training:
        raise ConfigError(f"{type(module).__name__} is in training mode; call module.eval() first so that generating "
                          "does not change it (batch-norm statistics, dropout)")
    name = name or type(module).__name__
    calls, out = _record(module, latent_dim)
    if not isinstance(out, torch.Tensor) or out.ndim != 4:
        raise ShapeError(f"module {name!r} must output an image batch (n, C, H, W); for 2 latents it gives "
                         f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    valid = [n for n, outs in calls.items() if len(outs) == 1 and isinstance(outs[0], torch.Tensor)
             and outs[0].ndim >= 2 and outs[0].shape[0] == 2]
    shapes = {"": (latent_dim,), IMAGE: _to_jax_layout(out).shape[1:]}
    runner = TorchRunner(module, latent_dim, shapes | {n: _to_jax_layout(calls[n][0]).shape[1:] for n in valid})
    if layers is None:
        layers = [n for n in valid if _cut_problem(runner, n) is None]
    else:
        layers = check_layers(layers, calls, valid, name)
        for layer in layers:
            problem = _cut_problem(runner, layer)
            if problem:
                raise LayerError(f"layer {layer!r} of {name!r} does not cut the forward pass: {problem}")
    bounds = ["", *layers, IMAGE]
    stages = [Stage(b, TorchStage(runner, a, b, output)) for a, b in zip(bounds[:-1], bounds[1:])]
    gen = TappedGenerator(stages, None, latent_names=latent_names or [f"z{i}" for i in range(latent_dim)],
                          prior=prior or StandardNormal(latent_dim), name=name)
    check_images(gen)
    return gen


def _record(module, latent_dim: int):
    """``(outputs of every named submodule by name, in order of completion; the module's output)`` for 2 zero latents."""
    calls: dict[str, list] = {}
    named = {n: m for n, m in module.named_modules() if n}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: calls.setdefault(n, []).append(o)) for n, m in named.items()]
    try:
        with torch.no_grad():
            out = module(torch.zeros(2, latent_dim, device=_device(module)))
    finally:
        for handle in handles:
            handle.remove()
    return calls, out


def _cut_problem(runner: TorchRunner, layer: str) -> str | None:
    """Why ``layer`` cannot be a stage, checked numerically on two random latents (``None`` if it cuts the pass)."""
    z = np.random.default_rng(0).standard_normal((2, runner.latent_dim)).astype(np.float32)
    h = runner.run("", layer, z)
    image = runner.run("", IMAGE, z)
    if not np.allclose(image, runner.run(layer, IMAGE, h), rtol=1e-5, atol=1e-6):
        return "the image also depends on the latent through another path (a skip connection or a latent input after it)"
    if np.array_equal(image, runner.run(layer, IMAGE, h + 1.0)):
        return "the image does not depend on it"
    return None
