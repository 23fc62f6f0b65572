"""One call for a whole disentanglement report: :func:`evaluate`, under a named protocol."""

from __future__ import annotations

import time
import zlib
from typing import Mapping, Sequence

import jax

from ..errors import ConfigError
from ._common import is_array, tidy
from .information import mig, modularity_explicitness
from .interventional import beta_vae_score, factor_vae_score, irs
from .predictive import dci, sap
from .unsupervised import gaussian_total_correlation

#: Every metric :func:`evaluate` knows, by the name used in its result.
METRICS = {
    "beta_vae": beta_vae_score,
    "factor_vae": factor_vae_score,
    "mig": mig,
    "sap": sap,
    "dci": dci,
    "modularity_explicitness": modularity_explicitness,
    "irs": irs,
    "gaussian_total_correlation": gaussian_total_correlation,
}
#: Metrics that sample with a factor held fixed and so need a representation function.
NEEDS_SAMPLER = ("beta_vae", "factor_vae")

_DLIB = {
    "beta_vae": {"group_size": 64, "num_train": 10_000, "num_eval": 5_000},
    "factor_vae": {"group_size": 64, "num_train": 10_000, "num_eval": 5_000, "num_variance_estimate": 10_000,
                   "prune_std": 0.05},
    "mig": {"num_train": 10_000, "num_bins": 20},
    "sap": {"num_train": 10_000, "num_test": 5_000},
    "dci": {"estimator": "gbt", "num_train": 10_000, "num_test": 5_000},
    "modularity_explicitness": {"num_train": 10_000, "num_test": 5_000, "num_bins": 20},
    "irs": {"num_train": 10_000, "diff_quantile": 0.99, "num_bins": 20},
    "gaussian_total_correlation": {"num_train": 10_000},
}
#: Keyword arguments of every metric under each named protocol. ``disentanglement_lib``:
#: the sample sizes and estimators of its published study (Locatello et al. 2019; GBT
#: importances for DCI, minutes per model). ``fast``: the same estimators except DCI's
#: fast forest, the information metrics at full size, and a tenth of the votes and
#: half the samples where the cost is (seconds per model; scores shift within a few hundredths).
PROTOCOLS = {
    "disentanglement_lib": _DLIB,
    "fast": {
        **_DLIB,
        "beta_vae": {**_DLIB["beta_vae"], "num_train": 1_000, "num_eval": 500},
        "factor_vae": {**_DLIB["factor_vae"], "num_train": 1_000, "num_eval": 500, "num_variance_estimate": 5_000},
        "sap": {"num_train": 5_000, "num_test": 2_500},
        "dci": {"estimator": "forest", "num_train": 5_000, "num_test": 2_500},
        "modularity_explicitness": {**_DLIB["modularity_explicitness"], "num_train": 5_000, "num_test": 2_500},
    },
}


def evaluate(
    model_or_codes, dataset, metrics: Sequence[str] | None = None, *, key: jax.Array, factors=None,
    protocol: str = "disentanglement_lib", options: Mapping[str, Mapping] | None = None,
    label: str | None = None,
) -> dict:
    """Run several metrics and return a tidy, JSON-ready dict naming the protocol and the settings used.

    ``model_or_codes``: a representation function ``images -> codes`` (e.g. a VAE
    encoder's mean), a :class:`FactorCode`, or precomputed codes ``(n, d)`` with
    their ``factors``. ``metrics`` defaults to all of :data:`METRICS` that apply
    (precomputed codes skip the BetaVAE and FactorVAE scores). ``protocol`` picks the
    sample sizes and estimators of :data:`PROTOCOLS`; ``options`` overrides keyword
    arguments per metric, e.g. ``{"dci": {"estimator": "forest"}}``. Each
    metric gets its own key folded from ``key`` and its name, so a metric's result
    does not depend on which others run. ``label`` names the representation in
    the result (default: ``"codes"`` or the representation's type).
    """
    codes_given = is_array(model_or_codes)
    if metrics is None:
        metrics = [m for m in METRICS if not (codes_given and m in NEEDS_SAMPLER)]
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown metric protocol {protocol!r}; available: {list(PROTOCOLS)}")
    options = dict(options or {})
    unknown = [m for m in list(metrics) + list(options) if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; available: {list(METRICS)}")
    results, seconds, settings = {}, {}, {}
    for name in metrics:
        kwargs = {**PROTOCOLS[protocol][name], **options.get(name, {})}
        settings[name] = dict(kwargs)
        if codes_given and name not in NEEDS_SAMPLER:
            kwargs["factors"] = factors
        start = time.perf_counter()
        results[name] = METRICS[name](model_or_codes, dataset, key=jax.random.fold_in(key, zlib.crc32(name.encode())), **kwargs)
        seconds[name] = time.perf_counter() - start
    return tidy({
        "dataset": dataset.name,
        "factor_names": list(dataset.factor_names),
        "representation": label or ("codes" if codes_given else type(model_or_codes).__name__),
        "protocol": protocol,
        "settings": settings,
        "metrics": results,
        "seconds": seconds,
    })
