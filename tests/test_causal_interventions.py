"""Interventions and effect estimation on tiny hand-made generators whose answers follow from their formulas."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.causal import (
    Ablate, Do, Hybridize, Shift, SwapContent, SwapStyle, average_effect, do_batch, effect_matrix, grid_sweep,
    audit, influence_maps, intervene, modularity, sweep,
)
from genstyle_causal.causal.effects import EffectMatrix, hybridization_matrix
from genstyle_causal.errors import ConfigError, LayerError, ShapeError, UnitError
from genstyle_causal.generator import Generator, Stage

# -- a linear generator: z (n, 2) -> features (n, 2, 2, 3) -> image = 2 * features --------------------------------

W = jax.random.normal(jax.random.key(7), (2, 12))


def _features(params, z):
    return (z @ params["w"]).reshape(-1, 2, 2, 3)


def _image(params, h):
    del params
    return 2.0 * h


def _normal_prior(key, n):
    return jax.random.normal(key, (n, 2))


LINEAR = Generator([Stage("features", _features), Stage("image", _image)], {"w": W}, latent_names=("a", "b"), prior=_normal_prior, name="linear")


def _flat(images):
    return images.reshape(images.shape[0], -1)


def _first_pixel(images):
    return images[:, 0, 0, :1]


Z = jnp.asarray([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.0]], jnp.float32)


def _linear_images(z):
    return 2.0 * (z @ W).reshape(-1, 2, 2, 3)


def test_do_and_shift_set_and_move_one_unit():
    np.testing.assert_allclose(intervene(LINEAR, Z, Do("b", 3.0)), _linear_images(Z.at[:, 1].set(3.0)), rtol=1e-6)
    np.testing.assert_allclose(intervene(LINEAR, Z, Shift(0, 0.5)), _linear_images(Z.at[:, 0].add(0.5)), rtol=1e-6)
    np.testing.assert_allclose(intervene(LINEAR, Z, None), _linear_images(Z), rtol=1e-6)


def test_ablate_zero_and_mean():
    feats = (Z @ W).reshape(-1, 2, 2, 3)
    zero = intervene(LINEAR, Z, Ablate("features", (1,)))
    np.testing.assert_allclose(zero, 2.0 * feats.at[..., 1].set(0.0), rtol=1e-6)
    mean = intervene(LINEAR, Z, Ablate("features", (0, 2), mode="mean"))
    expected = feats.at[..., jnp.asarray([0, 2])].set(jnp.broadcast_to(feats[..., jnp.asarray([0, 2])].mean(0), (3, 2, 2, 2)))
    np.testing.assert_allclose(mean, 2.0 * expected, rtol=1e-6)


def test_hybridize_copies_donor_channels_only():
    donor = Z[::-1]
    out = intervene(LINEAR, Z, Hybridize("features", (2,), donor))
    f, fd = (Z @ W).reshape(-1, 2, 2, 3), (donor @ W).reshape(-1, 2, 2, 3)
    np.testing.assert_allclose(out, 2.0 * f.at[..., 2].set(fd[..., 2]), rtol=1e-6)


def test_feature_swaps_move_channel_statistics():
    # AdaIN (Huang & Belongie 2017): SwapStyle gives each channel the donor's spatial mean/std, SwapContent keeps the
    # sample's own statistics around the donor's normalised pattern.
    donor = jnp.asarray([[2.0, 1.0], [-1.0, 0.5], [0.3, -2.0]], jnp.float32)
    f, fd = (Z @ W).reshape(-1, 2, 2, 3), (donor @ W).reshape(-1, 2, 2, 3)
    styled = intervene(LINEAR, Z, SwapStyle("features", donor)) / 2.0
    np.testing.assert_allclose(styled.mean(axis=(1, 2)), fd.mean(axis=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(styled.std(axis=(1, 2)), fd.std(axis=(1, 2)), rtol=1e-3)
    content = intervene(LINEAR, Z, SwapContent("features", donor)) / 2.0
    np.testing.assert_allclose(content.mean(axis=(1, 2)), f.mean(axis=(1, 2)), atol=1e-4)
    normalise = lambda x: (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)  # noqa: E731
    np.testing.assert_allclose(normalise(content), normalise(fd), atol=1e-3)


def test_sweep_matches_one_intervention_at_a_time():
    batch = do_batch([0, 1, 0], [1.0, -2.0, 0.5])
    out = sweep(LINEAR, Z, batch, _flat, max_images=6)  # two interventions per chunk, one left over
    for k, (u, v) in enumerate([(0, 1.0), (1, -2.0), (0, 0.5)]):
        np.testing.assert_allclose(out[k], _flat(intervene(LINEAR, Z, Do(u, v))), rtol=1e-6)
    grid = grid_sweep(LINEAR, Z, _flat, units=("b", "a"), values=[[1.0, -2.0], [0.5, 3.0]])  # per-unit values
    assert grid.shape == (2, 2, 3, 12)
    np.testing.assert_allclose(grid[0, 1], _flat(intervene(LINEAR, Z, Do(1, -2.0))), rtol=1e-6)
    np.testing.assert_allclose(grid[1, 0], _flat(intervene(LINEAR, Z, Do(0, 0.5))), rtol=1e-6)


def test_effect_matrix_of_linear_generator_is_its_weights():
    # Image pixel j = 2 (z @ W)_j, so do(z_u = 1) - do(z_u = -1) moves pixel j by exactly 4 W[u, j], for every sample.
    m = effect_matrix(LINEAR, _flat, key=jax.random.key(0), n=32, low=[-1.0, -1.0], high=[1.0, 1.0], num_bootstrap=200)
    np.testing.assert_allclose(m.effect, 4.0 * np.asarray(W), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.low, m.high, rtol=1e-5, atol=1e-5)
    assert m.unit_names == ("a", "b") and m.outcome_names[:2] == ("y0", "y1")


def test_influence_map_of_a_channel_ablation():
    # Ablating channel 0 changes pixel (i, j) by 2 |f_ij0|, averaged over samples and the 3 colour channels.
    maps = influence_maps(LINEAR, Z, Ablate("features", jnp.asarray([[0], [1]])))
    f = (Z @ W).reshape(-1, 2, 2, 3)
    np.testing.assert_allclose(maps[0], (2.0 * jnp.abs(f[..., 0])).mean(0) / 3.0, rtol=1e-5)
    np.testing.assert_allclose(maps[1], (2.0 * jnp.abs(f[..., 1])).mean(0) / 3.0, rtol=1e-5)


def test_hybridization_matrix_one_row_per_group():
    m = hybridization_matrix(LINEAR, _first_pixel, "features", [(0,), (1, 2)], key=jax.random.key(0), n=16, num_bootstrap=100)
    # pixel (0, 0, channel 0) depends on feature channel 0 only
    assert m.effect[0, 0] > 0 and m.excludes_zero()[0, 0]
    assert m.effect[1, 0] == 0 and not m.excludes_zero()[1, 0]
    # the same scores through audit(), with the unit effects: pixel (0, 0, 0) = 2 (z W)_0 moves with both units
    result = audit(LINEAR, _first_pixel, key=jax.random.key(0), n=16, layer="features", channel_groups=[(0,), (1, 2)], num_bootstrap=100)
    assert result.hybridization.unit_names == ("features[0]", "features[1,2]")
    assert result.scores["hybridization_modularity"] == 0.5  # rows: 1 (one outcome moved) and 0 (no effect at all)
    assert set(result.graph.edges) == {("a", "y0"), ("b", "y0")}
    json.dumps(result.to_dict())


# -- bootstrap and effect estimates ----------------------------------------------------------------------------


def _product(params, z):
    del params
    return (z[:, 0] * z[:, 1]).reshape(-1, 1, 1, 1)


def _shifted_prior(key, n):
    return jax.random.normal(key, (n, 2)) + jnp.asarray([0.0, 1.0], jnp.float32)


PRODUCT = Generator([Stage("image", _product)], latent_names=("t", "m"), prior=_shifted_prior, name="product")


def test_bootstrap_intervals_cover_a_known_effect_at_their_nominal_rate():
    # image = z_t * z_m with z_m ~ N(1, 1): do(z_t = 1) - do(z_t = 0) = z_m, a heterogeneous effect whose average is
    # exactly 1. A 95 % interval must cover 1 in about 95 of 100 independent seeds (binomial sd ≈ 2.2): ask for ≥ 90.
    keys = jax.random.split(jax.random.key(42), 100)
    effects = jax.vmap(lambda k: average_effect(PRODUCT, _flat, Do(0, 1.0), baseline=Do(0, 0.0), key=k, n=200, num_bootstrap=500))(keys)
    covered = int(effects.covers(1.0).sum())
    assert 90 <= covered <= 100, covered
    assert abs(float(effects.estimate.mean()) - 1.0) < 0.03  # mean of 100 × 200 draws of N(1, 1): sd 0.007


def test_modularity_hand_cases():
    # Ridgeway & Agakov 2018: a row with one effect scores 1; a row with two equal effects over m = 2 outcomes
    # scores 1 - 1/1 = 0; with m = 3 outcomes and effects (2, 1, 0): 1 - 1 / (4 * 2) = 0.875.
    def matrix(effect):
        e = np.asarray(effect, np.float64)
        return EffectMatrix(e, e, e, np.ones(e.shape[1]), ("u",) * len(e), ("y",) * e.shape[1], 0.95)

    np.testing.assert_allclose(modularity(matrix([[0.0, 3.0], [1.0, -1.0], [0.0, 0.0]])), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(modularity(matrix([[2.0, 1.0, 0.0]])), [0.875])


# -- bad input -----------------------------------------------------------------------------------------------------


def test_unit_out_of_range_names_the_latent_size():
    with pytest.raises(UnitError, match="latent size 2"):
        intervene(LINEAR, Z, Do(5, 1.0))
    with pytest.raises(UnitError, match="latent size 2"):
        sweep(LINEAR, Z, do_batch([0, 7], [1.0, 1.0]), _flat)
    with pytest.raises(UnitError, match="unknown latent unit 'c'"):
        intervene(LINEAR, Z, Shift("c", 1.0))


def test_unknown_layer_lists_the_valid_ones():
    with pytest.raises(LayerError, match=r"'conv9'.*\['latent', 'features', 'image'\]"):
        intervene(LINEAR, Z, Ablate("conv9", (0,)))


def test_channel_out_of_range_names_the_channel_count():
    with pytest.raises(UnitError, match="layer 'features' .* has 3 channels"):
        intervene(LINEAR, Z, Hybridize("features", (3,), Z))


def test_outcome_with_wrong_output_shape():
    with pytest.raises(ShapeError, match=r"outcome .*_bad.* got float32 \(3,\)"):
        def _bad(images):
            return images.sum(axis=(1, 2, 3))

        average_effect(LINEAR, _bad, Do(0, 1.0), key=jax.random.key(0), z=Z)


def test_other_bad_interventions():
    with pytest.raises(ShapeError, match="donor latents"):
        intervene(LINEAR, Z, SwapStyle("features", Z[:2]))
    with pytest.raises(LayerError, match="'style' unit group"):
        intervene(LINEAR, Z, SwapStyle("latent", Z))
    with pytest.raises(ConfigError, match="mode"):
        intervene(LINEAR, Z, Ablate("features", (0,), mode="half"))
    with pytest.raises(ShapeError, match="latent batch"):
        intervene(LINEAR, Z[:, :1], Do(0, 1.0))
    with pytest.raises(ShapeError, match="one value per unit"):
        effect_matrix(LINEAR, _flat, key=jax.random.key(0), n=4, low=[0.0], high=[1.0, 2.0])
    with pytest.raises(ConfigError, match="statistic"):
        effect_matrix(LINEAR, _flat, key=jax.random.key(0), n=4, statistic="median")
