"""Unsupervised code statistics: Gaussian total correlation."""

from __future__ import annotations

import numpy as np

from ._common import check_codes, sample_codes


def gaussian_total_correlation(representation, data, *, key, num_train: int = 10_000, factors=None, batch_size: int = 256) -> dict:
    """Total correlation of a Gaussian fitted to the codes (Watanabe 1960; as in Locatello et al. 2019).

    ``TC = KL(N(μ, Σ) ‖ Π_i N(μ_i, Σ_ii)) = ½ (Σ_i log Σ_ii − log det Σ)``, with ``Σ``
    the sample covariance (``np.cov``) of 10,000 codes, as disentanglement_lib's
    unsupervised metrics. 0 for uncorrelated units; needs no factor labels.
    """
    codes, _ = sample_codes(representation, data, key=key, num=num_train, factors=factors, batch_size=batch_size)
    return _gaussian_total_correlation(codes)


def _gaussian_total_correlation(codes) -> dict:
    """Gaussian TC (nats) of codes ``(n, d)``; constant units are dropped (they correlate with nothing)."""
    z = check_codes(codes)
    z = z[:, z.std(axis=0) > 0]
    if z.shape[1] < 2:
        return {"gaussian_total_correlation": 0.0, "num_active": int(z.shape[1])}
    cov = np.cov(z, rowvar=False)
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    return {"gaussian_total_correlation": float(tc), "num_active": int(z.shape[1])}
