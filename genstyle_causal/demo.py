"""``genstyle-causal demo``: the package's main job, end to end, offline, on a laptop-sized CPU.

Trains a VAE (the measured ``demo`` recipe: β-TCVAE on 32×32 dSprites) and a factor
probe on dSprites, audits the VAE causally (traversals, effect matrix with CIs,
influence maps, graph), scores its disentanglement, audits
the dSprites and pendulum oracles as references whose answers are known, runs a
style/content study on styleshapes, and writes a self-contained report. Each
section is written as soon as it finishes, so an interrupted run still leaves a
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
from .models.vae import OBJECTIVE_LABELS, RECIPES
from .sections import MetricsSection, headline, mean_encoder, metrics_section, run_sections, start_report


_RECIPE = RECIPES["demo"]


@dataclasses.dataclass(frozen=True)
class VAESection:
    """The VAE trained on dSprites; defaults are the measured ``models.vae.RECIPES["demo"]``."""

    objective: str = _RECIPE.config.objective
    beta: float = _RECIPE.config.beta
    latent: int = _RECIPE.config.latent
    steps: int = _RECIPE.steps
    batch_size: int = _RECIPE.batch_size
    learning_rate: float = _RECIPE.config.learning_rate
    steps_per_call: int = _RECIPE.steps_per_call

    @property
    def label(self) -> str:
        return OBJECTIVE_LABELS.get(self.objective, self.objective)


@dataclasses.dataclass(frozen=True)
class ProbeSection:
    """The CNN that reads the true factors back from images (at the demo's 32×32: measured reliability on the
    oracle after 800 steps keeps only posX/posY; after 4,000, shape 0.95, scale 0.95, positions 1.00, orientation
    0.75 — flagged)."""

    steps: int = 4000
    batch_size: int = 64


@dataclasses.dataclass(frozen=True)
class AuditSection:
    """Sizes of the causal audits."""

    samples: int = 256
    bootstrap: int = 500
    traversal_values: int = 7


@dataclasses.dataclass(frozen=True)
class StyleSection:
    """The style/content study on styleshapes and the shipped sample images."""

    enabled: bool = True
    gatys_steps: int = 150
    gatys_size: int = 128


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Everything the demo does; every key can be set with ``--set section.key=value``."""

    seed: int = 0
    image_size: int = _RECIPE.image_size
    vae: VAESection = dataclasses.field(default_factory=VAESection)
    probe: ProbeSection = dataclasses.field(default_factory=ProbeSection)
    audit: AuditSection = dataclasses.field(default_factory=AuditSection)
    metrics: MetricsSection = dataclasses.field(default_factory=MetricsSection)
    style: StyleSection = dataclasses.field(default_factory=StyleSection)

    def __post_init__(self):
        if self.image_size not in (32, 64):
            raise ConfigError(f"image_size must be 32 or 64 (the dSprites grid at full or half size); got {self.image_size}")


def run_demo(cfg: DemoConfig, outdir: str | Path):
    """Run every section of the demo into ``outdir``; returns the :class:`~genstyle_causal.report.Report`."""
    rep = start_report(outdir, cfg, f"genstyle_causal demo: a causal audit of a {cfg.vae.label} on dSprites", (
        "Every number below can be checked against ground truth: the datasets are rendered procedurally, "
        "so their true factors — and for the pendulum its true causal graph — are known, and each dataset's "
        "renderer is an *oracle generator* on which a correct audit must come out exact."))
    steps = [_datasets, _train_vae, _train_probe, _audit_vae, _metrics, _oracles, _style]
    sections = [(i, step) for i, step in enumerate(steps, 1) if step is not _style or cfg.style.enabled]
    run_sections(rep, sections, cfg, jax.random.key(cfg.seed), outdir,
                 findings=lambda state: _findings(rep, cfg, state))
    return rep


# -- sections ---------------------------------------------------------------------------


def _datasets(rep, cfg, key, state, outdir):
    """Datasets: samples of dSprites, styleshapes and the pendulum."""
    from .data import DSprites, Pendulum, StyleShapes
    from .report import image_grid

    rep.section("Datasets with known ground truth")
    rows = []
    for data in (DSprites(size=cfg.image_size), StyleShapes(size=cfg.image_size), Pendulum(size=cfg.image_size)):
        img = np.asarray(data.sample(key, 8)[1])
        rows.append(np.repeat(img, 3, -1) if img.shape[-1] == 1 else img)
    rep.figure(image_grid(np.stack(rows), row_labels=["dsprites", "styleshapes", "pendulum"]), "datasets",
               "Random samples. dSprites: shape × scale × orientation × position; styleshapes: content "
               "(shape, scale, position) × style (hue, stroke, texture, background); pendulum: two causes "
               "(pendulum and light angle) and their two effects (shadow position and length).")


