"""Each metric's private array function against a case worked out by hand from its formula,
plus every bad-input error path of the metrics package."""

import dataclasses
import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.data import DSprites
from genstyle_causal.data.base import Factor, GroundTruthData
from genstyle_causal.errors import ConfigError, FactorError, NonFiniteError, ShapeError
from genstyle_causal.metrics import (
    METRICS, PROTOCOLS, FactorCode, beta_vae_score, dci, evaluate, factor_vae_score, frechet_feature_distance, irs, mig,
    modularity_explicitness, oracle_code, pooled_features, reconstruction_error, sap, style_content_distances,
)
from genstyle_causal.metrics._common import check_labels, draw_factors, histogram_discretize, mutual_information
from genstyle_causal.metrics.image import _frechet_distance, _reconstruction_error
from genstyle_causal.metrics.information import _explicitness, _mig, _modularity
from genstyle_causal.metrics.interventional import _beta_vae, _factor_vae, _irs, _pair_features, _vote
from genstyle_causal.metrics.predictive import _dci, _disentanglement_completeness, _sap, _sap_continuous
from genstyle_causal.metrics.unsupervised import _gaussian_total_correlation

KEY = jax.random.key(0)
DATA = DSprites(size=16)


def h2(p):
    """Binary entropy in bits."""
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


# -- shared pieces ------------------------------------------------------------------
def test_histogram_bins_match_numpy_digitize():
    # disentanglement_lib's discretisation, column by column, is the reference.
    x = np.random.default_rng(0).normal(size=(200, 3))
    x[:, 2] = 1.5  # a constant unit: np.histogram widens its range by ±0.5
    expected = np.stack([np.digitize(c, np.histogram(c, 20)[1][:-1]) - 1 for c in x.T], axis=1)
    np.testing.assert_array_equal(histogram_discretize(x, 20), expected)


def test_histogram_values_on_the_edges_fall_in_numpys_bins():
    # np.histogram's 20 bins over [0.1, 0.7] have edges linspace(0.1, 0.7, 21): value i of that same
    # grid lies on edge i, so it is in bin i (the last value closes bin 19). lo + (hi - lo)·t edges
    # differ from linspace in the last bit and put several of these values one bin too low.
    for lo, hi in ((0.1, 0.7), (-1.0, 2.0), (1.0, 40.0)):
        x = np.linspace(lo, hi, 21)[:, None]
        np.testing.assert_array_equal(histogram_discretize(x, 20)[:, 0], list(range(20)) + [19])
    with pytest.raises(ConfigError, match="num_bins"):
        histogram_discretize(x, 0)


def test_mutual_information_hand_case():
    # v = [0,0,1,1]; z = [0,0,0,1]: I = H(z) - H(z|v) = H(1/4) - 1/2 bit = 0.3113 bit.
    mi = mutual_information(np.array([[0], [0], [0], [1]]), np.array([[0], [0], [1], [1]]))
    assert mi[0, 0] == pytest.approx((h2(0.25) - 0.5) * math.log(2))


# -- MIG, Modularity, Explicitness ---------------------------------------------------
def test_mig_hand_case():
    # Unit 0 copies v (I = 1 bit), unit 1 = [0,0,0,1] (I = H(1/4) - 1/2 bit), H(v) = 1 bit:
    # MIG = (1 - (H(1/4) - 1/2)) / 1 = 1.5 - H(1/4) = 0.6887.
    codes = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([[0], [0], [1], [1]])
    assert _mig(codes, labels, num_bins=2)["mig"] == pytest.approx(1.5 - h2(0.25))


def test_modularity_hand_case():
    # Row 1: θ² = 1, others 0 -> 1. Row 2: θ² = .36, rest .09 -> 1 - .09/.36 = .75. Row 3: no MI -> 0.
    assert _modularity(np.array([[1.0, 0.0], [0.6, 0.3], [0.0, 0.0]])) == pytest.approx((1 + 0.75 + 0) / 3)


