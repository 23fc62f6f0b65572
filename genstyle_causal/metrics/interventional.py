"""Metrics that compare codes of samples sharing a factor value: BetaVAE score,
FactorVAE score and IRS."""

from __future__ import annotations

import jax
import numpy as np

from ..errors import ShapeError
from ._common import (
    check_codes,
    check_labelled,
    draw_held_groups,
    draw_shared_pairs,
    encode,
    histogram_discretize,
    labelled_codes,
    per_factor,
    require_sampler,
    sample_codes,
    seed,
)


def beta_vae_score(
    representation, data, *, key, group_size: int = 64, num_train: int = 10_000, num_eval: int = 5_000,
    batch_size: int = 256,
) -> dict:
    """BetaVAE score (Higgins et al. 2017, "β-VAE: learning basic visual concepts with a constrained
    variational framework").

    Each point: pick a factor ``k``, then ``group_size`` pairs of samples that share
    the value of ``k`` (everything else random); the feature is the mean absolute
    code difference over the pairs. The score is the eval accuracy of a logistic
    regression predicting ``k`` from the feature. Defaults as in disentanglement_lib:
    groups of 64, 10,000 train / 5,000 eval points. Points are stratified (an equal
    share per factor, rounded up) where disentanglement_lib draws ``k`` per point:
    same expectation, less variance, and one compiled sampler for all factors. ``batch_size`` only chunks the representation calls.
    """
    require_sampler(representation, "the BetaVAE score")
    m_train, m_eval = per_factor(num_train, data.num_factors), per_factor(num_eval, data.num_factors)
    first, second = draw_shared_pairs(data, key, (m_train + m_eval) * group_size)
    flat = (-1, data.num_factors)
    za = encode(representation, data, first.reshape(flat), batch_size=batch_size)
    zb = encode(representation, data, second.reshape(flat), batch_size=batch_size)
    features = _pair_features(za, zb, group_size).reshape(data.num_factors, m_train + m_eval, -1)
    labels = np.repeat(np.arange(data.num_factors)[:, None], m_train + m_eval, axis=1)
    train, eval_ = np.s_[:, :m_train], np.s_[:, m_train:]
    d = features.shape[-1]
    return _beta_vae(
        features[train].reshape(-1, d), labels[train].ravel(), features[eval_].reshape(-1, d), labels[eval_].ravel(),
        seed=seed(key),
    )


def _pair_features(codes_a, codes_b, group_size: int) -> np.ndarray:
    """Mean ``|z_a − z_b|`` over each consecutive group of ``group_size`` pairs."""
    diff = np.abs(np.asarray(codes_a) - np.asarray(codes_b))
    return diff.reshape(-1, group_size, diff.shape[1]).mean(axis=1)


def _beta_vae(features_train, labels_train, features_eval, labels_eval, *, seed: int = 0) -> dict:
    """Train/eval accuracy of a logistic regression from pair features to the held factor."""
    from sklearn.linear_model import LogisticRegression

    x_train, x_eval = check_codes(features_train, name="features"), check_codes(features_eval, name="eval features")
    model = LogisticRegression(random_state=seed).fit(x_train, labels_train)
    return {
        "beta_vae_train": float(np.mean(model.predict(x_train) == labels_train)),
        "beta_vae": float(np.mean(model.predict(x_eval) == labels_eval)),
    }


