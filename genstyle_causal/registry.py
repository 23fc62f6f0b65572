"""What ``train`` can train and ``audit`` can audit: one entry per model, one per generator source.

A :class:`ModelEntry` says how to train a model into a run directory from the
run's configuration, and how to load what it trained back as a :class:`Trained`
(its :class:`~genstyle_causal.generator.Generator`, dataset and optional encoder).
Its options dataclass becomes the ``<name>.*`` section of ``train``'s config.
Models trained by the one loop (:func:`~genstyle_causal.train.fit`) need only a
task builder and a wrapper, via :func:`fitted_model`. Every model with a loader is
also an ``audit`` generator (from a train run), beside the sources in :data:`GENERATORS`
(the dataset oracle).

Adding a model is one options dataclass and one :func:`register_model` call here.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Callable

import jax

from .config import bounded
from .errors import CheckpointError, ConfigError


@dataclasses.dataclass(frozen=True)
class Trained:
    """A trained (or oracle) generator with what audits and reports need around it."""

    generator: Any  # a Generator, or None for models that generate nothing (probe)
    data: Any  # the GroundTruthData it was trained on / renders
    encode: Callable[[jax.Array], jax.Array] | None = None  # images -> code (for disentanglement metrics)
    label: str = ""  # how reports name its code, e.g. "beta-VAE"
    step: int | None = None  # the checkpoint step it was loaded from


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One trainable model.

    Attributes:
      name: the ``model=`` value and the name of its options section.
      summary: one line for ``--help``.
      train: ``(run config, run dir) -> Trained``: trains (resuming what the folder holds).
      check: ``run config -> bytes``: validates every option without writing or training anything;
        returns the predicted peak memory of training (0: unknown).
      load: ``(run config, run dir) -> Trained`` from the latest checkpoint; ``None``: not auditable.
      options: dataclass of the ``<name>.*`` keys (``None``: none).
      ships: the file a finished run holds besides its checkpoints (e.g. ``probe.npz``), or "".
    """

    name: str
    summary: str
    train: Callable[[Any, Path], Trained]
    check: Callable[[Any], int]
    load: Callable[[Any, Path], Trained] | None = None
    options: type | None = None
    ships: str = ""


@dataclasses.dataclass(frozen=True)
class GeneratorEntry:
    """One source of generators for ``audit --set generator=NAME``: ``load(audit config) -> Trained``."""

    name: str
    summary: str
    load: Callable[[Any], Trained]


MODELS: dict[str, ModelEntry] = {}
GENERATORS: dict[str, GeneratorEntry] = {}


def register_model(entry: ModelEntry) -> ModelEntry:
    """Add a model to ``train`` (and, when it has a loader, to ``audit``'s generators)."""
    MODELS[entry.name] = entry
    return entry


def register_generator(entry: GeneratorEntry) -> GeneratorEntry:
    """Add a generator source to ``audit`` (trained models are sources already)."""
    GENERATORS[entry.name] = entry
    return entry


def find_model(name: str) -> ModelEntry:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; valid: {sorted(MODELS)}")
    return MODELS[name]


def generator_names() -> list[str]:
    """Every valid ``audit --set generator=`` value: the registered sources and each loadable model."""
    return sorted({*GENERATORS, *(m for m, e in MODELS.items() if e.load is not None)})


def check_generator(name: str) -> None:
    """A registered generator name, or ``MODULE:FACTORY`` whose factory can be imported."""
    if ":" in name:
        import_factory(name)
    elif name not in generator_names():
        raise ConfigError(f"unknown generator {name!r}; valid: {generator_names()} or MODULE:FACTORY")


