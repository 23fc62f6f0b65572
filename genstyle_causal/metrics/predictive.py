"""Predictor-based metrics: SAP and DCI."""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from ..errors import ConfigError
from ._common import check_codes, check_labelled, labelled_train_test, seed, train_test_codes

Estimator = Literal["gbt", "forest"]
ESTIMATORS = ("gbt", "forest")


def sap(
    representation, data, *, key, num_train: int = 10_000, num_test: int = 5_000, continuous: bool = False,
    factors=None, batch_size: int = 256,
) -> dict:
    """Separated Attribute Predictability (Kumar et al. 2018, "Variational inference of disentangled latent concepts").

    Score matrix ``S[i, k]`` = test accuracy of a linear SVM (``LinearSVC(C=0.01,
    class_weight="balanced")``) predicting discrete factor ``k`` from unit ``i``
    alone; ``SAP = mean_k`` (largest − second largest ``S[:, k]``). Defaults follow
    disentanglement_lib: 10,000 train / 5,000 test samples, discrete factors.
    ``continuous=True`` scores every factor (continuous ones too) by the R² of a
    linear fit instead, on the training samples (the paper's regression variant).
    """
    sizes = {"key": key, "num_train": num_train, "num_test": num_test, "factors": factors, "batch_size": batch_size}
    if continuous:
        (c_train, v_train), _ = train_test_codes(representation, data, **sizes)
        return {**_sap_continuous(c_train, v_train), "factors": list(data.factor_names)}
    (c_train, y_train), (c_test, y_test), names = labelled_train_test(representation, data, "SAP", **sizes)
    return {**_sap(c_train, y_train, c_test, y_test), "factors": list(names)}


def _sap(codes_train, labels_train, codes_test, labels_test) -> dict:
    """SAP from train/test codes and discrete labels (the classification score matrix)."""
    from sklearn.svm import LinearSVC

    x_train, y_train = check_labelled(codes_train, labels_train)
    x_test, y_test = check_labelled(codes_test, labels_test, name="test codes")
    d, k = x_train.shape[1], y_train.shape[1]
    score = np.zeros((d, k))
    for i in range(d):
        for j in range(k):
            svm = LinearSVC(C=0.01, class_weight="balanced").fit(x_train[:, i : i + 1], y_train[:, j])
            score[i, j] = np.mean(svm.predict(x_test[:, i : i + 1]) == y_test[:, j])
    return {"sap": _gap_top_two(score), "score_matrix": score}


def _sap_continuous(codes, factors) -> dict:
    """SAP for continuous factors: ``S[i, k]`` = R² of a linear fit, ``cov(z_i, v_k)² / (var z_i var v_k)``."""
    x = check_codes(codes, factors)
    v = np.asarray(factors, dtype=np.float64)
    xc, vc = x - x.mean(axis=0), v - v.mean(axis=0)
    cov = xc.T @ vc / (x.shape[0] - 1)
    var_x, var_v = xc.var(axis=0, ddof=1), vc.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(var_x[:, None] > 1e-12, cov**2 / (var_x[:, None] * var_v[None]), 0.0)
    return {"sap": _gap_top_two(score), "score_matrix": score}


def _gap_top_two(score: np.ndarray) -> float:
    top = np.sort(score, axis=0)
    return float(np.mean(top[-1] - top[-2]))


def dci(
    representation, data, *, key, estimator: Estimator = "gbt", num_train: int = 10_000, num_test: int = 5_000,
    factors=None, batch_size: int = 256,
) -> dict:
    """Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018, "A framework for the
    quantitative evaluation of disentangled representations").

    One classifier per discrete factor gives a unit importance matrix ``R (d, k)``
    and a test accuracy (informativeness). With ``P_ik = R_ik / Σ_k R_ik``,
    disentanglement ``D = Σ_i ρ_i (1 − H_K(P_i·))`` with ``ρ_i = Σ_k R_ik / Σ R``;
    completeness is the same over factors with base-``d`` entropies.

    ``estimator="gbt"``: scikit-learn ``GradientBoostingClassifier()`` defaults, as
    in disentanglement_lib (parity, slow: minutes at 10,000 samples).
    ``estimator="forest"``: impurity importances of ``ExtraTreesClassifier(50
    trees, depth 8, all features)``, the fast estimator (see benchmarks for how far
    it agrees with ``gbt``). Defaults: 10,000 train / 5,000 test samples.
    """
    (c_train, y_train), (c_test, y_test), names = labelled_train_test(
        representation, data, "DCI", key=key, num_train=num_train, num_test=num_test, factors=factors,
        batch_size=batch_size,
    )
    return {**_dci(c_train, y_train, c_test, y_test, estimator=estimator, seed=seed(key)), "factors": list(names)}


def _dci(codes_train, labels_train, codes_test, labels_test, *, estimator: Estimator = "gbt", seed: int = 0) -> dict:
    """DCI from train/test codes and discrete labels."""
    importance, acc_train, acc_test = _importance(
        *check_labelled(codes_train, labels_train), *check_labelled(codes_test, labels_test, name="test codes"),
        estimator=estimator, seed=seed,
    )
    return {
        **_disentanglement_completeness(importance),
        "informativeness_train": float(np.mean(acc_train)),
        "informativeness": float(np.mean(acc_test)),
        "importance": importance,
        "estimator": estimator,
    }


def _importance(x_train, y_train, x_test, y_test, *, estimator: Estimator, seed: int):
    """Importance matrix ``(d, k)`` and per-factor train/test accuracies.

    The ``k`` per-factor classifiers are independent and each is single-threaded, so they are
    fitted in parallel processes (one per CPU at most); each is seeded, so the result does not
    depend on the number of processes.
    """
    from joblib import Parallel, delayed

    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown DCI estimator {estimator!r}; choose one of {list(ESTIMATORS)}")
    k = y_train.shape[1]
    jobs = min(k, os.cpu_count() or 1)
    fits = Parallel(n_jobs=jobs)(delayed(_fit_factor)(x_train, y_train[:, j], x_test, y_test[:, j], estimator, seed)
                                 for j in range(k))
    importance = np.stack([f[0] for f in fits], axis=1)
    return importance, [f[1] for f in fits], [f[2] for f in fits]


def _fit_factor(x_train, y_train, x_test, y_test, estimator: Estimator, seed: int):
    """One factor's classifier: (|feature importances|, train accuracy, test accuracy)."""
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier

    if estimator == "gbt":
        model = GradientBoostingClassifier(random_state=seed)
    else:
        model = ExtraTreesClassifier(n_estimators=50, max_depth=8, max_features=None, random_state=seed)
    model.fit(x_train, y_train)
    return (np.abs(model.feature_importances_), float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def _disentanglement_completeness(importance) -> dict:
    """D and C from an importance matrix ``(d, k)`` (units × factors)."""
    r = np.abs(np.asarray(importance, dtype=np.float64))
    total = r.sum()
    return {
        "disentanglement": _weighted_specificity(r, total),
        "completeness": _weighted_specificity(r.T, total),
    }


def _weighted_specificity(r: np.ndarray, total: float) -> float:
    """``Σ_i ρ_i (1 − H_base(row_i))`` with base = number of columns (1 − normalised entropy per row)."""
    if total <= 0:
        return 0.0
    p = (r + 1e-11) / (r + 1e-11).sum(axis=1, keepdims=True)
    h = -(p * np.log(p)).sum(axis=1) / np.log(r.shape[1]) if r.shape[1] > 1 else np.zeros(r.shape[0])
    return float(np.sum((1.0 - h) * r.sum(axis=1) / total))
