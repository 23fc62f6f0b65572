"""Report sections shared by the pipelines (``demo``, the causal-generators study) and the ``train``/``audit``
commands, and the loop that runs a pipeline's sections.

Every pipeline imports from here, so none depends on another.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import jax

from .config import bounded


@dataclasses.dataclass(frozen=True)
class MetricsSection:
    """Disentanglement metrics of the VAE and of the oracle: a metric protocol (``fast`` or
    ``disentanglement_lib``, see :data:`genstyle_causal.metrics.PROTOCOLS`) with these sizes over it."""

    protocol: str = "fast"
    samples: int = bounded(3000, 2)
    votes: int = bounded(400, 2)
    dci_estimator: str = "forest"
    names: tuple[str, ...] = ("mig", "dci", "sap", "modularity_explicitness", "factor_vae")

    def __post_init__(self):
        from .errors import ConfigError
        from .metrics import PROTOCOLS

        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"metrics.protocol must be one of {list(PROTOCOLS)}; got {self.protocol!r}")


def mean_encoder(vae) -> Callable[[jax.Array], jax.Array]:
    """The jitted map ``images -> encoder means`` of a VAE model: the code its metrics are computed on."""
    from flax import nnx

    graphdef, enc = nnx.split(vae.encoder)
    return jax.jit(lambda x: nnx.merge(graphdef, enc)(x)[0])


def metrics_section(rep, settings: MetricsSection, key, data, encode, *, label: str) -> dict:
    """Report section: metrics of a code ``encode(images)`` beside the dataset oracle's ceiling; returns the results."""
    from .metrics import evaluate, oracle_code

    n = settings.samples
    sizes = {
        "mig": {"num_train": n},
        "dci": {"num_train": n, "num_test": n // 2, "estimator": settings.dci_estimator},
        "sap": {"num_train": n, "num_test": n // 2},
        "modularity_explicitness": {"num_train": n, "num_test": n // 2},
        "irs": {"num_train": n},
        "factor_vae": {"num_train": settings.votes, "num_eval": settings.votes // 2, "num_variance_estimate": n},
        "beta_vae": {"num_train": settings.votes, "num_eval": settings.votes // 2},
    }
    names = list(settings.names)
    opts = {m: sizes[m] for m in names if m in sizes}
    rows, results = [], {}
    for name, representation in ((label, encode), ("oracle", oracle_code(data))):
        res = evaluate(representation, data, names, key=key, protocol=settings.protocol, options=opts, label=name)
        results[name] = res
        rows.append({"representation": name, **headline(res["metrics"])})
    rep.section("Disentanglement metrics")
    rep.text(f"The oracle's code is the true factor vector, so its scores are the ceiling each metric can reach "
             f"on {data.name}; the gap to it is what the {label} did not disentangle.")
    rep.table(rows, caption=f"higher is better; metric protocol '{settings.protocol}' with {n} samples per metric, "
              f"{settings.votes} votes for the FactorVAE score, DCI with the '{settings.dci_estimator}' importance "
              "estimator")
    rep.add_results(metrics=results)
    return results


def headline(metrics: dict) -> dict:
    """The held-out scores of each metric, one column each, for the summary table."""
    out = {}
    for name, value in metrics.items():
        for k, v in value.items():
            if isinstance(v, float) and not k.endswith("_train"):
                out[k if k == name or name == "modularity_explicitness" else f"{name.upper()} {k[0].upper()}"] = v
    return out


def start_report(outdir: str | Path, cfg, title: str, intro: str):
    """Create ``outdir`` with its ``config.json`` and a :class:`~genstyle_causal.report.Report` that opens with
    ``intro``, the configuration's path, the JAX backend and the provenance block."""
    from .config import to_dict
    from .io import atomic_write_json
    from .report import Report, provenance

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(outdir / "config.json", to_dict(cfg))
    rep = Report(outdir, title)
    rep.add_results(provenance=provenance(to_dict(cfg)))
    rep.text(f"{intro}\n\nConfiguration: `{outdir / 'config.json'}`; JAX backend `{jax.default_backend()}` "
             f"({jax.device_count()} device(s)).")
    return rep


def run_sections(rep, sections, cfg, key, outdir: str | Path, *, findings: Callable[[dict], None]) -> dict:
    """Run a pipeline's ``sections`` in order, each as ``section(rep, cfg, key_i, state, outdir)``.

    ``sections`` holds ``(number, section)`` pairs: ``key_i = fold_in(key, number)``, so a section
    draws the same keys whichever others run. After each section its seconds go to the results and
    ``findings(state)`` refreshes the report's findings; a "Run time" table closes the report.
    Returns the seconds per section.
    """
    state: dict = {}
    timings: dict[str, float] = {}
    for shown, (number, section) in enumerate(sections, 1):
        print(f"[{shown}/{len(sections)}] {section.__doc__.splitlines()[0]}", flush=True)
        t0 = time.perf_counter()
        section(rep, cfg, jax.random.fold_in(key, number), state, Path(outdir))
        timings[section.__name__.strip("_")] = round(time.perf_counter() - t0, 2)
        rep.add_results(seconds=timings)
        findings(state)
    rep.section("Run time").table([{"section": k, "seconds": v} for k, v in timings.items()])
    return timings
