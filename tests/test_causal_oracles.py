"""Known answers on the dataset oracles: the audit of a generator whose truth is known must come out exact."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.causal import SwapContent, SwapStyle, as_outcome, audit, average_effect, effect_matrix, mixed_oracle
from genstyle_causal.causal.effects import check_outcome
from genstyle_causal.data import DSprites, Pendulum, StyleShapes
from genstyle_causal.generator import Generator

DSPRITES = DSprites(size=32)


def _ellipse_prior(key, n):
    return DSPRITES.sample_factors_fixed(key, n, "shape", 1.0)


@pytest.fixture(scope="module")
def dsprites():
    return DSPRITES


def _ellipse_oracle():
    """The dsprites oracle with the shape held at the ellipse, whose centroid is its centre at every orientation."""
    g = DSPRITES.oracle()
    return Generator(g.stages, latent_names=g.latent_names, prior=_ellipse_prior, name="dsprites-ellipse-oracle")


def _diagonal(m):
    off = ~np.eye(*m.shape, dtype=bool)
    return bool(m.excludes_zero()[~off].all()), bool(m.excludes_zero()[off].any())


def test_dsprites_oracle_effect_matrix_is_diagonal_with_exact_readouts(dsprites):
    # Exact readouts, not a probe: sqrt(area) reads scale, the centroid reads position — exactly (up to zero-mean
    # anti-aliasing) for the ellipse, whose centroid is its centre and whose area is the same at every orientation.
    # (A heart's centroid is off-centre and the orientation grid holds both 0 and 2π, so with hearts the scale→y
    # effect on a centroid readout is small but truly non-zero.) Orientation varies randomly but is not intervened
    # on: no analytic readout measures it. All CIs hold jointly (Bonferroni) at 95 %.
    m = effect_matrix(
        _ellipse_oracle(), dsprites.readout(), key=jax.random.key(0), n=128, units=("scale", "posX", "posY"),
        low=[0.6, 0.2, 0.2], high=[1.0, 0.8, 0.8], familywise=True,
    )
    assert m.outcome_names == ("size", "x", "y")
    diagonal_found, off_diagonal_found = _diagonal(m)
    assert diagonal_found and not off_diagonal_found, m.effect
    # sprite centre = 0.25 + 0.5 posX (dsprites.sprite_centre): posX 0.2 → 0.8 moves the centroid by 0.3 of the
    # image width, up to anti-aliasing of one 32-px pixel (1/32)
    np.testing.assert_allclose(m.effect[1, 1], 0.3, atol=1 / 32)
    np.testing.assert_allclose(m.effect[2, 2], 0.3, atol=1 / 32)


def test_mixed_oracle_effect_matrix_is_dense_in_exactly_the_mixed_block(dsprites):
    # posX, posY mixed by a 45° rotation: each mixed unit moves x and y by ±(Δ / √2) — a dense 2 × 2 block — while
    # scale still moves size only.
    rotation = np.asarray([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2.0)
    g = mixed_oracle(dsprites, ("posX", "posY"), rotation=rotation)
    m = effect_matrix(g, dsprites.readout(), key=jax.random.key(1), n=128, units=("scale", "mix0", "mix1"), familywise=True)
    block = np.zeros((3, 3), bool)
    block[1:, 1:] = True
    block[0, 0] = True
    np.testing.assert_array_equal(m.excludes_zero(), block)
    assert np.sign(m.effect[1, 1]) != np.sign(m.effect[1, 2])  # first row of Qᵀ is (1, -1)/√2


def test_pendulum_audit_recovers_the_true_dag_with_defaults():
    # A hard do on each variable with the others held (direct effects): θ and φ move both shadow variables, nothing
    # else moves anything; depth 1, so the total graph is the same DAG.
    data = Pendulum(size=32, noise_std=0.3)
    result = audit(data.oracle(), key=jax.random.key(0))
    assert result.kind == "direct" and set(result.graph.edges) == set(data.graph().edges)
    assert result.scores["shd"] == 0 and result.scores["edge_precision"] == 1.0 and result.scores["edge_recall"] == 1.0
    json.dumps(result.to_dict())


def test_styleshapes_swaps_move_only_their_own_outcomes():
    # The silhouette depends on content factors only, the hue direction and background on style factors only, so a
    # swap of style units leaves area/x/y bit-identical (effect exactly 0) and a content swap leaves the style
    # readouts unchanged up to float32 rounding of means over different pixel sets.
    data = StyleShapes(size=32)
    g, r = data.oracle(), data.readout()
    z, donor = g.sample_latent(jax.random.key(3), 128), g.sample_latent(jax.random.key(4), 128)
    content, style = np.asarray([0, 1, 2]), np.asarray([3, 4, 5])
    e_style = average_effect(g, r, SwapStyle("latent", donor), key=jax.random.key(5), z=z, magnitude=True)
    e_content = average_effect(g, r, SwapContent("latent", donor), key=jax.random.key(5), z=z, magnitude=True)
    assert np.all(np.asarray(e_style.estimate)[content] == 0)
    assert np.all(np.asarray(e_style.low)[style] > 0.05)
    assert np.all(np.asarray(e_content.estimate)[style] < 1e-5)
    assert np.all(np.asarray(e_content.low)[content] > 0.01)


class _ProbeLike:
    """Stands in for ``models.probe.Probe`` (its contract: ``outcome`` and ``factor_names``); building a real one
    costs tens of seconds of initialisation on this machine."""

    factor_names = ("shape", "scale", "orientation", "posX", "posY")

    @staticmethod
    def outcome(images):
        return jnp.repeat(images.mean(axis=(1, 2)), 5, axis=1)


def test_probes_and_datasets_become_named_outcomes(dsprites):
    # A probe (outcome + factor_names) and a dataset (its analytic readout) both become named outcomes for audit(),
    # checked abstractly (no compilation). A real probe trained for 400 steps at 32 px (70 s here) still showed
    # posX → shape/orientation effects whose CIs exclude 0, so the diagonal known answer above uses exact readouts.
    outcome = as_outcome(_ProbeLike())
    assert outcome.names == _ProbeLike.factor_names
    assert check_outcome(dsprites.oracle(), outcome, 4) == 5
    assert as_outcome(dsprites).names == ("size", "x", "y")
