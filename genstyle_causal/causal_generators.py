"""``genstyle-causal demo --study causal-generators``: learned generators audited against ground truth.

Two learned models whose causal structure can be checked exactly:

* **An InfoGAN on dSprites**, trained to recognisable samples in minutes: sample
  grids, its quality against steps as a Fréchet feature distance to real images
  (the package's own feature extractor, beside the real-vs-real floor), the
  factor distribution a probe reads from its samples against the true prior,
  its codes scored by the disentanglement metrics through its Q head, and a
  dissection of one internal layer (:mod:`genstyle_causal.causal.dissect`):
  channel IoU with the exact sprite mask, per-channel ablation effects on the
  probe-read factors, influence-map modules. A DCGAN on styleshapes shows the
  RGB case.
* **A CausalVAE on the pendulum** (:mod:`genstyle_causal.models.causalvae`):
  learned graph against the true DAG (SHD), the direct-effect audit of the
  structural generator through the pendulum's analytic readout, and
  counterfactual faithfulness: shadow position and length read from its images
  after do(pendulum angle) or do(light angle), against what the true mechanism
  gives for the same do, in the variables' units; and the leakage of do(shadow)
  into its causes.

Each section is written as soon as it finishes, so an interrupted run leaves a
readable report.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .errors import ConfigError
from .learned_audits import counterfactuals, direct_effect_audit, factor_distribution_distance
from .sections import MetricsSection, metrics_section, run_sections, start_report


PARTS = ("gan", "causalvae")


@dataclasses.dataclass(frozen=True)
class GANSection:
    """The InfoGAN on dSprites: size, codes, steps and how often its quality is measured (styleshapes_steps=0 skips the styleshapes DCGAN)."""

    image_size: int = 32
    width: int = 32
    noise_dim: int = 16
    categorical: tuple[int, ...] = (3,)
    continuous: int = 2
    steps: int = 3000
    batch_size: int = 64
    eval_every: int = 500
    eval_samples: int = 1000
    styleshapes_steps: int = 0


@dataclasses.dataclass(frozen=True)
class ProbeSection:
    """The dSprites factor probe that reads GAN samples."""

    steps: int = 800
    batch_size: int = 64


@dataclasses.dataclass(frozen=True)
class DissectSection:
    """GAN Dissection of one generator layer ('' = the last feature map before the image)."""

    layer: str = ""
    samples: int = 256
    modules: int = 4
    bootstrap: int = 500


@dataclasses.dataclass(frozen=True)
class CausalVAESection:
    """The CausalVAE on the pendulum (edges: order = causes-first order known, free = any DAG)."""

    image_size: int = 32
    steps: int = 3000
    batch_size: int = 64
    edges: str = "order"
    samples: int = 256
    bootstrap: int = 500


@dataclasses.dataclass(frozen=True)
class CausalGeneratorsConfig:
    """Configuration of ``genstyle-causal causal-generators`` (saved as ``config.json`` in the run directory).

    Keys:
      seed: seeds the whole study.
      parts: which halves to run: gan (InfoGAN, probe, metrics, dissection, styleshapes DCGAN), causalvae.
      gan.*: the InfoGAN on dSprites: image_size (16, 32 or 64), width, noise_dim, categorical (categories per
        code), continuous (codes), steps, batch_size, eval_every (steps between quality measurements),
        eval_samples (images per Fréchet distance), styleshapes_steps (steps of an optional DCGAN on styleshapes;
        0 skips it — at 1500 steps it collapsed to dark textures in the development runs).
      probe.*: steps and batch_size of the dSprites factor probe that reads the GAN's samples.
      dissect.*: layer (empty: the last feature map), samples, modules (influence-map clusters), bootstrap.
      metrics.*: disentanglement metrics of InfoGAN's codes (metrics.names= to skip them).
      causalvae.*: the CausalVAE on the pendulum: image_size, steps, batch_size, edges (order: the causes-first
        order is known; free: any DAG), samples and bootstrap of its audit.
    """

    seed: int = 0
    parts: tuple[str, ...] = PARTS
    gan: GANSection = dataclasses.field(default_factory=GANSection)
    probe: ProbeSection = dataclasses.field(default_factory=ProbeSection)
    dissect: DissectSection = dataclasses.field(default_factory=DissectSection)
    metrics: MetricsSection = dataclasses.field(default_factory=MetricsSection)
    causalvae: CausalVAESection = dataclasses.field(default_factory=CausalVAESection)

    def __post_init__(self):
        if not self.parts or set(self.parts) - set(PARTS):
            raise ConfigError(f"parts must be a non-empty subset of {PARTS}; got {self.parts}")
        for name, size in (("gan", self.gan.image_size), ("causalvae", self.causalvae.image_size)):
            if size not in (16, 32, 64):
                raise ConfigError(f"{name}.image_size must be 16, 32 or 64; got {size}")
        if self.gan.eval_every < 1 or self.gan.eval_every > self.gan.steps:
            raise ConfigError(f"gan.eval_every must lie in 1..gan.steps ({self.gan.steps}); got {self.gan.eval_every}")
        from .models.causalvae import EDGES

        if self.causalvae.edges not in EDGES:
            raise ConfigError(f"causalvae.edges must be one of {EDGES}; got {self.causalvae.edges!r}")


def run_causal_generators(cfg: CausalGeneratorsConfig, outdir: str | Path):
    """Run every section of the study into ``outdir``; returns the :class:`~genstyle_causal.report.Report`."""
    rep = start_report(outdir, cfg, "genstyle_causal: learned causal generators audited against ground truth", (
        "A GAN and a CausalVAE trained here, audited where the answer is known: dSprites sprites have an exact "
        "mask, and the pendulum scene has a known structural causal model."))
    sections = {"gan": [_train_gan, _train_probe, _gan_factors, _infogan_metrics, _dissect, _styleshapes_gan],
                "causalvae": [_train_causalvae, _audit_causalvae]}
    every = [step for part in PARTS for step in sections[part]]
    chosen = [(every.index(step) + 1, step) for part in PARTS if part in cfg.parts for step in sections[part]]
    run_sections(rep, chosen, cfg, jax.random.key(cfg.seed), outdir, findings=lambda state: _findings(rep))
    return rep


#: Leakage of do(shadow) into a cause read from the images, in radians, below which the check passes (≈ 3°,
#: a few times the analytic readout's own angle error at 32 px).
LEAKAGE_TOLERANCE = 0.05


def _findings(rep) -> None:
    """The findings box: headline numbers and the checks whose answers are known, from what has run so far."""
    from .report.findings import check

    r = rep.results
    tables, checks = [], []
    if "gan" in r:
        g = r["gan"]
        tables.append(("InfoGAN on dSprites", [{
            "steps": g["steps"], "Fréchet feature distance": g["frechet_by_step"][-1][1] if g["frechet_by_step"] else None,
            "real-vs-real floor": g["frechet_floor"], "minutes to a recognisable grid": g["minutes_to_recognisable"]}]))
    if "dissection" in r:
        top = r["dissection"]["top_channels"][0]
        checks.append(check("a GAN channel draws the sprite", top["iou"] >= 0.5,
                            f"the best channel ({top['channel']}) has IoU {top['iou']:.2f} with the exact sprite mask"))
    if "causalvae" in r:
        checks.append(check("CausalVAE learns the pendulum DAG", r["causalvae"]["shd"] == 0,
                            f"structural Hamming distance {r['causalvae']['shd']} to the true DAG"))
    if "causalvae_audit" in r:
        a = r["causalvae_audit"]
        shd = a["direct"]["scores"].get("shd")
        checks.append(check("its images show the pendulum DAG", shd == 0, f"direct-effect audit SHD {shd}"))
        cf = a["counterfactuals"]
        rows = [{"do": c, "variable": v, "error": e["image_error"], "spread": e["spread"]} for c in ("pendulum_angle", "light_angle")
                for v, e in cf[c].items()]
        tables.append(("CausalVAE counterfactuals: shadow read from its images vs the true mechanism", rows))
        worst = max(rows, key=lambda row: row["error"] / row["spread"])
        checks.append(check("do(cause) moves the shadow like physics", worst["error"] < 0.5 * worst["spread"],
                            f"largest error ÷ spread of the true values: {worst['error'] / worst['spread']:.2f} for "
                            f"{worst['variable']} under do({worst['do']}) (passes below 0.5)"))
        leak = max(v for e in ("shadow_position", "shadow_length") for v in cf[e]["leakage"].values())
        checks.append(check("do(shadow) leaves its causes alone", leak < LEAKAGE_TOLERANCE,
                            f"largest change of a cause read from the images: {leak:.3f} rad (tolerance {LEAKAGE_TOLERANCE})"))
    rep.findings(tables=tables, checks=checks)


# -- the GAN -------------------------------------------------------------------------------------


def _gan_config(g: GANSection, data, **overrides):
    from .models.gan import GANConfig

    options = dict(noise_dim=g.noise_dim, categorical=g.categorical, continuous=g.continuous, width=g.width)
    return GANConfig(image_shape=data.image_shape, **{**options, **overrides})


@dataclasses.dataclass
class QualityTracker:
    """``eval_hook`` of :func:`~genstyle_causal.models.gan.train_gan`: Fréchet feature distance of fixed-latent samples to real images.

    Keeps the sample grid of every evaluation and the seconds spent evaluating,
    so training time can be reported without them.
    """

    real: jax.Array
    key: jax.Array
    extractor: object
    grids: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def __call__(self, generator) -> dict:
        from .metrics import frechet_feature_distance

        t0 = time.perf_counter()
        fake = _generate(generator, generator.sample_latent(self.key, self.real.shape[0]))
        self.grids.append(np.asarray(fake[:8]))
        fd = frechet_feature_distance(self.real, fake, extractor=self.extractor)["frechet_feature_distance"]
        self.seconds += time.perf_counter() - t0
        return {self.metric: fd}

    @property
    def metric(self) -> str:
        """The logged name, which carries the extractor's: a resumed run never mixes two extractors in one curve."""
        return f"frechet_{getattr(self.extractor, 'name', type(self.extractor).__name__)}"


