"""Report sections shared by ``demo`` and the ``train``/``audit`` commands.

Both pipelines import from here, so neither depends on the other.
"""

from __future__ import annotations

import dataclasses
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