def test_explicitness_hand_case():
    # A monotone logistic fit keeps the code's ranking, so AUC = P(z_pos > z_neg):
    # positives {1, 3}, negatives {0, 2}: 3 of 4 pairs ordered -> 0.75 for both classes.
    z = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([[0], [1], [0], [1]])
    out = _explicitness(z, y, z, y)
    assert out["explicitness"] == pytest.approx(0.75)


def test_explicitness_z_scores_codes_with_the_train_statistics():
    # disentanglement_lib standardises every unit with the train mean/std before the regressions, so
    # rescaling and shifting a unit changes nothing, even when the L2 penalty would otherwise silence
    # a unit measured in tiny units. A constant unit is only centred (no division by zero).
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=(400, 1))
    z = np.concatenate([y + rng.normal(0, 0.8, (400, 1)), (y == 2) + rng.normal(0, 0.3, (400, 1)), np.ones((400, 1))], axis=1)
    scaled = z * np.array([1e-5, 3.0, 1.0]) + np.array([7.0, -2.0, 5.0])
    base = _explicitness(z[:300], y[:300], z[300:], y[300:])
    moved = _explicitness(scaled[:300], y[:300], scaled[300:], y[300:])
    assert moved["explicitness"] == pytest.approx(base["explicitness"], abs=1e-9)
    assert moved["explicitness_train"] == pytest.approx(base["explicitness_train"], abs=1e-9)


# -- SAP, DCI ------------------------------------------------------------------------
def test_sap_continuous_hand_case():
    # v = [0,1,2,3]; z0 = v (R² = 1); z1 = [0,1,0,1]: cov = 1/3, var z1 = 1/3, var v = 5/3
    # (ddof 1) -> R² = (1/3)² / (1/3 · 5/3) = 0.2; SAP = 1 - 0.2.
    v = np.array([[0.0], [1.0], [2.0], [3.0]])
    z = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [3.0, 1.0]])
    out = _sap_continuous(z, v)
    np.testing.assert_allclose(out["score_matrix"][:, 0], [1.0, 0.2])
    assert out["sap"] == pytest.approx(0.8)


def test_sap_separable_unit_scores_one():
    # Unit 0 separates the two classes by a threshold; unit 1 is constant and can only
    # guess one class of the balanced pair: accuracy 1/2. SAP = 1 - 1/2.
    z = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 1.0], [1.1, 1.0]] * 5)
    y = np.array([[0], [0], [1], [1]] * 5)
    out = _sap(z, y, z, y)
    np.testing.assert_allclose(out["score_matrix"][:, 0], [1.0, 0.5])
    assert out["sap"] == pytest.approx(0.5)