@jax.jit
def _generate(generator, z):
    return generator(z)


def _rgb(images):
    images = np.asarray(images)
    return np.repeat(images, 3, -1) if images.shape[-1] == 1 else images


def _train_and_track(rep, g: GANSection, data, config, key, steps: int, outdir: Path, label: str):
    """Train a GAN with quality tracking; report grids, the Fréchet curve and its floor; returns ``(task, state, summary)``."""
    from .io import read_jsonl
    from .metrics import frechet_feature_distance
    from .models.gan import train_gan
    from .models.style import default_extractor
    from .report import image_grid, loss_curves
    from .train import Checkpoints

    k_real, k_floor, k_fake, k_train = jax.random.split(key, 4)
    extractor = default_extractor()
    n = g.eval_samples
    real = data.sample(k_real, n)[1]
    floor = frechet_feature_distance(real, data.sample(k_floor, n)[1], extractor=extractor)["frechet_feature_distance"]
    tracker = QualityTracker(real, k_fake, extractor)
    eval_every = min(g.eval_every, steps)
    start = Checkpoints(outdir / "checkpoints").latest_step or 0
    t0 = time.perf_counter()
    task, state, _ = train_gan(data, config, key=k_train, steps=steps, batch_size=g.batch_size,
                               eval_every=eval_every, eval_hook=tracker, workdir=outdir, progress=True)
    train_seconds = time.perf_counter() - t0 - tracker.seconds
    steps_per_s = (int(state.step) - start) / max(train_seconds, 1e-9)
    history = read_jsonl(outdir / "metrics.jsonl")  # the whole run, also when it resumed
    evals = [(r["step"], r[f"eval/{tracker.metric}"]) for r in history if f"eval/{tracker.metric}" in r]
    curves = {k: [r[k] for r in history if k in r] for k in ("d_loss", "g_loss", "info_bound")}
    curves = {k: v for k, v in curves.items() if v}
    rep.figure(loss_curves(curves, steps=[r["step"] for r in history if "d_loss" in r]), f"{label}-losses",
               f"{label}: discriminator and generator losses (and InfoGAN's mutual-information bound) during training.")
    if tracker.grids:  # the evaluations of this call (a resumed run shows only its new ones)
        labels = [f"step {s}" for s, _ in evals[-len(tracker.grids):]]
        rep.figure(image_grid(_rgb(np.stack(tracker.grids)), row_labels=labels, cell=0.6),
                   f"{label}-grids", f"{label}: samples from the same latents at each evaluation.")
    final = evals[-1][1] if evals else float("nan")
    # a grid counts as recognisable once its distance is within 1.5x of the final one (a proxy, read it against the grids)
    recognisable = next((s for s, fd in evals if fd <= 1.5 * final), None)
    extractor_name = getattr(extractor, "name", type(extractor).__name__)
    rep.table([{"step": s, "Fréchet feature distance": fd, "real-vs-real floor": floor} for s, fd in evals],
              caption=f"{label}: Fréchet distance between {n} samples and {n} real images on pooled features of the "
                      f"package's '{extractor_name}' extractor (not Inception-v3: not comparable with published FID)")
    summary = {
        "steps": int(state.step), "new_steps": int(state.step) - start, "train_minutes": train_seconds / 60,
        "steps_per_s": steps_per_s, "frechet_by_step": evals, "frechet_floor": floor, "extractor": extractor_name,
        "recognisable_step": recognisable,
        "minutes_to_recognisable": None if recognisable is None or not steps_per_s else recognisable / steps_per_s / 60,
    }
    rep.text(f"{label}: {summary['new_steps']} steps of batch {g.batch_size} in {summary['train_minutes']:.1f} min "
             f"({steps_per_s:.1f} steps/s, evaluations excluded; {summary['steps']} in all); final Fréchet feature distance "
             f"{final:.3g} against a real-vs-real floor of {floor:.3g}. First grid within 1.5× of the final distance: "
             f"step {recognisable} (≈ {summary['minutes_to_recognisable'] or float('nan'):.1f} min).")
    return task, state, summary


