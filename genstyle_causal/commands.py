"""The pipelines behind ``genstyle-causal train | audit | stylize | bench``.

:mod:`genstyle_causal.cli` parses the command line; each function here takes a
config dataclass (whose docstring documents every key, and which ``--help``
prints) and a run directory, and writes config, checkpoints, logs, figures,
``results.json`` and a report into it, like :func:`genstyle_causal.demo.run_demo`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .config import MAX_SEED, MAX_STEPS, bounded, from_dict, read_file, to_dict
from .data.images import DEFAULT_MAX_PIXELS
from .errors import CheckpointError, ConfigError
from .io import read_jsonl
from .registry import (MODELS, GENERATORS, Trained, audit_dataset, check_fits, check_generator, factory_generator,
                       find_model)
from .rundir import check_run_directory, open_run
from .sections import MetricsSection, metrics_section

OUTCOMES = ("auto", "readout", "probe")
STATISTICS = ("contrast", "magnitude")
GRAPHS = ("direct", "total")
RUN_FILE = "train.json"  # the train command's config; fit's own config.json sits beside it


def _check_choice(what: str, value: str, valid) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {what} {value!r}; valid: {sorted(valid)}")


def _datasets() -> dict:
    from .data import DATASETS

    return DATASETS


# -- configurations ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _TrainRun:
    """Configuration of ``genstyle-causal train`` (saved as ``train.json`` in the run directory).

    Keys:
      model: what to train: {models}.
      dataset: dsprites, styleshapes or pendulum (adain trains on styleshapes + sample photos).
      image_size: image side in pixels (32 or 64 for the VAE/GAN/probe; a multiple of 8 for adain).
      steps: total optimiser steps; rerunning with a larger value continues the run.
      batch_size: images per step.
      seed: seeds the whole run (with steps it fixes the result).
      steps_per_call: steps fused into one compiled call (logs and checkpoints fall between calls).
      checkpoint_every: steps between checkpoints (a multiple of steps_per_call; 0: only at the end).
{sections}
    A run directory that already holds a run starts from its saved configuration, so
    ``genstyle-causal train --out DIR`` alone resumes it.
    """

    model: str = "vae"
    dataset: str = "dsprites"
    image_size: int = bounded(64, 8, 4096)
    steps: int = bounded(3000, 1, MAX_STEPS)
    batch_size: int = bounded(64, 1)
    seed: int = bounded(0, 0, MAX_SEED)
    steps_per_call: int = bounded(50, 1, MAX_STEPS)
    checkpoint_every: int = bounded(500, 0, MAX_STEPS)

    def __post_init__(self):
        find_model(self.model)
        _check_choice("dataset", self.dataset, _datasets())

    def train_config(self):
        from .train import TrainConfig

        spc = self.steps_per_call
        return TrainConfig(steps=self.steps, seed=self.seed, steps_per_call=spc,
                           log_every=spc * max(1, self.steps // (50 * spc)), checkpoint_every=self.checkpoint_every)


def _with_model_sections(base, name: str):
    """``base`` plus one ``<model>.*`` section per registered model with options, documented in ``--help``."""
    entries = [e for e in MODELS.values() if e.options is not None]
    cls = dataclasses.make_dataclass(name, [
        (e.name, e.options, dataclasses.field(default_factory=e.options)) for e in entries], bases=(base,), frozen=True)
    cls.__module__, cls.__qualname__ = base.__module__, name
    cls.__doc__ = base.__doc__.format(
        models=", ".join(f"{e.name} ({e.summary})" for e in MODELS.values()),
        sections="\n".join(f"      {' '.join(e.options.__doc__.split())}" for e in entries))
    return cls


TrainRunConfig = _with_model_sections(_TrainRun, "TrainRunConfig")


@dataclasses.dataclass(frozen=True)
class AuditRunConfig:
    """Configuration of ``genstyle-causal audit`` (saved as ``config.json`` in the run directory).

    Keys:
      generator: oracle (the dataset's renderer, latent = true factors), a trained model (vae, gan: a train run),
        or MODULE:FACTORY / path/file.py:FACTORY, a function returning a Generator (e.g. a Flax or PyTorch model
        wrapped by genstyle_causal.adapters; MODULE is imported from the current directory).
      run: the train run directory of a vae/gan generator.
      dataset: dsprites, styleshapes, pendulum or sprinkler; empty: the run's dataset (dsprites for the oracle).
      data: a labelled data file instead: the public dSprites .npz, the 3D Shapes .h5, or a .npz with images,
        labels (a complete factor grid) and optionally factor_names; its oracle looks the stored images up.
      graph: direct (an edge X → Y iff Y moves when X is set with every other variable held: the DAG) or total
        (Y moves when X alone is set: the DAG's transitive closure). It applies to structural generators (the
        oracles of the pendulum and sprinkler scenes); for latent units of learned models the two coincide.
      image_size: image side of the oracle's dataset (a trained generator and a data file keep their own).
      outcome: auto (readout when the dataset has one, else probe), readout (the dataset's analytic readout, no
        learning) or probe (a factor-reading CNN).
      probe: a probe file (probe.npz) or a `train --set model=probe` run directory; empty: train one into OUT/probe.
      probe_steps, probe_batch_size: training of that probe.
      seed: seeds the audit.
      samples: latent samples per unit; bootstrap: bootstrap resamples of each CI.
      traversal_values: columns of the traversal grid (prior quantiles 5%..95%).
      statistic: contrast (signed effect of moving a latent unit from its 10% to its 90% quantile) or magnitude
        (mean |change|: finds non-monotone effects); latent-unit audits only.
      min_effect: smallest standardized effect drawn as a graph edge (latent-unit audits; structural audits
        derive their floor from the readout's own error).
      metrics.*: disentanglement metrics of a VAE's encoder (metrics.names= to skip them).
    """

    generator: str = "oracle"
    run: str = ""
    dataset: str = ""
    data: str = ""
    image_size: int = bounded(64, 8, 4096)
    outcome: str = "auto"
    probe: str = ""
    probe_steps: int = bounded(1500, 1, MAX_STEPS)
    probe_batch_size: int = bounded(64, 1)
    seed: int = bounded(0, 0, MAX_SEED)
    samples: int = bounded(256, 2)
    bootstrap: int = bounded(500, 1)
    traversal_values: int = bounded(7, 1)
    graph: str = "direct"
    statistic: str = "contrast"
    min_effect: float = bounded(0.0, 0.0)
    metrics: MetricsSection = dataclasses.field(default_factory=MetricsSection)

    def __post_init__(self):
        check_generator(self.generator)
        _check_choice("outcome", self.outcome, OUTCOMES)
        _check_choice("statistic", self.statistic, STATISTICS)
        _check_choice("graph", self.graph, GRAPHS)
        if self.dataset:
            _check_choice("dataset", self.dataset, _datasets())
        if self.data:
            from .data.arrays import data_layout

            if self.dataset:
                raise ConfigError(f"set either dataset= (procedural) or data= (a file); got both {self.dataset!r} "
                                  f"and {self.data!r}")
            if self.outcome == "readout":
                raise ConfigError(f"data file {self.data} has no analytic readout; use outcome=probe (or auto)")
            data_layout(self.data)
        if ":" in self.generator:
            return
        if self.generator not in GENERATORS and not self.run:
            raise ConfigError(f"generator {self.generator!r} needs --set run=TRAIN_DIR (a `genstyle-causal train` run)")


@dataclasses.dataclass(frozen=True)
class StylizeConfig:
    """Configuration of ``genstyle-causal stylize``.

    Keys:
      method: gatys (optimise the image; Gatys et al. 2016) or adain (one pass of a trained decoder;
        Huang & Belongie 2017).
      features: gatys: vgg16 (trained VGG16 shipped with the package, the default) or random (random conv
        features: cheaper, textures and colours only).
      steps: Gatys optimisation steps.
      size: resize the content image to size×size (0: keep its size); style_size: the same for styles.
      preserve_colour: transfer luminance only, keeping the content's colours.
      weights: gatys: a VGG19 weights file (.pth/.npz/.h5) instead of `features`;
        adain: a model saved by `train --set model=adain` (its adain.npz or its run directory);
        empty: the AdaIN model shipped with the package.
      alpha: AdaIN style strength in [0, 1]; style_mix: weights of several styles (default: equal).
      memory_limit_gb: the transfer's memory estimate is checked before running; a larger image is
        processed in tiles (gatys: first at the largest size that fits, then refined in tiles).
      tiling: false: refuse images over the limit instead (exit 2).
      seed: seeds the Gatys initial noise.
      max_pixels: largest image (width × height) read; bigger ones are refused before loading.
    """

    method: str = "gatys"
    features: str = "vgg16"
    steps: int = bounded(200, 1, MAX_STEPS)
    size: int = bounded(0, 0)
    style_size: int = bounded(0, 0)
    preserve_colour: bool = False
    weights: str = ""
    alpha: float = bounded(1.0, 0.0, 1.0)
    style_mix: tuple[float, ...] = bounded((), 0.0)
    memory_limit_gb: float = 4.0
    tiling: bool = True
    seed: int = bounded(0, 0, MAX_SEED)
    max_pixels: int = bounded(DEFAULT_MAX_PIXELS, 1)

    def __post_init__(self):
        from .models.style.stylize import FEATURES, METHODS

        _check_choice("method", self.method, METHODS)
        _check_choice("features", self.features, FEATURES)
        if not self.memory_limit_gb > 0:
            raise ConfigError(f"memory_limit_gb must be > 0; got {self.memory_limit_gb}")


# -- train ------------------------------------------------------------------------------


#: Train keys a resumed run may change; every other key fixes the trajectory.
RESUMABLE_KEYS = ("steps", "checkpoint_every")


def check_train(cfg: TrainRunConfig, outdir: Path) -> None:
    """Everything ``train`` needs, checked before it writes anything.

    The folder must be writable and hold no other command's run; a run there must be resumable with
    ``cfg`` (same trajectory keys, ``steps`` not below what is done, an intact checkpoint, readable files);
    the predicted memory must fit.
    """
    from .train.checkpoint import saved_steps

    check_run_directory(outdir, "train")
    saved = outdir / RUN_FILE
    if saved.is_file():
        _check_resume(cfg, outdir, saved)
    elif saved_steps(outdir / "checkpoints"):
        raise CheckpointError(f"{outdir} holds checkpoints but no {RUN_FILE}; not a train run to resume")
    check_memory(find_model(cfg.model).check(cfg), f"training the {cfg.model} (batch_size={cfg.batch_size}, "
                 f"image_size={cfg.image_size})")


def _check_resume(cfg: TrainRunConfig, outdir: Path, saved: Path) -> None:
    from .train import TrainConfig
    from .train.checkpoint import newest_intact

    try:
        old = to_dict(from_dict(TrainRunConfig, read_file(saved)))
    except ConfigError as e:
        raise ConfigError(f"cannot resume {outdir}: {e}") from None
    for key, (was, now) in _changes(old, to_dict(cfg)).items():
        if key not in RESUMABLE_KEYS:
            raise ConfigError(f"cannot resume {outdir} with {key}={now!r}: the run has {key}={was!r} (only "
                              f"{', '.join(RESUMABLE_KEYS)} may change; use a new --out for another run)")
    step, skipped = newest_intact(outdir / "checkpoints")
    if skipped and step is None:
        raise CheckpointError(f"no intact checkpoint in {outdir / 'checkpoints'}: {'; '.join(skipped)}")
    if cfg.steps < (step or 0):
        raise ConfigError(f"cannot resume {outdir} with steps={cfg.steps}: {step} steps are done already")
    read_jsonl(outdir / "metrics.jsonl")  # a damaged log (other than a torn last line) is refused here
    loop_config = outdir / "config.json"
    try:
        TrainConfig.load(loop_config)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"cannot resume {outdir}: {loop_config.name} is damaged ({type(e).__name__}: {e}); "
                              "restore it, or remove it to resume from train.json alone") from None


def _changes(old: dict, new: dict, where: str = "") -> dict:
    """``{dotted key: (old, new)}`` of the values that differ between two nested config dicts."""
    out = {}
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(_changes(a, b, f"{where}{k}."))
        elif a != b and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)):
            out[where + k] = (a, b)
    return out


def check_memory(needed: int, what: str) -> None:
    """Refuse a job whose predicted memory exceeds what the machine has available."""
    available = available_memory()
    if needed and available and needed > available:
        raise ConfigError(f"{what} needs about {needed / 2**30:.1f} GiB of memory; this machine has "
                          f"{available / 2**30:.1f} GiB available (lower batch_size, image_size or model sizes)")


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux MemAvailable; else physical memory; 0: unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _has_checkpoint(run: Path) -> bool:
    from .train.checkpoint import saved_steps

    return bool(saved_steps(run / "checkpoints"))


def run_train(cfg: TrainRunConfig, outdir: str | Path):
    """Train one model into ``outdir`` (resuming what is there); returns ``(report, steps done)``.

    Nothing is written before :func:`check_train` passes; the report is written only after training,
    so a failed call leaves the previous one in place.
    """
    from .io import atomic_write_json
    from .report import Report, image_grid, loss_curves
    from .train.checkpoint import newest_intact

    outdir = Path(outdir)
    check_train(cfg, outdir)
    what = "on styleshapes and sample photos" if cfg.model == "adain" else f"on {cfg.dataset}"
    with open_run(outdir, keep=_has_checkpoint):
        atomic_write_json(outdir / RUN_FILE, to_dict(cfg))
        print(f"[1/2] training {cfg.model} {what} for {cfg.steps} steps", flush=True)
        t0 = time.perf_counter()
        trained = MODELS[cfg.model].train(cfg, outdir)
        seconds = time.perf_counter() - t0
        done = newest_intact(outdir / "checkpoints")[0] or 0
        print("[2/2] writing the report", flush=True)
        log = read_jsonl(outdir / "metrics.jsonl")
        train_log = [r for r in log if not any(k.startswith("eval/") for k in r)]
        names = [k for k in (train_log[-1] if train_log else {}) if k != "step"]
        rep = Report(outdir, f"genstyle_causal train: {cfg.model} {what}")
        rep.text(f"Configuration: `{outdir / RUN_FILE}`; resume or extend with "
                 f"`genstyle-causal train --out {outdir} [--set steps=N]`.")
        rep.section("Training curves")
        rep.figure(loss_curves({k: [r[k] for r in train_log] for k in names}, steps=[r["step"] for r in train_log]),
                   "loss", "Training metrics from `metrics.jsonl` (the whole run, also across resumes).")
        rep.table([{"step": done, **{k: train_log[-1][k] for k in names}}] if train_log else [],
                  caption=f"last logged values; {done} of {cfg.steps} steps done, this call took {seconds:.0f} s")
        gen = trained.generator
        if gen is not None and done:
            samples = np.asarray(_generate(gen, gen.sample_latent(jax.random.key(cfg.seed + 1), 16))).reshape(
                (2, 8) + tuple(trained.data.image_shape))
            rep.figure(image_grid(samples), "samples", f"Images generated from 16 prior samples of the {cfg.model}.")
        rep.add_results(model=cfg.model, dataset=cfg.dataset, steps_done=done, steps=cfg.steps, seconds=seconds,
                        final=train_log[-1] if train_log else {})
    return rep, done


@jax.jit
def _generate(gen, z):
    return gen(z)


@jax.jit
def _traverse(gen, z, interventions):
    """Images ``(K, H, W, C)`` of ``K`` interventions on one latent ``z`` ``(1, d)``, in one compiled call."""
    from .causal import intervene

    return jax.vmap(lambda iv: intervene(gen, z, iv)[0])(interventions)


# -- audit ------------------------------------------------------------------------------


def load_run(run: str | Path, expect: str) -> tuple[TrainRunConfig, Trained]:
    """``(train config, what it trained)`` of a ``train`` run of model ``expect``, from its latest checkpoint."""
    run = Path(run)
    saved = run / RUN_FILE
    if not saved.is_file():
        raise CheckpointError(f"no train run in {run} (expected {saved}, written by `genstyle-causal train`)")
    cfg = from_dict(TrainRunConfig, read_file(saved))
    if cfg.model != expect:
        raise ConfigError(f"run {run} trained a {cfg.model!r} model, not a {expect!r}")
    trained = MODELS[expect].load(cfg, run)
    if trained.step is not None and trained.step < cfg.steps:
        print(f"note: {run} stopped at step {trained.step} of {cfg.steps}; auditing that checkpoint", flush=True)
    return cfg, trained


def load_generator(cfg: AuditRunConfig) -> Trained:
    """The generator ``audit`` audits: a registered source (the oracle) or a trained model from ``cfg.run``."""
    if ":" in cfg.generator:
        return check_fits(factory_generator(cfg))
    if cfg.generator in GENERATORS:
        return GENERATORS[cfg.generator].load(cfg)
    train_cfg, trained = load_run(cfg.run, cfg.generator)
    if cfg.data or (cfg.dataset and cfg.dataset != train_cfg.dataset):
        trained = check_fits(dataclasses.replace(trained, data=audit_dataset(cfg, size=train_cfg.image_size)))
    return trained


def _load_probe(path: str | Path):
    from .models.probe import Probe

    path = Path(path)
    file = path / MODELS["probe"].ships if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(f"no probe at {file} (give a probe.npz or a `train --set model=probe` run directory)")
    return Probe.load(file)


def run_audit(cfg: AuditRunConfig, outdir: str | Path):
    """Audit a generator (a dataset oracle or a trained model) into ``outdir``; returns the report.

    The generator and probe are loaded (read only) before anything is written; ``outdir`` must not be a
    train run (audit into a sub-folder of it instead).
    """
    from .io import atomic_write_json

    outdir = Path(outdir)
    check_run_directory(outdir, "audit", AuditRunConfig)
    key = jax.random.key(cfg.seed)
    print(f"[1/4] loading the {cfg.generator} generator", flush=True)
    subject = load_generator(cfg)
    probe = _load_probe(cfg.probe) if cfg.probe and cfg.outcome != "readout" else None
    with open_run(outdir, keep=lambda p: (p / "results.json").is_file()):
        atomic_write_json(outdir / "config.json", to_dict(cfg))
        return _audit(cfg, outdir, key, subject, probe)


def _audit(cfg: AuditRunConfig, outdir: Path, key, subject: Trained, probe):
    from .report import Report

    gen, data = subject.generator, subject.data
    rep = Report(outdir, f"genstyle_causal audit: {gen.name} against {data.name}")
    rep.text(f"Configuration: `{outdir / 'config.json'}`" + (f"; generator from `{cfg.run}`." if cfg.run else "."))
    kind = cfg.outcome if cfg.outcome != "auto" else ("readout" if data.readout() is not None else "probe")
    print(f"[2/4] outcome: {kind}", flush=True)
    if kind == "readout":
        outcome = data  # audit() reads a dataset through its analytic readout (and knows its true graph)
    elif probe is not None:
        outcome = probe
    else:
        from .models.probe import train_probe

        outcome = train_probe(data, key=jax.random.fold_in(key, 1), steps=cfg.probe_steps,
                              batch_size=cfg.probe_batch_size, workdir=outdir / "probe", progress=True)
    print(f"[3/4] causal audit: {gen.latent_dim} units × {cfg.samples} samples, {cfg.bootstrap} bootstrap "
          "resamples", flush=True)
    result = _audit_section(rep, cfg, gen, data, outcome, jax.random.fold_in(key, 2))
    rep.add_results(generator=gen.name, dataset=data.name, outcome=kind, audit=result.to_dict())
    if subject.encode is not None and cfg.metrics.names:
        print("[4/4] disentanglement metrics of the encoder", flush=True)
        metrics_section(rep, cfg.metrics, jax.random.fold_in(key, 3), data, subject.encode, label=subject.label)
    else:
        print("[4/4] no encoder: metrics skipped", flush=True)
    return rep


def _audit_section(rep, cfg: AuditRunConfig, gen, data, outcome, key):
    """Traversals, effect heatmap with CIs, influence maps and the graph (against the true DAG when known)."""
    import matplotlib.pyplot as plt

    from .causal import audit, do_batch, draw_graph, influence_maps
    from .causal.effects import unit_values
    from .report import effect_heatmap, image_grid, influence_maps as influence_figure

    k_prior, k_base, k_audit, k_maps = jax.random.split(key, 4)
    t = cfg.traversal_values
    q = jnp.linspace(0.05, 0.95, t, dtype=jnp.float32)
    # a structural generator is traversed by hard interventions on its variables, any other by its latent units
    units = list(gen.variable_names) or list(range(gen.latent_dim))
    names = list(gen.variable_names) or list(gen.latent_names)
    what = "variable" if gen.variable_names else "unit"
    values = jnp.quantile(unit_values(gen, gen.sample_latent(k_prior, 1000), units), q, axis=0).T  # each one's own range
    batch = do_batch([u for u in units for _ in range(t)], values.ravel(), generator=gen)
    images = _traverse(gen, gen.sample_latent(k_base, 1), batch)
    grid = np.asarray(images).reshape((len(units), t) + images.shape[1:])
    rep.section(f"Causal audit of {gen.name}")
    rep.figure(image_grid(np.repeat(grid, 3, -1) if grid.shape[-1] == 1 else grid, row_labels=names,
                          col_labels=[f"q{float(v):.2f}" for v in q]),
               "traversals", f"Traversals: do({what} = its quantile q) on one base sample; one row per {what}.")
    result = audit(gen, outcome, key=k_audit, graph=cfg.graph, n=cfg.samples, num_bootstrap=cfg.bootstrap,
                   statistic=cfg.statistic, min_effect=cfg.min_effect)
    m = result.effects
    if result.floor is None:
        caption = (f"Effect ({m.statistic}) of each unit on each outcome, familywise {m.level:.0%} bootstrap CIs; "
                   "grey cells: CI contains 0.")
    else:
        caption = (f"{result.kind.capitalize()} effect of setting each variable (rows) on each measured variable "
                   f"(columns): dispersion of the measurement over five do-levels, familywise {m.level:.0%} bootstrap "
                   "CIs. An edge needs the lower bound above the readout floor (table below).")
    rep.figure(effect_heatmap(m.effect, m.low, m.high, units=m.unit_names, outcomes=m.outcome_names), "effects", caption)
    if result.floor is not None:
        rep.table([{"measured variable": v, "largest floor": float(f)} for v, f in zip(m.outcome_names, result.floor.max(axis=0))],
                  caption="readout floor: the most the readout's own error (against the true variables of every "
                          "rendered image) could add to an effect on this variable")
    maps = influence_maps(gen, gen.sample_latent(k_maps, 64), do_batch(units, values[:, -1], generator=gen))
    rep.figure(influence_figure(np.asarray(maps), names=names), "influence",
               f"Influence maps: mean |Δ pixel| when each {what} is set to its 95% quantile (64 samples).")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    draw_graph(result.graph, ax=ax, reference=result.reference)
    truth = (f" drawn against the true {result.kind}-effect graph (red: extra edge, dashed grey: missed edge); "
             f"structural Hamming distance {result.scores['shd']}") if result.reference is not None else ""
    rep.figure(fig, "graph", f"{result.kind.capitalize()}-effect graph of the detected effects{truth}. {result.note}.")
    rep.table([{"score": k, "value": v} for k, v in result.scores.items() if not isinstance(v, dict)],
              caption="audit scores")
    return result


# -- stylize and bench --------------------------------------------------------------------


def run_stylize(cfg: StylizeConfig, content: str | Path, styles, out: str | Path) -> Path:
    """Stylise ``content`` with ``styles`` into the image file ``out``; returns its path.

    The output path, the weights and every image (within ``cfg.max_pixels``) are checked and loaded
    before the work starts.
    """
    from .data.images import check_image_output, load_image
    from .models.style import GatysConfig, stylize
    from .models.style.stylize import extractor_named

    check_image_output(out)
    weights = Path(cfg.weights) if cfg.weights else None
    if weights is not None and cfg.method == "adain" and weights.is_dir():
        weights = weights / MODELS["adain"].ships
    if weights is not None and not weights.is_file():
        raise CheckpointError(f"weights file not found: {weights}")
    content_image = load_image(content, cfg.size or None, max_pixels=cfg.max_pixels)
    style_images = [load_image(s, cfg.style_size or None, max_pixels=cfg.max_pixels) for s in styles]
    gatys = cfg.method == "gatys"
    what = (f"{cfg.features if weights is None else weights.name} features, {cfg.steps} optimisation steps" if gatys
            else f"decoder {weights.name if weights else '(shipped)'}")
    print(f"[stylize] {cfg.method}: {Path(content).name} with {', '.join(Path(s).name for s in styles)}; {what}",
          flush=True)
    stylize(content_image, style_images, out_path=out, method=cfg.method, weights=weights if gatys else None,
            extractor=extractor_named(cfg.features) if gatys else None,
            model=weights if not gatys else None, alpha=cfg.alpha, style_mix=cfg.style_mix or None,
            preserve_colour=cfg.preserve_colour, config=GatysConfig(steps=cfg.steps),
            memory_limit_gb=cfg.memory_limit_gb, tiling=cfg.tiling, log=lambda m: print(f"[stylize] {m}", flush=True),
            key=jax.random.key(cfg.seed))
    return Path(out)


def source_root() -> Path:
    """The folder above the package: a source checkout when it holds ``benchmarks/``."""
    return Path(__file__).resolve().parent.parent


def run_bench(names, *, quick: bool, root: Path | None = None) -> int:
    """Run ``python -m benchmarks`` of a source checkout; returns its exit status."""
    root = source_root() if root is None else Path(root)
    folder = root / "benchmarks"
    if not (folder / "__main__.py").is_file():
        raise FileNotFoundError(f"the benchmarks ship with the source repository, not with the installed package "
                                f"(no {folder}); run `genstyle-causal bench` from a clone of the repository")
    available = sorted(p.stem.removeprefix("bench_") for p in folder.glob("bench_*.py"))
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(f"unknown benchmark {unknown[0]!r}; valid: {available}")
    cmd = [sys.executable, "-m", "benchmarks", *(["--quick"] if quick else []), *names]
    return subprocess.run(cmd, cwd=root).returncode