@functools.lru_cache(maxsize=None)
def import_factory(spec: str) -> Callable:
    """The callable ``NAME`` of ``MODULE:NAME`` (importable from the current directory) or ``path/file.py:NAME``."""
    where, _, attr = spec.rpartition(":")
    if not where or not attr.isidentifier():
        raise ConfigError(f"generator {spec!r}: expected MODULE:FACTORY or path/file.py:FACTORY")
    try:
        if where.endswith(".py"):
            if not Path(where).is_file():
                raise ConfigError(f"generator {spec!r}: no file {where}")
            found = importlib.util.spec_from_file_location(Path(where).stem, where)
            module = importlib.util.module_from_spec(found)
            found.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(where)
    except ImportError as e:
        raise ConfigError(f"generator {spec!r}: cannot import {where!r}: {e}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"generator {spec!r}: {where!r} has no callable {attr!r}")
    return factory


def audit_dataset(cfg, size: int | None = None):
    """The dataset an audit config names: its labelled data file, else its procedural dataset (default dsprites)."""
    from .data import get_dataset, load_arrays

    if cfg.data:
        return load_arrays(cfg.data)
    return get_dataset(cfg.dataset or "dsprites", size=size or cfg.image_size)


def factory_generator(cfg) -> Trained:
    """``Trained(FACTORY(), the audit's dataset)`` for ``generator=MODULE:FACTORY``."""
    from .generator import Generator

    gen = import_factory(cfg.generator)()
    if not isinstance(gen, Generator):
        raise ConfigError(f"generator {cfg.generator!r} returned {type(gen).__name__}, not a Generator "
                          "(build one with genstyle_causal.adapters.nnx_generator, linen_generator or torch_generator)")
    return Trained(gen, audit_dataset(cfg))


def check_fits(trained: Trained) -> Trained:
    """``trained`` after checking that its generator makes images of its dataset's shape (the probe reads them)."""
    gen, data = trained.generator, trained.data
    shape = tuple(jax.eval_shape(gen.run, jax.ShapeDtypeStruct((1, gen.latent_dim), jax.numpy.float32)).shape[1:])
    if shape != tuple(data.image_shape):
        raise ConfigError(f"generator {gen.name!r} makes images {shape} but dataset {data.name!r} has images "
                          f"{tuple(data.image_shape)}; choose a matching data=, dataset= or image_size=")
    return trained


def dataset_of(cfg):
    """The dataset a train run config names, at its image size."""
    from .data import get_dataset

    return get_dataset(cfg.dataset, size=cfg.image_size)


#: Bytes of XLA temporaries per input pixel-channel of a training step, rounded up from XLA's memory
#: analysis of the VAE (≈ 620) and GAN (≈ 870) steps at 32² and 64²; a prediction, not a measurement.
ACTIVATION_BYTES = 1024


def activation_bytes(cfg, data) -> int:
    """Predicted temporaries of one training step on ``cfg.batch_size`` images of ``data``."""
    h, w, c = data.image_shape
    return cfg.batch_size * h * w * c * ACTIVATION_BYTES


def fitted_model(name: str, summary: str, task: Callable, wrap: Callable, *, options: type | None = None,
                 ships: str = "") -> ModelEntry:
    """An entry for a model trained by :func:`~genstyle_causal.train.fit`.

    ``task(run config) -> (task, batch_fn, data)`` rebuilds everything ``fit`` needs from
    the config alone (cheaply: no parameters); ``wrap(task, state, run config, data) -> Trained``.
    """

    def train(cfg, outdir: Path) -> Trained:
        from .train import fit

        t, batch_fn, data = task(cfg)
        state, _ = fit(t, batch_fn, cfg.train_config(), workdir=outdir)
        return wrap(t, state, cfg, data)

    def load(cfg, run: Path) -> Trained:
        t, _, data = task(cfg)
        state = restore_latest(Path(run) / "checkpoints", t, cfg.seed)
        return dataclasses.replace(wrap(t, state, cfg, data), step=int(state.step))

    def check(cfg) -> int:
        t, _, data = task(cfg)
        state = jax.eval_shape(t.init, jax.random.PRNGKey(0))
        return 2 * sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)) + activation_bytes(cfg, data)

    return ModelEntry(name, summary, train, check, load, options, ships)


def restore_latest(folder: Path, task, seed: int):
    """The newest intact checkpoint in ``folder`` as ``task``'s state, read only (the run may be training)."""
    from .train import Checkpoints
    from .train.checkpoint import saved_steps

    if not saved_steps(folder):
        raise CheckpointError(f"no checkpoint in {folder}")
    ckpt = Checkpoints(folder, read_only=True)
    try:
        return ckpt.restore(jax.eval_shape(task.init, jax.random.PRNGKey(seed)))
    finally:
        ckpt.close()


# -- the models ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VAEOptions:
    """``vae.*``: objective (beta, betatc, factor, dip1, dip2), beta, latent size, Adam learning rate."""

    objective: str = "beta"
    beta: float = bounded(4.0, 0.0)
    latent: int = bounded(10, 1, 65536)
    learning_rate: float = bounded(5e-4, 0.0)


def _vae_task(cfg):
    from .models.vae import VAEConfig, VAETask

    data, v = dataset_of(cfg), cfg.vae
    task = VAETask(VAEConfig(image_shape=data.image_shape, latent=v.latent, objective=v.objective, beta=v.beta,
                             learning_rate=v.learning_rate))
    return task, _images(data, cfg.batch_size), data


def _vae_trained(task, state, cfg, data) -> Trained:
    from .models.vae import vae_generator
    from .sections import mean_encoder

    model = task.model(state.params)
    label = f"{cfg.vae.objective}-VAE"
    return Trained(vae_generator(model, name=f"{cfg.vae.objective}-vae"), data, mean_encoder(model), label)


@dataclasses.dataclass(frozen=True)
class GANOptions:
    """``gan.*``: Gaussian noise units, InfoGAN codes (categories per categorical code, continuous count),
    loss (nonsaturating, wgan-gp), width of the networks."""

    noise_dim: int = bounded(16, 0, 65536)
    categorical: tuple[int, ...] = bounded((), 2, 65536)
    continuous: int = bounded(0, 0, 65536)
    loss: str = "nonsaturating"
    width: int = bounded(32, 1, 4096)