def _train_gan(rep, cfg, key, state, outdir):
    """Train the InfoGAN on dSprites, with its quality against steps."""
    from .data import DSprites

    g = cfg.gan
    data = DSprites(size=g.image_size)
    rep.section("An InfoGAN on dSprites")
    task, st, summary = _train_and_track(rep, g, data, _gan_config(g, data), key, g.steps, outdir / "gan", "infogan")
    state.update(dsprites=data, gan_task=task, gan_state=st, gan=task.generator(st))
    rep.add_results(gan=summary)


def _train_probe(rep, cfg, key, state, outdir):
    """Train the dSprites factor probe that reads the GAN's samples."""
    from .models.probe import train_probe

    state["probe"] = train_probe(state["dsprites"], key=key, steps=cfg.probe.steps, batch_size=cfg.probe.batch_size,
                                 workdir=outdir / "probe", progress=True)


def _gan_factors(rep, cfg, key, state, outdir):
    """The probe-read factor distribution of the GAN's samples against the true prior."""
    from .report import image_grid

    data, probe, gen = state["dsprites"], state["probe"], state["gan"]
    n = cfg.gan.eval_samples
    k_fake, k_real = jax.random.split(key)
    fake = _generate(gen, gen.sample_latent(k_fake, n))
    real = data.sample(k_real, n)[1]
    tv_fake, tv_real = factor_distribution_distance(probe, fake, data), factor_distribution_distance(probe, real, data)
    rep.section("What the GAN generates, read by the probe")
    rep.text("Total variation distance between the histogram of each factor the probe reads from the samples and the "
             "true (uniform) prior; on real images the same number measures sampling noise plus the probe's errors, "
             "the floor a perfect generator would reach.")
    rep.table([{"factor": f, "GAN samples": tv_fake[f], "real images (floor)": tv_real[f]} for f in tv_fake],
              caption=f"total variation distance to the prior, {n} images")
    grid = np.asarray(fake[:24]).reshape(3, 8, *fake.shape[1:])
    rep.figure(image_grid(_rgb(grid), cell=0.6), "infogan-samples", "Random InfoGAN samples.")
    rep.add_results(gan_factors={"gan": tv_fake, "real": tv_real, "samples": n})