def _train_vae(rep, cfg, key, state, outdir):
    """Train the VAE on dSprites (checkpointed, resumable)."""
    from .data import DSprites
    from .io import read_jsonl
    from .models.vae import VAETask, vae_generator
    from .report import image_grid, loss_curves
    from .train import Checkpoints, TrainConfig, fit

    v = cfg.vae
    data = DSprites(size=cfg.image_size)
    task = VAETask(dataclasses.replace(_RECIPE.config, image_shape=data.image_shape, latent=v.latent,
                                       objective=v.objective, beta=v.beta, learning_rate=v.learning_rate))
    spc = max(1, min(v.steps_per_call, v.steps))
    log_every = spc * max(1, v.steps // (20 * spc))
    train = TrainConfig(steps=v.steps, seed=int(jax.random.randint(key, (), 0, 2**31 - 1)), steps_per_call=spc,
                        log_every=log_every, checkpoint_every=0)
    start = Checkpoints(outdir / "vae" / "checkpoints").latest_step or 0
    t0 = time.perf_counter()
    trained, _ = fit(task, lambda k: data.sample(k, v.batch_size)[1], train, workdir=outdir / "vae")
    seconds = time.perf_counter() - t0
    model = task.model(trained.params)
    state["vae"], state["vae_encode"] = vae_generator(model, name=f"{v.objective}-vae"), mean_encoder(model)
    state["dsprites"] = data

    rep.section(f"Training the {v.label} (β = {v.beta:g})")
    log = read_jsonl(outdir / "vae" / "metrics.jsonl")  # the whole run, also when it resumed
    curves = {k: [r[k] for r in log if k in r] for k in ("loss", "recon", "kl")}
    rep.figure(loss_curves(curves, steps=[r["step"] for r in log if "loss" in r]), "vae-loss",
               "Loss, reconstruction negative log-likelihood and KL (nats) during training.")
    x = data.sample(jax.random.fold_in(key, 1), 8)[1]
    logits, *_ = model(x, key=jax.random.fold_in(key, 2))
    recon = jax.nn.sigmoid(logits)
    rep.figure(image_grid(np.stack([np.asarray(x), np.asarray(recon)]), row_labels=["input", "reconstruction"]),
               "vae-reconstructions", "Freshly rendered dSprites images and their reconstructions (training draws from "
               "the same procedural distribution, so these are new samples, not a held-out set).")
    last = log[-1] if log else {}
    new_steps = int(trained.step) - start
    speed = (f"{new_steps} new steps in {seconds:.0f} s ({new_steps / max(seconds, 1e-9):.1f} steps/s including "
             "compilation)" if new_steps else "resumed from a finished checkpoint")
    rep.text(f"{v.steps} steps of batch {v.batch_size}: {speed}; final loss {last.get('loss', float('nan')):.2f}, "
             f"reconstruction {last.get('recon', float('nan')):.2f}, KL {last.get('kl', float('nan')):.2f} nats.")
    rep.add_results(vae={"steps": v.steps, "seconds": seconds, "final": last})


def _train_probe(rep, cfg, key, state, outdir):
    """Train the factor probe and validate it on the dSprites oracle."""
    from .causal.reliability import readout_reliability
    from .models.probe import train_probe
    from .report import column_notes, effect_heatmap, reliability_rows

    data = state["dsprites"]
    probe = train_probe(data, key=key, steps=cfg.probe.steps, batch_size=cfg.probe.batch_size,
                        workdir=outdir / "probe", progress=True)
    state["probe"] = probe
    rel = readout_reliability(data, probe, key=jax.random.fold_in(key, 7), n=2000, audit_samples=cfg.audit.samples,
                              num_bootstrap=cfg.audit.bootstrap)
    state["reliability"] = rel
    rep.section("Factor probe, validated on the oracle")
    rep.text("A small CNN trained on rendered dSprites reads each factor back from an image; it turns *effect on the "
             "image* into *effect on a named factor*. An audit is a measurement, so the probe is validated on the "
             "oracle first, where the true factors are known: its reliability per factor on 2,000 fresh images "
             "(R² scale: 1 perfect, 0 chance; shape: chance-corrected accuracy; orientation: circular R² of the "
             "angle modulo the shape's symmetry), its **floor** (twice its mean absolute error: a paired effect "
             "smaller than that may be reading error, so only effects whose CI clears it count as detected), and "
             "its **leakage**: the largest effect another factor has on a factor's reading on the oracle. Factors "
             f"below the reliability threshold {rel.threshold:g} are flagged, and the audits below do not attribute "
             "them.")
    rep.table(reliability_rows(rel), caption="probe reliability on the dSprites oracle")
    m = rel.oracle
    rep.figure(effect_heatmap(m.effect, m.low, m.high, units=m.unit_names, outcomes=m.outcome_names, scale=m.scale,
                              floor=rel.floor, unreliable=rel.flagged_columns,
                              notes=column_notes(rel, m.outcome_names),
                              title="dSprites oracle read through the probe: factor → read factor"),
               "oracle-dsprites", _EFFECT_CAPTION + " On the oracle each unit is a true factor, so a correct "
               "readout shows effects on the diagonal only; anything else is leakage of the probe.")
    fails = rel.oracle_failures()
    rep.text(f"Reference check on the kept factors ({', '.join(rel.kept) or 'none'}): "
             + ("**failed** — no factor is read reliably enough to check." if not rel.kept else
                "**passed** — each factor's own unit is detected and no other unit is." if not fails else
                f"**failed** — {', '.join(fails)}."))
    rep.add_results(probe_reliability=rel.to_dict())


#: What every effect heatmap of the demo shows.
_EFFECT_CAPTION = ("Average causal effect of moving each unit from its 10% to its 90% prior quantile, in outcome "
                   "standard deviations, with familywise (Bonferroni) 95% bootstrap CIs. Shape is read as class "
                   "probabilities (signed contrasts); orientation as the angle turned modulo the symmetry the two "
                   "shapes share (a magnitude). n.s.: CI contains 0; < floor: CI does not clear the probe's error "
                   "floor; hatched: readout below the reliability threshold.")


def _audit_vae(rep, cfg, key, state, outdir):
    """Causal audit of the VAE: traversals, effect matrix with CIs, unit → factor assignment, influence maps."""
    from .causal import audit, do_batch, influence_maps, intervene
    from .report import assignment_graph, column_notes, effect_heatmap, image_grid, influence_maps as influence_figure

    gen, probe, a = state["vae"], state["probe"], cfg.audit
    rep.section("Causal audit of the VAE's latent units")
    z0 = gen.sample_latent(jax.random.fold_in(key, 1), 1)
    values = jnp.linspace(-2.0, 2.0, a.traversal_values, dtype=jnp.float32)
    units = jnp.repeat(jnp.arange(gen.latent_dim), a.traversal_values)
    ivs = do_batch(units, jnp.tile(values, gen.latent_dim))
    images = jax.vmap(lambda iv: intervene(gen, z0, iv)[0])(ivs)
    grid = np.asarray(images).reshape((gen.latent_dim, a.traversal_values) + images.shape[1:])
    rep.figure(image_grid(np.repeat(grid, 3, -1) if grid.shape[-1] == 1 else grid,
                          row_labels=list(gen.latent_names), col_labels=[f"{v:+.1f}" for v in values], cell=0.7),
               "vae-traversals", "Latent traversals: do(z_i = v) on one base sample, each row one unit.")
    result = audit(gen, probe, key=key, n=a.samples, num_bootstrap=a.bootstrap)
    m, rel = result.effects, state["reliability"]
    rep.figure(effect_heatmap(m.effect, m.low, m.high, units=m.unit_names, outcomes=m.outcome_names, scale=m.scale,
                              floor=rel.floor, unreliable=rel.flagged_columns, notes=column_notes(rel, m.outcome_names),
                              title=f"{gen.name}: latent → probe-read factor"), "vae-effects", _EFFECT_CAPTION)
    view = rel.factor_view(m)
    state["vae_view"] = view
    rep.figure(assignment_graph(view.effect, view.resolved, units=view.unit_names, factors=view.factor_names,
                                excluded=rel.flagged), "vae-graph",
               "Which latent controls which factor: the strongest detected effects (CI clear of the probe's floor, "
               "|effect| ≥ 0.25 SD), at most two per factor; factors whose readout failed validation are left out.")
    z = gen.sample_latent(jax.random.fold_in(key, 2), 64)
    shifts = do_batch(jnp.arange(gen.latent_dim), jnp.full((gen.latent_dim,), 2.0, jnp.float32))
    maps = influence_maps(gen, z, shifts)
    rep.figure(influence_figure(np.asarray(maps), names=list(gen.latent_names)), "vae-influence",
               "Influence maps: mean |Δ pixel| when each latent is set to +2 (64 samples).")
    rep.add_results(vae_audit={**result.to_dict(), "factor_effects": _view_dict(view)})


def _view_dict(view) -> dict:
    return {"unit_names": list(view.unit_names), "factor_names": list(view.factor_names),
            "effect_sd": view.effect.tolist(), "low_sd": view.low.tolist(), "high_sd": view.high.tolist(),
            "detected": view.resolved.tolist(), "column": [list(c) for c in view.column]}


def _metrics(rep, cfg, key, state, outdir):
    """Disentanglement metrics of the VAE and of the dSprites oracle."""
    label = cfg.vae.label
    results = metrics_section(rep, cfg.metrics, key, state["dsprites"], state["vae_encode"], label=label)
    state["scores"] = {name: headline(res["metrics"]) for name, res in results.items()}
    if "sap" in cfg.metrics.names:
        rep.text("SAP's ceiling is low even on the oracle: it scores a discrete factor by the accuracy of a strongly "
                 "regularised linear classifier (LinearSVC, C = 0.01, as in disentanglement_lib) on one code "
                 "dimension at a time, which cannot separate 32 position or 40 orientation classes even from the "
                 "true factor, so the gap between the best and second-best dimension stays small.")


def _oracles(rep, cfg, key, state, outdir):
    """Reference audit on the pendulum oracle: recovered DAG and DoWhy's backdoor estimate."""
    import matplotlib.pyplot as plt

    from .causal import audit, draw_graph
    from .causal.dowhy_bridge import compare_with_intervention
    from .data import Pendulum

    a = cfg.audit
    rep.section("Reference audit on the pendulum oracle")
    pend = Pendulum(size=cfg.image_size)
    pres = audit(pend.oracle(), pend, key=jax.random.fold_in(key, 2), n=a.samples, num_bootstrap=a.bootstrap)
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_graph(pres.graph, ax=ax, reference=pend.graph())
    rep.figure(fig, "oracle-pendulum-graph", "Pendulum: direct-effect graph recovered by hard interventions "
               "on each variable (the others held), measuring the four variables in the image, drawn against the true DAG.")
    cmp = compare_with_intervention(pend.oracle(), pend.readout(), pend.graph(), "pendulum_angle", "shadow_position",
                                    key=jax.random.fold_in(key, 3), n=1000)
    o = cmp.observational
    rep.text(f"Pendulum oracle: structural Hamming distance to the true DAG **{pres.scores['shd']}** "
             f"(edge precision {pres.scores['edge_precision']:.2f}, recall {pres.scores['edge_recall']:.2f}). "
             f"DoWhy backdoor estimate of pendulum_angle → shadow_position: {o.estimate:.3f} "
             f"[{o.low:.3f}, {o.high:.3f}]; interventional slope from the generator: {cmp.interventional:.3f} "
             f"[{cmp.interventional_low:.3f}, {cmp.interventional_high:.3f}]; agree: **{cmp.agree}**.")
    state["pendulum"] = {"shd": pres.scores["shd"], "agree": cmp.agree, "estimate": o.estimate,
                         "interventional": cmp.interventional}
    rep.add_results(oracle_pendulum={**pres.to_dict(), "dowhy": cmp.to_dict()})


def _style(rep, cfg, key, state, outdir):
    """Style/content study: swaps on the styleshapes oracle and Gatys style transfer on sample images."""
    from .causal import SwapContent, SwapStyle, intervene
    from .data import StyleShapes, sample_image
    from .models.style import GatysConfig, gatys_transfer
    from .report import image_grid

    data = StyleShapes(size=cfg.image_size)
    gen = data.oracle()
    k1, k2 = jax.random.split(key)
    z, donor = gen.sample_latent(k1, 6), gen.sample_latent(k2, 6)
    rows = [gen(z), gen(donor), intervene(gen, z, SwapStyle("latent", donor)), intervene(gen, z, SwapContent("latent", donor))]
    rep.section("Style and content")
    rep.figure(image_grid(np.stack([np.asarray(r) for r in rows]),
                          row_labels=["sample", "donor", "SwapStyle", "SwapContent"]), "style-swaps",
               "styleshapes oracle: SwapStyle takes the donor's hue, stroke, texture and background and keeps the "
               "sample's shape and position; SwapContent does the reverse.")
    read = data.readout()
    base, swapped = np.asarray(read(rows[0])), np.asarray(read(rows[2]))
    moved = np.abs(swapped - base).mean(axis=0)
    groups = dict(read.groups)
    state["style_swap"] = {g: {read.names[j]: float(moved[j]) for j in groups[g]} for g in ("content", "style")}
    rep.table([{"readout": n, "mean |change| under SwapStyle": float(v)} for n, v in zip(read.names, moved)],
              caption="content readouts (area, x, y) stay; style readouts (hue, background) move")
    size = cfg.style.gatys_size
    content, style_img = sample_image("chelsea", size), sample_image("waves", size)
    out, history = gatys_transfer(content, style_img, config=GatysConfig(steps=cfg.style.gatys_steps))
    rep.figure(image_grid(np.stack([[content, style_img, np.asarray(out[0])]]),
                          col_labels=["content", "style", "Gatys transfer"], cell=2.0), "style-gatys",
               "Gatys et al. style transfer with the package's offline default feature extractor "
               "(trained VGG16 conv1_1..conv4_1, shipped with the package).")
    loss = np.asarray(history["total"])
    rep.text(f"Gatys optimisation: {cfg.style.gatys_steps} Adam steps at {size}×{size}; total loss "
             f"{loss[0]:.3g} → {loss[-1]:.3g}.")
    rep.add_results(style={"swap_style_mean_change": dict(zip(read.names, moved.tolist())),
                           "gatys_loss_first_last": [float(loss[0]), float(loss[-1])]})


def _findings(rep, cfg, state) -> None:
    """Refill the findings box from what has finished so far (the box opens the report)."""
    from .report import check, factor_rows, score_rows

    tables, checks = [], []
    rel = state.get("reliability")
    if "vae_view" in state:
        tables.append((f"Which latent controls which factor ({cfg.vae.label}, read through the probe): "
                       "effects in outcome SDs with familywise 95% CIs; gap = strongest minus runner-up |effect|",
                       factor_rows(state["vae_view"], reliability=rel)))
    if "scores" in state:
        tables.append(("Disentanglement scores against the oracle's ceiling (higher is better)",
                       score_rows(state["scores"], model=cfg.vae.label)))
    if rel is not None:
        fails = rel.oracle_failures()
        checks.append(check(f"dSprites oracle read through the probe is diagonal on the kept factors "
                            f"({', '.join(rel.kept) or 'none'})", rel.kept and not fails,
                            "no factor is read reliably enough to check" if not rel.kept else
                            "each factor's own unit is detected and no other" if not fails
                            else f"effects found where the oracle has none or missed: {', '.join(fails)}"))
        checks.append(check(f"probe reliability ≥ {rel.threshold:g} on every factor", not rel.flagged,
                            "" if not rel.flagged else f"{', '.join(rel.flagged)} below it: flagged, not attributed, "
                            "left out of the graph"))
    if "pendulum" in state:
        p = state["pendulum"]
        checks.append(check("pendulum oracle: recovered graph equals the true DAG", p["shd"] == 0,
                            f"structural Hamming distance {p['shd']}"))
        checks.append(check("pendulum: DoWhy backdoor estimate agrees with the generator's do-effect", p["agree"],
                            f"{p['estimate']:.3f} vs {p['interventional']:.3f}"))
    if "style_swap" in state:
        content, style = state["style_swap"]["content"], state["style_swap"]["style"]
        checks.append(check("styleshapes oracle: SwapStyle moves only the style readouts",
                            max(content.values()) == 0 and min(style.values()) > 0,
                            "largest content change " + f"{max(content.values()):.3g}, smallest style change "
                            f"{min(style.values()):.3g} (mean |change| per readout)"))
    rep.findings(tables=tables, checks=checks)
