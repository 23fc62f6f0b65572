"""Known answers on dSprites codes: the oracle (code = true factors, scaled to [0, 1]),
a rotated oracle (an orthogonal mix of the same) and random codes.

The codes are computed from the factor values (:class:`FactorCode`), so no image is
rendered: these tests check the metrics, not a model. Sizes are small (≈ 2,000
samples instead of 10,000), which the tolerances below account for.
"""

import json
import math

import jax
import numpy as np
import pytest

from genstyle_causal.data import DSprites
from genstyle_causal.metrics import FactorCode, evaluate, oracle_code
from genstyle_causal.metrics._common import draw_factors

DATA = DSprites(size=16)
ORACLE = oracle_code(DATA)  # one object, so its compiled code is reused across tests
SIZES = {
    "mig": {"num_train": 2000},
    "dci": {"num_train": 600, "num_test": 400, "estimator": "forest"},
    "modularity_explicitness": {"num_train": 1000, "num_test": 500},
    "sap": {"num_train": 500, "num_test": 500},
    "beta_vae": {"num_train": 200, "num_eval": 100},
    "factor_vae": {"num_train": 200, "num_eval": 100, "num_variance_estimate": 2000},
    "irs": {"num_train": 2000},
    "gaussian_total_correlation": {"num_train": 2000},
}


def _run(representation, metrics):
    return evaluate(representation, DATA, metrics, key=jax.random.key(0), options=SIZES)["metrics"]


@pytest.fixture(scope="module")
def oracle():
    return _run(ORACLE, [m for m in SIZES if m != "sap"])  # SAP has no ≈ 1 claim (1-unit linear SVMs)


@pytest.fixture(scope="module")
def rotated():
    # A fixed random orthogonal 5×5 mix: every unit carries every factor.
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))
    return _run(oracle_code(DATA, q), ["mig", "dci", "modularity_explicitness"])


@pytest.fixture(scope="module")
def random_codes():
    return _run(FactorCode(lambda f: jax.random.normal(jax.random.key(1), (f.shape[0], 5))), list(SIZES))


def expected_oracle_mig(n):
    """MIG of the oracle under 20-bin histogram discretisation with ``n`` samples, from the grids alone.

    A factor with m equally likely grid values (scaled to [0, 1]) binned into 20
    equal-width bins keeps I(z; v) = H(bin) with its own unit: a gap of H(bin) / log m,
    1 for shape (3) and scale (6), below 1 for orientation (40 values share 20 bins)
    and posX/posY (32 values). Its MI with an independent 20-bin unit is 0, but the
    plug-in estimate is biased up by (20 - 1)(m - 1) / 2n nats (Miller 1955), which
    the gap loses.
    """
    gaps = []
    for f in DATA.factors:
        m = len(f.values)
        edges = [b / 20 for b in range(20)]
        bins = [sum(e <= i / (m - 1) for e in edges) - 1 for i in range(m)]
        p = np.bincount(bins) / m
        p = p[p > 0]
        gaps.append((-(p * np.log(p)).sum() - 19 * (m - 1) / (2 * n)) / math.log(m))
    return float(np.mean(gaps))


def expected_oracle_irs():
    """IRS of the oracle with factor indices in 20 histogram bins (disentanglement_lib), from the grids alone.

    Unit k copies factor k scaled to [0, 1]; its own factor's bins hold one or two neighbouring grid
    values, so the 0.99 quantile of |z − E[z | bin]| is half the gap in a two-value bin and 0 in a
    one-value bin; the largest deviation from the mean is 1/2. Orientation (40 values: all bins
    pairs) and the positions (32: 12 pairs) fall below 1; shape and scale stay at 1.
    """
    scores = []
    for f in DATA.factors:
        m = len(f.values)
        idx = np.arange(m)
        bins = np.digitize(idx, np.histogram(idx, 20)[1][:-1])
        v = idx / (m - 1)
        dev = np.mean([np.abs(v[bins == b] - v[bins == b].mean()).max() for b in np.unique(bins)])
        scores.append(1.0 - dev / 0.5)
    return float(np.mean(scores))