def _infogan_metrics(rep, cfg, key, state, outdir):
    """Disentanglement metrics of InfoGAN's codes, read by its Q head like any encoder."""
    encoder = state["gan_task"].info_encoder(state["gan_state"])
    metrics_section(rep, cfg.metrics, key, state["dsprites"], encoder, label="InfoGAN Q")


def _dissect(rep, cfg, key, state, outdir):
    """GAN Dissection of one generator layer with the exact sprite mask."""
    from .causal.dissect import dissect, sprite_mask
    from .data import Readout
    from .report import effect_heatmap, influence_maps

    gen, probe, d = state["gan"], state["probe"], cfg.dissect
    layer = d.layer or gen.layer_names[-2]
    names = tuple(n for n, h in zip(probe.factor_names, probe.heads) if h.kind != "circular")
    keep = jnp.asarray([i for i, h in enumerate(probe.heads) if h.kind != "circular"], jnp.int32)
    outcome = Readout(lambda images: probe.predict(images)[:, keep], names)
    result = dissect(gen, layer, outcome, sprite_mask, key=key, n=d.samples, num_modules=d.modules,
                     num_bootstrap=d.bootstrap)
    rep.section(f"GAN Dissection of layer '{layer}'")
    rep.text("Concept mask: the sprite, exact for a generated dSprites image by thresholding it at 0.5 (the images "
             "are binary). Each channel's map is upsampled to the image and thresholded where it is most "
             "informative about the mask (Bau et al. 2019); its ablation (set to 0) is scored by the factors the "
             "probe reads (orientation left out: a circular reading has no signed difference). Modules cluster "
             "channels by their hybridization influence maps (Besserve et al. 2020).")
    rows = []
    for r in result.top_channels(8):
        row = {"channel": r["channel"], "IoU": r["iou"], "carries": r["carries"] or "-"}
        for f, e in r["ablation"].items():
            row[f"ACE {f}"] = f"{e['ace']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}]"
        rows.append(row)
    rep.table(rows, caption="channels of highest IoU with the sprite mask; ablation ACE with 95% bootstrap CIs")
    m = result.ablation
    scale = np.where(m.scale > 0, m.scale, 1.0)
    rows = np.argsort(-np.abs(m.standardized()).max(axis=1))[:16]
    rep.figure(effect_heatmap(m.standardized()[rows], (m.low / scale)[rows], (m.high / scale)[rows],
                              units=[m.unit_names[i] for i in rows], outcomes=m.outcome_names,
                              title="Ablating one channel (effect in outcome SDs)"),
               "dissect-ablation", f"Effect of zeroing a channel on each probe-read factor, in standard deviations: the "
               f"{len(rows)} channels with the largest effects, 95% bootstrap CIs.")
    h = result.hybridization
    h_scale = np.where(h.scale > 0, h.scale, 1.0)
    rep.figure(effect_heatmap(h.standardized(), h.low / h_scale, h.high / h_scale,
                              units=[f"{n}: {len(mod)} ch" for n, mod in zip(h.unit_names, result.modules)],
                              outcomes=h.outcome_names, title="Hybridizing a module (mean |Δ factor|, in SDs)"),
               "dissect-modules", "Modules from influence-map clustering and the mean absolute change of each factor, in "
               "its standard deviations, when the module is copied from another sample; 95% bootstrap CIs.")
    rep.table([{"module": n, "channels": ", ".join(map(str, mod)),
                "mean IoU": float(np.mean(result.iou.iou[mod]))} for n, mod in zip(h.unit_names, result.modules)],
              caption="the channels of each module and their mean IoU with the sprite mask")
    module_maps = np.stack([result.maps[mod].mean(axis=0) for mod in result.modules])
    rep.figure(influence_maps(module_maps, names=list(h.unit_names)), "dissect-influence", "Mean influence map of each module.")
    state["dissection"] = result
    rep.add_results(dissection=result.to_dict())


