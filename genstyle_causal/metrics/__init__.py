"""Disentanglement metrics as published (BetaVAE, FactorVAE, MIG, SAP, DCI, Modularity &
Explicitness, IRS, Gaussian TC) and image metrics (reconstruction, Fréchet feature
distance, style and content distances).

Each metric is a public wrapper ``metric(representation, data, *, key, ...)`` that
samples from a :class:`~genstyle_causal.data.GroundTruthData`, over a private pure
function on arrays ``codes (n, d)``, ``factors (n, k)`` (the disentanglement_lib
split); defaults follow disentanglement_lib's reference setups.
"""

from ._common import FactorCode, oracle_code
from .evaluate import METRICS, PROTOCOLS, evaluate
from .image import frechet_feature_distance, pooled_features, reconstruction_error, style_content_distances
from .information import mig, modularity_explicitness
from .interventional import beta_vae_score, factor_vae_score, irs
from .predictive import dci, sap
from .unsupervised import gaussian_total_correlation

__all__ = [
    "FactorCode", "METRICS", "PROTOCOLS", "beta_vae_score", "dci", "evaluate", "factor_vae_score", "frechet_feature_distance",
    "gaussian_total_correlation", "irs", "mig", "modularity_explicitness", "oracle_code", "pooled_features",
    "reconstruction_error", "sap", "style_content_distances",
]