def _gan_task(cfg):
    from .models.gan import GANConfig, GANTask

    data, g = dataset_of(cfg), cfg.gan
    task = GANTask(GANConfig(image_shape=data.image_shape, noise_dim=g.noise_dim, categorical=g.categorical,
                             continuous=g.continuous, loss=g.loss, width=g.width))
    return task, _images(data, cfg.batch_size), data


def _gan_trained(task, state, cfg, data) -> Trained:
    if task.config.num_codes:  # InfoGAN: its Q head reads the codes back, so the metrics score them like an encoder's
        return Trained(task.generator(state), data, task.info_encoder(state), "InfoGAN Q")
    return Trained(task.generator(state), data)


@dataclasses.dataclass(frozen=True)
class CausalVAEOptions:
    """``causalvae.*``: learnable edges (order: forward in the dataset's factor order; free: any DAG), Adam learning
    rates of the networks and of the adjacency."""

    edges: str = "order"
    learning_rate: float = 1e-3
    adjacency_learning_rate: float = 1e-2


def _causalvae_task(cfg):
    from .models.causalvae import CausalVAEConfig, CausalVAETask
    from .models.probe import FactorBatches

    data, c = dataset_of(cfg), cfg.causalvae
    task = CausalVAETask(CausalVAEConfig.for_data(data, edges=c.edges, learning_rate=c.learning_rate,
                                                  adjacency_learning_rate=c.adjacency_learning_rate))
    return task, FactorBatches(data, cfg.batch_size), data


def _causalvae_trained(task, state, cfg, data) -> Trained:
    from .models.causalvae import causalvae_generator

    return Trained(causalvae_generator(task, state, data, key=jax.random.key(cfg.seed)), data, label="CausalVAE")


def _images(data, batch_size: int):
    return lambda k: data.sample(k, batch_size)[1]


def _train_probe(cfg, outdir: Path) -> Trained:
    from .models.probe import train_probe

    data = dataset_of(cfg)
    train_probe(data, key=jax.random.key(cfg.seed), steps=cfg.steps, batch_size=cfg.batch_size, workdir=outdir,
                progress=True)
    return Trained(None, data)


def _check_probe(cfg) -> int:
    from .models.probe import ProbeConfig

    data = dataset_of(cfg)
    ProbeConfig().check_image_shape(tuple(data.image_shape))
    return activation_bytes(cfg, data)


@dataclasses.dataclass(frozen=True)
class AdaINOptions:
    """``adain.*``: encoder layer the decoder inverts, content/style/identity loss weights, Adam learning rate."""

    layer: str = "relu2_1"
    content_weight: float = bounded(0.0, 0.0)
    style_weight: float = bounded(30.0, 0.0)
    identity_weight: float = bounded(300.0, 0.0)
    learning_rate: float = bounded(1e-3, 0.0)


def _adain_config(cfg):
    from .models.style import AdaINConfig

    a = cfg.adain
    return AdaINConfig(layer=a.layer, content_weight=a.content_weight, style_weight=a.style_weight,
                       identity_weight=a.identity_weight, learning_rate=a.learning_rate, image_size=cfg.image_size,
                       batch_size=cfg.batch_size)


def _check_adain(cfg) -> int:
    _adain_config(cfg)
    return 2 * cfg.batch_size * cfg.image_size**2 * 3 * ACTIVATION_BYTES  # content and style batches


def _train_adain(cfg, outdir: Path) -> Trained:
    from .models.style import save_adain, train_adain

    model, _ = train_adain(config=_adain_config(cfg), train=cfg.train_config(), workdir=outdir)
    save_adain(model, outdir / MODELS["adain"].ships)
    return Trained(None, None)


register_model(fitted_model("vae", "a VAE: β-VAE, β-TCVAE, FactorVAE or DIP-VAE", _vae_task, _vae_trained,
                            options=VAEOptions))
register_model(fitted_model("gan", "a DCGAN or InfoGAN", _gan_task, _gan_trained, options=GANOptions))
register_model(fitted_model("causalvae", "a CausalVAE (concepts = the dataset's factors, e.g. the pendulum's)",
                            _causalvae_task, _causalvae_trained, options=CausalVAEOptions))
register_model(ModelEntry("probe", "a factor-reading CNN", _train_probe, _check_probe, ships="probe.npz"))
register_model(ModelEntry("adain", "a style decoder", _train_adain, _check_adain, options=AdaINOptions,
                          ships="adain.npz"))


def _oracle(cfg) -> Trained:
    data = audit_dataset(cfg)
    return Trained(data.oracle(), data)


register_generator(GeneratorEntry("oracle", "the dataset's renderer (latent = true factors)", _oracle))