def _styleshapes_gan(rep, cfg, key, state, outdir):
    """A DCGAN on styleshapes (RGB), with its quality against steps."""
    from .data import StyleShapes

    g = cfg.gan
    if g.styleshapes_steps <= 0:
        return
    data = StyleShapes(size=g.image_size)
    rep.section("A DCGAN on styleshapes")
    config = _gan_config(g, data, categorical=(), continuous=0)
    _, _, summary = _train_and_track(rep, g, data, config, key, g.styleshapes_steps, outdir / "gan-styleshapes", "dcgan-styleshapes")
    rep.add_results(gan_styleshapes=summary)


# -- the CausalVAE -------------------------------------------------------------------------------


def _train_causalvae(rep, cfg, key, state, outdir):
    """Train the CausalVAE on the pendulum with its concept labels."""
    import matplotlib.pyplot as plt

    from .causal import draw_graph, structural_hamming_distance
    from .data import Pendulum
    from .models.causalvae import CausalVAEConfig, CausalVAETask, causalvae_generator
    from .models.probe import FactorBatches
    from .report import effect_heatmap, image_grid, loss_curves
    from .io import read_jsonl
    from .train import Checkpoints, TrainConfig, fit

    c = cfg.causalvae
    data = Pendulum(size=c.image_size)
    task = CausalVAETask(CausalVAEConfig.for_data(data, edges=c.edges))
    k_seed, k_graph, k_prior, k_show = jax.random.split(key, 4)
    spc = max(1, min(50, c.steps))
    train = TrainConfig(steps=c.steps, seed=int(jax.random.randint(k_seed, (), 0, 2**31 - 1)), steps_per_call=spc,
                        log_every=spc, progress=True)
    start = Checkpoints(outdir / "causalvae" / "checkpoints").latest_step or 0
    t0 = time.perf_counter()
    st, _ = fit(task, FactorBatches(data, c.batch_size), train, workdir=outdir / "causalvae")
    seconds = time.perf_counter() - t0
    history = read_jsonl(outdir / "causalvae" / "metrics.jsonl")  # the whole run, also when it resumed
    factors = data.sample_factors(k_graph, 2048)
    graph, truth = task.graph(st, factors), data.graph()
    shd = structural_hamming_distance(graph, truth)
    gen = causalvae_generator(task, st, data, key=k_prior)
    state.update(pendulum=data, cvae_task=task, cvae_state=st, cvae=gen)

    rep.section("A CausalVAE on the pendulum")
    rep.text("Concept latents pass through a learned linear SCM and a mask layer of learned mechanisms "
             f"(Yang et al. 2021), supervised by the pendulum's four labels. Edges: '{c.edges}' "
             + ("(the causes-first order of the concepts is known, as in the paper's released setup; which edges exist is learned)."
                if c.edges == "order" else "(any DAG; acyclicity by the NOTEARS augmented Lagrangian)."))
    curves = {k: [r[k] for r in history if k in r] for k in ("loss", "recon", "label", "acyclicity")}
    rep.figure(loss_curves(curves, steps=[r["step"] for r in history if "loss" in r]), "causalvae-loss",
               "Total loss, reconstruction (nats), label fit ‖u − g(A∘u)‖² and acyclicity h(A) during training.")
    names = list(data.factor_names)
    strength = task.edge_strength(st, factors)
    zeros = np.zeros_like(strength)
    rep.figure(effect_heatmap(strength, zeros, zeros, units=names, outcomes=names,
                              title="Learned direct effects E|∂g_i/∂u_j| (row → column)"), "causalvae-adjacency",
               f"Direct effect of each concept (row) on each concept's learned mechanism (column), standardised units; "
               f"edges at ≥ {task.config.edge_threshold}.")
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_graph(graph, ax=ax, reference=truth)
    rep.figure(fig, "causalvae-graph", "Learned graph against the true DAG (dashed grey: missed edges; red: extra edges).")
    x = data.sample(k_show, 8)[1]
    recon = gen.run(task.concepts(st, x), start="variables")
    rep.figure(image_grid(np.stack([np.asarray(x), np.asarray(recon)]), row_labels=["input", "from its concepts"]),
               "causalvae-reconstructions", "Pendulum images and the images the model draws from the concepts it reads.")
    summary = {"steps": int(st.step), "minutes": seconds / 60, "steps_per_s": (int(st.step) - start) / max(seconds, 1e-9),
               "adjacency": task.adjacency(st).tolist(), "edge_strength": strength.tolist(),
               "edges": [list(e) for e in graph.edges], "shd": shd, "final": history[-1] if history else {}}
    rep.text(f"{int(st.step) - start} steps of batch {c.batch_size} in {summary['minutes']:.1f} min "
             f"({summary['steps_per_s']:.1f} steps/s). Learned graph: {', '.join(f'{a} → {b}' for a, b in graph.edges) or 'no edge'}; "
             f"structural Hamming distance to the true DAG **{shd}**.")
    rep.add_results(causalvae=summary)


