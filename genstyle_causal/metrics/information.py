"""Information-based metrics: MIG, Modularity and Explicitness."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._common import (
    check_labelled,
    entropy,
    histogram_discretize,
    labelled_codes,
    labelled_train_test,
    mutual_information,
)


def mig(representation, data, *, key, num_train: int = 10_000, num_bins: int = 20, factors=None, batch_size: int = 256) -> dict:
    """Mutual Information Gap (Chen et al. 2018, "Isolating sources of disentanglement").

    ``MIG = mean_k (I(z_a; v_k) - I(z_b; v_k)) / H(v_k)`` where ``z_a``, ``z_b`` are
    the units with the largest and second-largest mutual information with factor
    ``v_k``. MI is estimated as in disentanglement_lib (not Chen et al.'s own
    estimator): every unit binned into ``num_bins`` = 20 equal-width bins, plug-in
    discrete MI on ``num_train`` = 10,000 samples. Only discrete factors count.

    ``representation``: images -> codes, a :class:`FactorCode`, or precomputed codes
    (then pass their ``factors``).
    """
    codes, labels, names = labelled_codes(
        representation, data, "MIG", key=key, num=num_train, factors=factors, batch_size=batch_size
    )
    return {**_mig(codes, labels, num_bins=num_bins), "factors": list(names)}


def _mig(codes, labels, *, num_bins: int = 20) -> dict:
    """MIG from codes ``(n, d)`` and discrete factor labels ``(n, k)``."""
    codes, labels = check_labelled(codes, labels)
    if codes.shape[1] < 2:
        raise ShapeError(f"MIG needs at least 2 code units to take a gap; got {codes.shape[1]}")
    mi = mutual_information(histogram_discretize(codes, num_bins), labels)
    h = entropy(labels)
    if (h <= 0).any():
        raise ShapeError(f"MIG is undefined for constant factors (zero entropy): factor column(s) {np.nonzero(h <= 0)[0].tolist()}")
    top = np.sort(mi, axis=0)[::-1]
    per_factor = (top[0] - top[1]) / h
    return {"mig": float(per_factor.mean()), "per_factor": per_factor, "mutual_information": mi, "factor_entropy": h}


def modularity_explicitness(
    representation, data, *, key, num_train: int = 10_000, num_test: int = 5_000, num_bins: int = 20, factors=None,
    batch_size: int = 256,
) -> dict:
    """Modularity and Explicitness (Ridgeway & Mozer 2018, "Learning deep disentangled embeddings").

    Modularity: for each unit ``i`` with MI row ``m_i`` over factors and ``θ_i = max_k m_ik``,
    ``1 - Σ_{k≠argmax} m_ik² / (θ_i² (K - 1))`` (0 for a unit with no information),
    averaged over units; MI as in :func:`mig` (20 bins). Explicitness: one-vs-rest
    ROC-AUC of a logistic regression (scikit-learn defaults) predicting each factor
    from the whole code, averaged over classes and factors; as in disentanglement_lib
    the codes are first z-scored with the training mean and std. Defaults follow
    disentanglement_lib: 10,000 train / 5,000 test samples.
    """
    (c_train, y_train), (c_test, y_test), names = labelled_train_test(
        representation, data, "Modularity/Explicitness", key=key, num_train=num_train, num_test=num_test,
        factors=factors, batch_size=batch_size,
    )
    c_train, y_train = check_labelled(c_train, y_train)
    mi = mutual_information(histogram_discretize(c_train, num_bins), y_train)
    return {"modularity": _modularity(mi), **_explicitness(c_train, y_train, c_test, y_test), "factors": list(names)}


def _modularity(mi) -> float:
    """Modularity from a ``(d, k)`` mutual-information matrix (units × factors)."""
    sq = np.square(np.asarray(mi, dtype=np.float64))
    best = sq.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(axis=1) - best) / (best * (sq.shape[1] - 1))
    return float(np.where(best > 0, 1.0 - delta, 0.0).mean())


def _explicitness(codes_train, labels_train, codes_test, labels_test) -> dict:
    """Mean one-vs-rest ROC-AUC of a logistic regression per factor, on train and test.

    Both code sets are z-scored with the train mean and (ddof 0) std, as disentanglement_lib's
    ``normalize_data``: the regression's L2 penalty then treats every unit alike. A
    constant training unit (std 0, where disentanglement_lib would divide by zero) is only centred.
    """
    from sklearn.linear_model import LogisticRegression

    x_train, y_train = check_labelled(codes_train, labels_train)
    x_test, y_test = check_labelled(codes_test, labels_test, name="test codes")
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    train, test = [], []
    for j in range(y_train.shape[1]):
        model = LogisticRegression().fit(x_train, y_train[:, j])
        train.append(_mean_auc(model, x_train, y_train[:, j]))
        test.append(_mean_auc(model, x_test, y_test[:, j]))
    return {"explicitness_train": float(np.mean(train)), "explicitness": float(np.mean(test)), "explicitness_per_factor": test}


def _mean_auc(model, x, y) -> float:
    """Mean ROC-AUC over the classes that occur in ``y`` (with both positives and negatives)."""
    from sklearn.metrics import roc_auc_score

    proba = model.predict_proba(x)
    aucs = [
        roc_auc_score(y == c, proba[:, col])
        for col, c in enumerate(model.classes_)
        if 0 < (y == c).sum() < y.shape[0]
    ]
    return float(np.mean(aucs))