def test_oracle_scores_near_one(oracle):
    # MIG: 0.90 without the bias term (not 1: orientation/positions share bins), 0.87 with
    # it at 2,000 samples; 0.015 covers the spread of the largest of 4 biased noise MIs.
    assert expected_oracle_mig(math.inf) == pytest.approx(0.902, abs=0.001)
    assert oracle["mig"]["mig"] == pytest.approx(expected_oracle_mig(SIZES["mig"]["num_train"]), abs=0.015)
    # Units copy factors exactly: trees use one unit per factor, a held factor zeroes its
    # unit's variance, and the pair difference of its unit is exactly 0.
    assert oracle["dci"]["disentanglement"] > 0.99 and oracle["dci"]["completeness"] > 0.99
    assert oracle["factor_vae"]["factor_vae"] == 1.0
    assert oracle["beta_vae"]["beta_vae"] > 0.99
    # Modularity: off-diagonal plug-in MI is bias only (≤ 0.05 nats), squared against ≥ 1 nat².
    assert oracle["modularity_explicitness"]["modularity"] > 0.98
    # IRS: 0.987 from the grids; sampled bin means sit off the midpoints, which lowers it a little.
    assert expected_oracle_irs() == pytest.approx(0.987, abs=0.001)
    assert oracle["irs"]["irs"] == pytest.approx(expected_oracle_irs(), abs=0.005)
    assert oracle["gaussian_total_correlation"]["gaussian_total_correlation"] < 0.01  # independent factors


def test_rotated_oracle_is_informative_but_not_disentangled(oracle, rotated):
    assert rotated["mig"]["mig"] < 0.35 < oracle["mig"]["mig"]
    assert rotated["dci"]["disentanglement"] < 0.45
    # A linear read-out sees through a rotation: explicitness is unchanged.
    assert rotated["modularity_explicitness"]["explicitness"] == pytest.approx(
        oracle["modularity_explicitness"]["explicitness"], abs=0.02
    )
    assert rotated["modularity_explicitness"]["explicitness"] > 0.85  # random codes: 0.5
    # Axis-aligned trees read an oblique code less well, yet far above chance (≈ 0.12, below).
    assert rotated["dci"]["informativeness"] > 0.4


def test_random_codes_score_chance(random_codes):
    r = random_codes
    chance_accuracy = np.mean([1 / len(f.values) for f in DATA.factors])  # ≈ 0.117
    assert r["mig"]["mig"] < 0.02
    assert r["dci"]["disentanglement"] < 0.05
    assert r["dci"]["informativeness"] == pytest.approx(chance_accuracy, abs=0.05)
    assert r["sap"]["sap"] < 0.05
    assert r["modularity_explicitness"]["explicitness"] == pytest.approx(0.5, abs=0.05)  # AUC of a coin
    assert r["beta_vae"]["beta_vae"] == pytest.approx(1 / 5, abs=0.12)  # 5 factors, 100 eval points
    assert r["factor_vae"]["factor_vae"] == pytest.approx(1 / 5, abs=0.12)
    assert r["gaussian_total_correlation"]["gaussian_total_correlation"] < 0.01


def test_evaluate_is_json_ready_and_deterministic(oracle):
    json.dumps(oracle)
    again = evaluate(ORACLE, DATA, ["mig"], key=jax.random.key(0), options={"mig": SIZES["mig"]})
    assert again["metrics"]["mig"] == oracle["mig"]  # each metric's key depends only on its name


def test_evaluate_precomputed_codes_skips_sampling_metrics():
    factors = draw_factors(DATA, jax.random.key(2), 150)
    codes = np.asarray(ORACLE(factors))
    out = evaluate(codes, DATA, key=jax.random.key(0), factors=factors, options={"dci": {"estimator": "forest"}})
    assert out["representation"] == "codes" and out["metrics"]["irs"]["irs"] > 0.97  # 0.987 at large n
    assert sorted(out["metrics"]) == sorted(set(SIZES) - {"beta_vae", "factor_vae"})