def _audit_causalvae(rep, cfg, key, state, outdir):
    """Audit the CausalVAE against the pendulum's SCM: graph, direct effects, counterfactuals."""
    import matplotlib.pyplot as plt

    from .causal import draw_graph

    gen, data, task, st, c = state["cvae"], state["pendulum"], state["cvae_task"], state["cvae_state"], cfg.causalvae
    k_audit, k_cf = jax.random.split(key)
    res = direct_effect_audit(gen, data, key=k_audit, n=c.samples, num_bootstrap=c.bootstrap)
    rep.section("Auditing the CausalVAE against the pendulum's mechanism")
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_graph(res.graph, ax=ax, reference=data.graph())
    rep.figure(fig, "causalvae-direct-graph", "Direct effects found on the generator's images: each concept set by a hard "
               "do while every other concept but the measured one is held, the four variables read with the analytic "
               "readout; an edge needs its CI above the readout's error floor (measured on the oracle). Drawn against "
               "the true DAG.")
    truth = data.graph()
    rep.table([{"edge": f"{u} → {v}", "effect": e["weight"], "in outcome SDs": e["standardized"],
                "readout floor": e.get("floor"), "in the true DAG": truth.has_edge(u, v)}
               for u, v, e in sorted(res.graph.edges(data=True), key=lambda t: -abs(t[2]["standardized"]))],
              caption="direct effects found in the generator's images (dose dispersion in the measured variable's units), "
                      "strongest first: an edge absent from the true DAG is an entanglement of the learned decoder")
    cf = counterfactuals(task, st, gen, data, key=k_cf, n=c.samples)
    rows = []
    for cause in ("pendulum_angle", "light_angle"):
        for effect, e in cf[cause].items():
            rows.append({"do": cause, "variable": effect, "error read from the image": e["image_error"],
                         "error of the model's concept": e["mechanism_error"], "readout floor": e["readout_floor"],
                         "spread of the truth": e["spread"]})
    rep.table(rows, caption="counterfactual faithfulness: mean |model − true mechanism| after do(cause = a fresh value), "
              "in the variable's units; the readout floor is the analytic readout's error on true renderings, the spread "
              "is the std of the true counterfactual value (the error of guessing)")
    leak = [{"do": eff, **{f"mean |Δ {k} read|": v for k, v in cf[eff]["leakage"].items()}} for eff in ("shadow_position", "shadow_length")]
    rep.table(leak, caption="leakage of do(effect) into its causes, read from the images (radians); ≈ 0 for a faithful model")
    rep.text(f"Direct-effect audit: SHD to the true DAG **{res.scores.get('shd')}**; factual images read back with mean "
             "errors " + ", ".join(f"{k} {v:.3g}" for k, v in cf["factual_error"].items()) + ".")
    rep.add_results(causalvae_audit={"direct": res.to_dict(), "counterfactuals": cf})