def factor_vae_score(
    representation, data, *, key, group_size: int = 64, num_train: int = 10_000, num_eval: int = 5_000,
    num_variance_estimate: int = 10_000, prune_std: float = 0.05, batch_size: int = 256,
) -> dict:
    """FactorVAE score (Kim & Mnih 2018, "Disentangling by factorising").

    Each vote: hold one factor at a random value for ``group_size`` samples
    (``data.sample_factors_fixed``); the unit with the smallest variance, relative to
    its variance over the data, votes for that factor. Units whose global std is
    below ``prune_std`` are ignored. A majority-vote classifier (unit -> factor) is
    read off the training votes; the score is its accuracy on the eval votes.
    Defaults as in disentanglement_lib: groups of 64, 10,000 train / 5,000 eval
    votes (stratified per factor, as in :func:`beta_vae_score`), 10,000 samples for
    the global variance, prune at std 0.05.
    """
    require_sampler(representation, "the FactorVAE score")
    k_var, k_votes = jax.random.split(key)
    codes, _ = sample_codes(representation, data, key=k_var, num=num_variance_estimate, batch_size=batch_size)
    global_var = codes.var(axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_std
    if not active.any():
        empty = np.zeros((codes.shape[1], data.num_factors))
        return {"factor_vae_train": 0.0, "factor_vae": 0.0, "num_active": 0, "votes": empty}
    m_train, m_eval = per_factor(num_train, data.num_factors), per_factor(num_eval, data.num_factors)
    held = draw_held_groups(data, k_votes, m_train + m_eval, group_size).reshape(-1, data.num_factors)
    winners = _vote(encode(representation, data, held, batch_size=batch_size), group_size, global_var, active)
    winners = winners.reshape(data.num_factors, m_train + m_eval)
    votes_train = _count_votes(winners[:, :m_train], codes.shape[1])
    votes_eval = _count_votes(winners[:, m_train:], codes.shape[1])
    return {**_factor_vae(votes_train, votes_eval), "num_active": int(active.sum()), "votes": votes_train}


def _count_votes(winners, num_units: int) -> np.ndarray:
    """Vote matrix ``(d, k)`` from the winning unit of every group, ``winners (k, groups)``."""
    return np.stack([np.bincount(w, minlength=num_units) for w in winners], axis=1).astype(np.float64)


def _vote(codes, group_size: int, global_var, active) -> np.ndarray:
    """Per group of ``group_size`` codes, the active unit with the smallest ``var / global var``."""
    local = np.asarray(codes).reshape(-1, group_size, codes.shape[1]).var(axis=1, ddof=1)
    return np.argmin(np.where(active, local / np.where(active, global_var, 1.0), np.inf), axis=1)


def _factor_vae(votes_train, votes_eval) -> dict:
    """Majority-vote classifier (unit -> factor) from train votes ``(d, k)``; its train and eval accuracy."""
    votes_train, votes_eval = np.asarray(votes_train), np.asarray(votes_eval)
    if votes_train.shape != votes_eval.shape or votes_train.ndim != 2:
        raise ShapeError(f"vote matrices must share a (units, factors) shape; got {votes_train.shape} and {votes_eval.shape}")
    guess = np.argmax(votes_train, axis=1)
    units = np.arange(votes_train.shape[0])
    return {
        "factor_vae_train": float(votes_train[units, guess].sum() / votes_train.sum()),
        "factor_vae": float(votes_eval[units, guess].sum() / votes_eval.sum()),
    }


def irs(
    representation, data, *, key, num_train: int = 10_000, diff_quantile: float = 0.99, num_bins: int | None = 20,
    factors=None, batch_size: int = 256,
) -> dict:
    """Interventional Robustness Score (Suter et al. 2019, "Robustly disentangled causal mechanisms").

    For unit ``i`` and factor ``k``: the mean over values ``g`` of factor ``k`` of the
    ``diff_quantile`` quantile of ``|z_i − E[z_i | v_k = g]|``, divided by the unit's
    largest deviation from its mean; ``IRS_i = 1 − min_k`` of that, averaged over
    units weighted by their largest deviation. Constant units are dropped. Defaults
    as in disentanglement_lib: 10,000 samples, quantile 0.99, and the factor grid
    indices grouped into ``num_bins`` = 20 equal-width histogram bins first (so
    dSprites' 40 orientations and 32 positions share bins); ``num_bins=None`` groups
    on the exact grid values.
    """
    codes, labels, names = labelled_codes(
        representation, data, "IRS", key=key, num=num_train, factors=factors, batch_size=batch_size
    )
    return {**_irs(codes, labels, diff_quantile=diff_quantile, num_bins=num_bins), "factors": list(names)}


def _irs(codes, labels, *, diff_quantile: float = 0.99, num_bins: int | None = 20) -> dict:
    """IRS from codes ``(n, d)`` and discrete factor labels ``(n, k)`` (grouped into ``num_bins`` bins unless None)."""
    z, labels = check_labelled(codes, labels)
    if num_bins is not None:
        labels = histogram_discretize(labels, num_bins)
    z = z[:, z.std(axis=0) > 0]
    if z.shape[1] == 0:
        return {"irs": 0.0, "num_active": 0}
    max_dev = np.abs(z - z.mean(axis=0)).max(axis=0)
    dev = np.zeros((z.shape[1], labels.shape[1]))
    for k in range(labels.shape[1]):
        values = np.unique(labels[:, k])
        for g in values:
            group = z[labels[:, k] == g]
            dev[:, k] += np.quantile(np.abs(group - group.mean(axis=0)), diff_quantile, axis=0)
        dev[:, k] /= values.shape[0]
    irs_matrix = 1.0 - dev / max_dev[:, None]
    per_unit = irs_matrix.max(axis=1)
    return {
        "irs": float(np.average(per_unit, weights=max_dev)),
        "per_unit": per_unit,
        "parents": irs_matrix.argmax(axis=1),
        "irs_matrix": irs_matrix,
        "num_active": int(z.shape[1]),
    }
