"""Readout reliability on the oracle: scores on the R² scale, error floors, detection, estimates inside their CIs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.causal.effects import EffectMatrix, bootstrap_mean
from genstyle_causal.causal.reliability import (
    detected, factor_effects, factor_estimates, reading_errors, reliability_scores,
)
from genstyle_causal.data import DSprites

DATA = DSprites(size=16)
GROUPS = (("shape", (0, 1, 2)), ("scale", (3,)), ("orientation", (4,)), ("posX", (5,)), ("posY", (6,)))


def _factors():
    # shape, scale, orientation, posX, posY for a square, an ellipse, a heart and another square
    return np.array([[0, 0.5, 0.1, 0.0, 1.0], [1, 1.0, 3.0, 0.5, 0.5], [2, 0.7, 5.0, 1.0, 0.0],
                     [0, 0.9, 1.2, 0.25, 0.75]], np.float64)


def _perfect(f):
    """The columns a perfect readout gives: class probabilities, then the canonical angle θ mod 2π/m."""
    period = 2 * np.pi / np.array([4, 2, 1])[f[:, 0].astype(int)]
    return np.concatenate([np.eye(3)[f[:, 0].astype(int)], f[:, 1:2], np.mod(f[:, 2:3], period[:, None]), f[:, 3:]], 1)


def test_a_perfect_readout_scores_one_and_has_no_floor():
    f = _factors()
    cols = _perfect(f)
    est = factor_estimates(DATA, cols, GROUPS)
    scores = reliability_scores(DATA, est, f, [g for g, _ in GROUPS])
    assert all(s["score"] == pytest.approx(1.0) for s in scores.values())
    assert scores["shape"]["accuracy"] == 1.0 and scores["orientation"]["measure"] == "circular R²"
    np.testing.assert_allclose(reading_errors(DATA, cols, f, GROUPS), 0.0, atol=1e-12)


def test_known_errors():
    f = _factors()
    cols = _perfect(f)
    cols[0, :3] = [0.25, 0.0, 0.75]  # the first square read as a heart (probabilities off by 0.75, 0, 0.75)
    cols[1, 4] += math.pi  # an ellipse read half a turn off: the same image, no error
    cols[3, 4] += 0.2  # a square read 0.2 rad off
    cols[2, 5] -= 0.1  # the heart's x read 0.1 off
    err = reading_errors(DATA, cols, f, GROUPS)
    np.testing.assert_allclose(err[0, :3], [0.75, 0.0, 0.75])
    np.testing.assert_allclose(err[:, 4], [0, 0, 0, 0.2], atol=1e-9)
    assert err[2, 5] == pytest.approx(0.1)
    scores = reliability_scores(DATA, factor_estimates(DATA, cols, GROUPS), f, [g for g, _ in GROUPS])
    assert scores["shape"]["accuracy"] == 0.75 and scores["shape"]["score"] == pytest.approx((0.75 - 1 / 3) / (2 / 3))
    # circular R² = 1 - 12 E[(err / P)²]: one of four squares off by 0.2 rad on a period of π/2
    assert scores["orientation"]["score"] == pytest.approx(1 - 12 * (0.2 / (np.pi / 2)) ** 2 / 4)
    assert scores["posX"]["score"] == pytest.approx(1 - 0.01 / 4 / np.var(f[:, 3]))


def test_detection_needs_the_ci_to_clear_the_floor():
    effect = np.array([[0.5, -0.5, 0.15, 0.0]])
    m = EffectMatrix(effect, effect - 0.1, effect + 0.1, np.full(4, 2.0), ("u",), ("a", "b", "c", "d"), 0.95)
    np.testing.assert_array_equal(detected(m), [[True, True, True, False]])
    np.testing.assert_array_equal(detected(m, [0.3, 0.3, 0.3, 0.3]), [[True, True, False, False]])
    view = factor_effects(m, (("ab", (0, 1)), ("c", (2,))), floor=0.3)
    assert view.resolved.tolist() == [[True, False]] and view.column == (("a", "c"),)
    np.testing.assert_allclose([view.effect[0, 0], view.low[0, 0], view.high[0, 0]], [0.25, 0.2, 0.3])  # in SDs


def test_every_estimate_lies_inside_its_ci():
    # Constant and near-constant paired differences used to round outside their own float32 bootstrap interval.
    rng = np.random.default_rng(0)
    cases = [np.full((256, 2), 0.1), np.full((256, 2), 3.0000002)]
    for _ in range(30):
        spikes = (rng.random((256, 2)) < 0.01) * rng.normal(size=(256, 2)) * 10.0 ** rng.uniform(-9, 0)
        cases.append(np.full((256, 2), rng.normal()) + spikes)
        cases.append(rng.normal(size=(256, 2)) * 10.0 ** rng.uniform(-8, 3) + 100 * rng.normal())
    samples = jnp.asarray(np.stack(cases), jnp.float32)
    for level in (0.95, 1 - 0.05 / 50):
        e = bootstrap_mean(samples, jax.random.key(1), 500, level)
        est, low, high = (np.asarray(a) for a in (e.estimate, e.low, e.high))
        assert np.all((low <= est) & (est <= high))
    e = bootstrap_mean(jnp.full((64, 1), 0.1, jnp.float32), jax.random.key(2), 100, 0.95)
    assert float(e.low[0]) == float(e.estimate[0]) == float(e.high[0])