def test_dci_from_importance_hand_case():
    # R = [[3, 1], [0, 0]]: unit 0 splits 3:1 -> D = 1 - H(3/4) bits (ρ0 = 1);
    # each factor draws only on unit 0 -> C = 1.
    out = _disentanglement_completeness(np.array([[3.0, 1.0], [0.0, 0.0]]))
    assert out["disentanglement"] == pytest.approx(1 - h2(0.75), abs=1e-6)
    assert out["completeness"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("estimator", ["gbt", "forest"])
def test_dci_estimators_on_a_copied_code(estimator):
    # Unit i = factor i plus an uninformative unit: all importance on the diagonal -> D = C = I = 1.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=(150, 2))
    z = np.concatenate([y.astype(np.float64), rng.normal(size=(150, 1))], axis=1)
    out = _dci(z[:100], y[:100], z[100:], y[100:], estimator=estimator)
    assert out["disentanglement"] > 0.95 and out["completeness"] > 0.95 and out["informativeness"] == 1.0


# -- BetaVAE, FactorVAE, IRS -----------------------------------------------------------
def test_beta_vae_pair_features_and_accuracy():
    # Groups of 2 pairs: mean |a - b| = [(1+3)/2, (0+2)/2] = [2, 1] for the first group.
    a = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    b = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(_pair_features(a, b, 2), [[2.0, 1.0], [0.0, 1.0]])
    # Features where the held factor's unit is ~0: linearly separable -> accuracy 1.
    x = np.tile([[0.0, 1.0], [1.0, 0.0]], (10, 1))
    y = np.tile([0, 1], 10)
    assert _beta_vae(x, y, x, y)["beta_vae"] == 1.0


def test_factor_vae_vote_and_majority_classifier():
    # Group 1: unit 0 is constant -> votes 0; group 2: unit 1 varies least relative to its
    # global variance (0.5/4 < 2/1) -> votes 1.
    codes = np.array([[1.0, 0.0], [1.0, 2.0], [0.0, 0.0], [2.0, 1.0]])
    active = np.array([True, True])
    np.testing.assert_array_equal(_vote(codes, 2, np.array([1.0, 4.0]), active), [0, 1])
    # Votes (units × factors) [[5, 1], [2, 2]]: unit 0 -> factor 0, unit 1 -> factor 0 (tie, first):
    # train accuracy (5 + 2) / 10; eval votes [[1, 3], [0, 4]] -> (1 + 0) / 8.
    out = _factor_vae(np.array([[5, 1], [2, 2]]), np.array([[1, 3], [0, 4]]))
    assert out["factor_vae_train"] == pytest.approx(0.7)
    assert out["factor_vae"] == pytest.approx(0.125)


def test_irs_hand_case():
    # g = [0,0,1,1], z = [0,2,10,12]: within-group |z - E[z|g]| = 1 everywhere, so the 0.99
    # quantile is 1 for both values; max deviation from the mean 6 is 6 -> IRS = 1 - 1/6.
    out = _irs(np.array([[0.0], [2.0], [10.0], [12.0]]), np.array([[0], [0], [1], [1]]))
    assert out["irs"] == pytest.approx(5 / 6)


def test_irs_groups_factor_values_into_histogram_bins():
    # disentanglement_lib bins the factor indices into 20 histogram bins before grouping. With 2 bins,
    # g = [0,1,2,3] becomes [0,0,1,1]: the hand case above, 5/6. On the exact grid every group is a
    # single sample whose deviation is 0: IRS 1.
    z, g = np.array([[0.0], [2.0], [10.0], [12.0]]), np.array([[0], [1], [2], [3]])
    assert _irs(z, g, num_bins=2)["irs"] == pytest.approx(5 / 6)
    assert _irs(z, g, num_bins=None)["irs"] == pytest.approx(1.0)
    # 40 orientations into the default 20 bins: pairs of neighbouring values share a group
    assert _irs(np.arange(40.0)[:, None], np.arange(40)[:, None])["irs"] == pytest.approx(1 - 0.5 / 19.5)  # deviations 0.5, largest 19.5


# -- unsupervised and image metrics ---------------------------------------------------
def test_gaussian_total_correlation_hand_case():
    # var x = var y = 6/5, cov = 2/5 (ddof 1) -> ρ = 1/3, TC = -½ log(1 - ρ²) = -½ log(8/9).
    x = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    out = _gaussian_total_correlation(np.stack([x, y], axis=1))
    assert out["gaussian_total_correlation"] == pytest.approx(-0.5 * math.log(8 / 9))


def test_frechet_distance_one_dimensional():
    # 1-D Gaussians: d = (μa - μb)² + (σa - σb)². a: μ 1, var 2; b: μ 4, var 8 -> 9 + (√2 - √8)² = 11.
    assert _frechet_distance(np.array([[0.0], [2.0]]), np.array([[2.0], [6.0]])) == pytest.approx(11.0)
    f = np.random.default_rng(0).normal(size=(50, 4))
    assert _frechet_distance(f, f) == pytest.approx(0.0, abs=1e-9)


def test_reconstruction_error_hand_case():
    # Per-pixel errors 0 and 1 -> MSE 1/2; p = 1/2 on 2 pixels -> 2 ln 2 nats per image.
    x = np.array([[[[1.0], [0.0]]]])
    assert _reconstruction_error(x, np.array([[[[1.0], [1.0]]]])) == pytest.approx(0.5)
    assert _reconstruction_error(x, np.full_like(x, 0.5), loss="bernoulli") == pytest.approx(2 * math.log(2))


def fake_extractor(images):
    """Two 'layers': mean brightness and its square, as (n, 1, 1, c) maps."""
    m = images.mean(axis=(1, 2, 3))[:, None, None, None]
    return {"a": m, "b": jnp.concatenate([m, m**2], axis=-1)}


def test_frechet_feature_distance_with_an_extractor():
    imgs = np.random.default_rng(0).random((12, 8, 8, 1), dtype=np.float32)
    assert pooled_features(imgs, extractor=fake_extractor, batch_size=5).shape == (12, 2)  # deepest layer: "b"
    out = frechet_feature_distance(imgs, imgs, extractor=fake_extractor, layer="a")
    assert out["frechet_feature_distance"] == pytest.approx(0.0, abs=1e-9)


def test_reconstruction_error_wrapper_identity_is_zero():
    out = reconstruction_error(lambda x: x, DATA, key=KEY, num_samples=12, batch_size=5)
    assert out["reconstruction_error"] == 0.0


def test_image_representation_is_encoded_in_batches():
    # Codes from rendered images (mean brightness grows with sprite scale), 12 samples in batches of 5.
    rep = lambda images: jnp.stack([images.mean(axis=(1, 2, 3)), images.std(axis=(1, 2, 3))], axis=1)  # noqa: E731
    out = evaluate(rep, DATA, ["gaussian_total_correlation"], key=KEY,
                   options={"gaussian_total_correlation": {"num_train": 12, "batch_size": 5}})
    assert out["representation"] == "function" and out["metrics"]["gaussian_total_correlation"]["num_active"] == 2


# -- bad input -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Continuous(GroundTruthData):
    """Two continuous factors only."""

    @property
    def factors(self):
        return (Factor("a", (0.0, 1.0), continuous=True), Factor("b", (0.0, 1.0), continuous=True))

    @property
    def image_shape(self):
        return (4, 4, 1)

    def render_one(self, f):
        return jnp.full((4, 4, 1), f[0])


def codes_and_factors(n=20):
    factors = draw_factors(DATA, KEY, n)
    return np.array(oracle_code(DATA)(factors)), factors


def test_codes_and_factors_of_different_lengths():
    codes, factors = codes_and_factors()
    with pytest.raises(ShapeError, match="same number of rows; got 20 codes and 19"):
        mig(codes, DATA, key=KEY, factors=factors[:19])


def test_nan_in_codes():
    codes, factors = codes_and_factors()
    codes[3, 1] = np.nan
    with pytest.raises(NonFiniteError, match="row 3, unit 1"):
        mig(codes, DATA, key=KEY, factors=factors)
    nan_rep = FactorCode(lambda f: f.at[0, 0].set(jnp.nan))
    with pytest.raises(NonFiniteError, match="row 0, unit 0"):
        dci(nan_rep, DATA, key=KEY, num_train=20, num_test=20, estimator="forest")  # sizes as above: no recompiling


@pytest.mark.parametrize("metric", [mig, sap, dci, irs, modularity_explicitness])
def test_discrete_metric_on_continuous_factors(metric):
    data = Continuous()
    with pytest.raises(FactorError, match="needs discrete factors.*continuous"):
        metric(FactorCode(lambda f: f), data, key=KEY, num_train=10)


@pytest.mark.parametrize("metric", [beta_vae_score, factor_vae_score])
def test_sampling_metrics_refuse_precomputed_codes(metric):
    codes, _ = codes_and_factors()
    with pytest.raises(ConfigError, match="needs a representation function"):
        metric(codes, DATA, key=KEY)


def test_protocol_presets_name_their_settings():
    # disentanglement_lib's protocol is the metric functions' defaults (their published setup), GBT for DCI
    for name, kwargs in PROTOCOLS["disentanglement_lib"].items():
        params = inspect.signature(METRICS[name]).parameters
        assert {k: params[k].default for k in kwargs} == kwargs, name
    assert PROTOCOLS["disentanglement_lib"]["dci"]["estimator"] == "gbt" and PROTOCOLS["fast"]["dci"]["estimator"] == "forest"
    factors = draw_factors(DATA, KEY, 100)
    codes = np.asarray(oracle_code(DATA)(factors))
    out = evaluate(codes, DATA, ["mig"], key=KEY, factors=factors, protocol="fast", options={"mig": {"num_bins": 10}})
    assert out["protocol"] == "fast" and out["settings"]["mig"] == {"num_train": 10_000, "num_bins": 10}
    with pytest.raises(ConfigError, match="unknown metric protocol 'dlib'"):
        evaluate(codes, DATA, ["mig"], key=KEY, factors=factors, protocol="dlib")


def test_other_bad_inputs():
    codes, factors = codes_and_factors()
    with pytest.raises(ConfigError, match="pass factors="):
        mig(codes, DATA, key=KEY)
    with pytest.raises(ConfigError, match="representation function"):
        mig("encoder", DATA, key=KEY)
    with pytest.raises(ShapeError, match="at least 2 rows"):
        sap(codes[:1], DATA, key=KEY, factors=factors[:1])
    with pytest.raises(ShapeError, match=r"shape \(n, d\)"):
        mig(codes[:, 0], DATA, key=KEY, factors=factors)
    with pytest.raises(ShapeError, match="numeric"):
        mig(codes.astype(str), DATA, key=KEY, factors=factors)
    with pytest.raises(ShapeError, match="factors must have shape"):
        _mig(codes, np.zeros(20, dtype=np.int32))
    with pytest.raises(ShapeError, match="at least 2 code units"):
        _mig(codes[:, :1], np.arange(20)[:, None] % 2)
    with pytest.raises(ShapeError, match="constant factors"):
        _mig(codes, np.zeros((20, 1), dtype=np.int32))
    with pytest.raises(ShapeError, match="non-negative integer"):
        check_labels(np.full((3, 1), -1))
    with pytest.raises(ShapeError, match=r"mix must have shape \(5, d\)"):
        oracle_code(DATA, np.eye(3))
    with pytest.raises(ConfigError, match="unknown DCI estimator"):
        dci(codes, DATA, key=KEY, factors=factors, estimator="lasso")
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(codes, DATA, ["mig", "fid"], key=KEY, factors=factors)
    with pytest.raises(ShapeError, match="vote matrices"):
        _factor_vae(np.ones((2, 2)), np.ones((3, 2)))


def test_bad_image_metric_inputs():
    x = np.zeros((2, 4, 4, 1))
    with pytest.raises(ConfigError, match="unknown reconstruction loss"):
        _reconstruction_error(x, x, loss="l1")
    with pytest.raises(ShapeError, match="reconstructions must have the images' shape"):
        _reconstruction_error(x, x[:1])
    with pytest.raises(NonFiniteError, match="reconstructions"):
        _reconstruction_error(x, np.full_like(x, np.nan))
    with pytest.raises(ShapeError, match="same width"):
        _frechet_distance(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ShapeError, match=r"images must have shape \(n, H, W, 1 or 3\)"):
        pooled_features(np.zeros((2, 4, 4)), extractor=fake_extractor)
    with pytest.raises(ConfigError, match="no layer 'conv9'"):
        pooled_features(np.zeros((2, 4, 4, 3)), extractor=fake_extractor, layer="conv9")


def test_style_and_content_distances_with_a_style_extractor():
    # A tiny extractor of the package's own kind (2 random conv blocks) keeps compiling cheap.
    # Identical images: both distances 0 by definition; a brightness change moves both.
    from genstyle_causal.models.style.features import CENTRED, Extractor, build_stack, random_params

    widths = ((4,), (8,))
    graphdef, state = build_stack(widths, random_params(widths, 0), "avg")
    tiny = Extractor(graphdef, state, preprocess=CENTRED, style_layers=("relu1_1", "relu2_1"), content_layer="relu2_1",
                     name="tiny")
    imgs = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    assert style_content_distances(imgs, imgs, extractor=tiny) == {"style_distance": 0.0, "content_distance": 0.0}
    other = style_content_distances(imgs, 0.5 * imgs, extractor=tiny)
    assert other["style_distance"] > 0 and other["content_distance"] > 0
    assert frechet_feature_distance(imgs, imgs, extractor=tiny)["frechet_feature_distance"] == pytest.approx(0.0, abs=1e-6)
