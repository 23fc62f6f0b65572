"""Known-answer tests for the procedural datasets and their oracles."""

import math

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from genstyle_causal.data import DSprites, Pendulum, StyleShapes, foreground_mask, get_dataset
from genstyle_causal.data.pendulum import shadow
from genstyle_causal.errors import ConfigError, FactorError, ShapeError

KEY = jax.random.key(0)
DS, SS, PD = DSprites(size=32), StyleShapes(size=32), Pendulum(size=64)


def centroid(img):
    """Centre of mass (x, y) in pixels of a single-channel image."""
    h, w = img.shape
    ys, xs = np.mgrid[0:h, 0:w]
    return (xs * img).sum() / img.sum(), (ys * img).sum() / img.sum()


def test_grid_sizes_match_public_dsprites():
    d = DSprites()
    assert d.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert d.factor_sizes == (3, 6, 40, 32, 32)
    assert d.num_combinations == 737_280
    assert d.image_shape == (64, 64, 1)
    np.testing.assert_allclose(d.factors[2].values[-1], 2 * math.pi)  # both ends, as in the public set


def test_styleshapes_and_pendulum_factor_roles():
    assert [SS.factor_names[i] for i in SS.content_factors] == ["shape", "scale", "posX", "posY"]
    assert [SS.factor_names[i] for i in SS.style_factors] == ["hue", "stroke", "texture", "background"]
    assert SS.factor_sizes == (3, 4, 16, 16, 8, 4, 4, 4)
    assert PD.factor_sizes == (84, 88, None, None)
    assert PD.num_combinations is None
    assert PD.factors_with_role("cause") == (0, 1) and PD.factors_with_role("effect") == (2, 3)


@pytest.mark.parametrize("data", [DS, SS, PD], ids=lambda d: d.name)
def test_sampling_is_deterministic_per_key_and_in_range(data):
    f1, x1 = data.sample(KEY, 16)
    f2, x2 = data.sample(KEY, 16)
    f3, _ = data.sample(jax.random.key(1), 16)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(f1, f3)
    assert x1.shape == (16,) + data.image_shape and x1.dtype == jnp.float32
    assert float(x1.min()) >= 0.0 and float(x1.max()) <= 1.0
    data.check_factors(f1)  # sampled values are always valid


@pytest.mark.parametrize("data", [DS, SS], ids=lambda d: d.name)
def test_fixed_factor_sampling_holds_only_that_factor(data):
    for i in range(data.num_factors):
        f = np.asarray(data.sample_factors_fixed(KEY, 64, i))
        assert np.all(f[:, i] == f[0, i])
        others = np.delete(f, i, axis=1)
        assert all(len(np.unique(others[:, j])) > 1 for j in range(others.shape[1]))
    f = data.sample_factors_fixed(KEY, 8, data.factor_names[1], value=data.factors[1].values[2])
    np.testing.assert_allclose(f[:, 1], data.factors[1].values[2])


def test_factor_classes_roundtrip():
    f = DS.sample_factors(KEY, 100)
    idx = DS.factor_classes(f)
    for i, fac in enumerate(DS.factors):
        np.testing.assert_allclose(np.asarray(fac.values, np.float32)[idx[:, i]], f[:, i], atol=1e-6)
    with pytest.raises(FactorError, match="shadow_position.*continuous"):
        PD.factor_classes(PD.sample_factors(KEY, 4))


def _dsprite(**kw):
    base = dict(shape=0.0, scale=1.0, orientation=0.0, posX=0.5, posY=0.5) | kw
    return np.asarray(DSprites().render(jnp.asarray([[base[n] for n in DSprites().factor_names]], jnp.float32)))[0, ..., 0]


def test_dsprites_factors_move_the_image_as_expected():
    # posX moves the centre of mass right by (0.5 * 64) px per unit, posY down
    x0, _ = centroid(_dsprite(posX=0.0))
    x1, _ = centroid(_dsprite(posX=1.0))
    assert x1 - x0 == pytest.approx(32.0, abs=0.6)
    _, y0 = centroid(_dsprite(posY=0.0))
    _, y1 = centroid(_dsprite(posY=1.0))
    assert y1 - y0 == pytest.approx(32.0, abs=0.6)
    # the square at scale s has side 2 * 0.16 * s * 64 px, so area grows with s^2
    assert _dsprite(scale=1.0).sum() == pytest.approx((2 * 0.16 * 64) ** 2, rel=0.05)
    assert _dsprite(scale=0.5).sum() == pytest.approx((0.16 * 64) ** 2, rel=0.1)
    # rotating the ellipse by 90 degrees swaps its horizontal and vertical extents
    e0, e90 = _dsprite(shape=1.0), _dsprite(shape=1.0, orientation=math.pi / 2)
    width = lambda m: np.ptp(np.nonzero(m.any(axis=0))[0])  # noqa: E731
    height = lambda m: np.ptp(np.nonzero(m.any(axis=1))[0])  # noqa: E731
    assert width(e0) > 1.5 * height(e0) and height(e90) > 1.5 * width(e90)
    # the three shapes differ; a square rotated by 90 degrees is itself
    s, e, h = _dsprite(shape=0.0), _dsprite(shape=1.0), _dsprite(shape=2.0)
    assert not np.array_equal(s, e) and not np.array_equal(e, h) and not np.array_equal(s, h)
    np.testing.assert_array_equal(s, _dsprite(orientation=math.pi / 2))


def test_pendulum_shadow_matches_hand_computed_geometry():
    # vertical rod, light overhead: both projections at x = 10, length clipped to 3
    pos, length = shadow(jnp.float32(0.0), jnp.float32(math.pi / 2))
    assert float(pos) == pytest.approx(10.0, abs=1e-4) and float(length) == pytest.approx(3.0)
    # vertical rod, light at 45 degrees: pivot (10, 10.5) -> 10 - 11 = -1; tip (10, 1) -> 10 - 1.5 = 8.5
    pos, length = shadow(jnp.float32(0.0), jnp.float32(math.pi / 4))
    assert float(pos) == pytest.approx(3.75, abs=1e-4) and float(length) == pytest.approx(9.5, abs=1e-4)
    # rod at 90 degrees (tip (19.5, 10.5)), light at 45 degrees: projections -1 and 8.5 -> 3.75, 9.5
    pos, length = shadow(jnp.float32(math.pi / 2), jnp.float32(math.pi / 4))
    assert float(pos) == pytest.approx(3.75, abs=1e-4) and float(length) == pytest.approx(9.5, abs=1e-4)


def test_pendulum_graph_is_the_documented_dag():
    g = PD.graph()
    assert nx.is_directed_acyclic_graph(g)
    assert set(g.edges) == {
        ("pendulum_angle", "shadow_position"), ("pendulum_angle", "shadow_length"),
        ("light_angle", "shadow_position"), ("light_angle", "shadow_length"),
    }


def test_pendulum_measure_reads_the_variables_back():
    f, x = PD.sample(KEY, 64)
    np.testing.assert_allclose(PD.measure(x), f, atol=2e-2)


def test_pendulum_do_on_a_cause_moves_its_effects():
    f = PD.sample_factors(KEY, 8)
    g = PD.with_factor(f, "light_angle", 1.2)
    expected = jnp.stack(shadow(f[:, 0], jnp.full((8,), 1.2, jnp.float32)), axis=1)
    np.testing.assert_allclose(g[:, 2:], expected, rtol=1e-5)
    np.testing.assert_array_equal(g[:, 0], f[:, 0])
    h = PD.with_factor(f, "shadow_length", 5.0)  # do on an effect leaves the causes alone
    np.testing.assert_array_equal(h[:, :3], f[:, :3])


def test_noisy_pendulum_samples_are_valid_factors():
    noisy = Pendulum(size=32, noise_std=0.3)
    f = noisy.sample_factors(KEY, 512)
    noisy.check_factors(f)  # effects plus noise stay inside the widened ranges
    assert float(jnp.std(noisy.scm.abduct(f)[:, 3])) == pytest.approx(0.3, rel=0.15)
    np.testing.assert_allclose(f[:, 3] - noisy.scm.abduct(f)[:, 3], shadow(f[:, 0], f[:, 1])[1], rtol=1e-5)


def test_pendulum_oracle_is_the_scm():
    g = PD.oracle()
    assert g.layer_names == ("latent", "variables", "image") and g.dataset == PD and g.scm == PD.scm
    u = g.sample_latent(KEY, 8)
    v = g.run(u, stop="variables")
    np.testing.assert_array_equal(v[:, :2], u[:, :2])  # causes are their own noise
    np.testing.assert_allclose(v[:, 2:], jnp.stack(shadow(u[:, 0], u[:, 1]), axis=1), rtol=1e-6)
    np.testing.assert_allclose(g(u), PD.render(v), atol=1e-6)


def shifted(f, i):
    """Column i moved to the next grid value (cyclically), so every row changes."""
    values = np.asarray(SS.factors[i].values, np.float32)
    return values[(SS.factor_classes(f)[:, i] + 1) % len(values)]


def test_styleshapes_style_never_moves_the_silhouette_content_does():
    f = np.asarray(SS.sample_factors(KEY, 32))
    mask = np.asarray(foreground_mask(SS.render(f)))
    truth = np.asarray(jax.vmap(SS.silhouette)(jnp.asarray(f)))
    np.testing.assert_array_equal(mask, truth)
    for i in SS.style_factors:
        g = f.copy()
        g[:, i] = shifted(f, i)  # change every value
        changed = np.asarray(SS.render(g))
        np.testing.assert_array_equal(np.asarray(foreground_mask(changed)), mask)
        assert np.abs(changed - np.asarray(SS.render(f))).max() > 0.1
    for i in SS.content_factors:
        g = f.copy()
        g[:, i] = shifted(f, i)
        assert (np.asarray(foreground_mask(SS.render(g))) != mask).any(axis=(1, 2)).mean() > 0.9


def test_styleshapes_style_factors_change_their_statistic():
    base = jnp.asarray([[0.0, 1.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]], jnp.float32)
    img = lambda **kw: np.asarray(SS.render(  # noqa: E731
        base.at[0, [SS.factor_index(k) for k in kw]].set(jnp.asarray(list(kw.values()), jnp.float32))))[0]
    inside = np.asarray(SS.silhouette(base[0]))
    red, green = img(hue=0.0)[inside].mean(0), img(hue=3 / 8)[inside].mean(0)
    assert red[0] > red[1] and green[1] > green[0]  # hue 0 is red, 3/8 is green
    assert img(stroke=3.0)[inside].mean() < img(stroke=0.0)[inside].mean()  # darker outline
    value = lambda im: im[inside].max(-1)  # noqa: E731  (HSV value)
    assert value(img(texture=2.0)).std() > value(img(texture=0.0)).std() + 0.05  # stripes vary
    assert img(background=0.6)[~inside].mean() == pytest.approx(0.6)


def test_bad_factor_input_names_the_culprit():
    with pytest.raises(FactorError, match=r"'scale'.*\[0.5, 1\].*got 2"):
        DS.render(jnp.asarray([[0.0, 2.0, 0.0, 0.5, 0.5]], jnp.float32))
    with pytest.raises(FactorError, match="unknown factor 'colour'.*'shape'"):
        DS.factor_index("colour")
    with pytest.raises(FactorError, match="out of range"):
        DS.factor_index(7)
    with pytest.raises(ShapeError, match=r"shape \(n, 5\)"):
        DS.render(jnp.zeros((3, 4), jnp.float32))
    with pytest.raises(ShapeError, match="numeric"):
        DS.render(np.zeros((3, 5), dtype=bool))
    with pytest.raises(FactorError, match="posX"):
        DS.sample_factors_fixed(KEY, 4, "posX", value=3.0)
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'"):
        get_dataset("mnist")


def test_renderers_accept_off_grid_values_inside_jit():
    f = jnp.asarray([[1.3, 0.77, 0.1, 0.37, 0.61]], jnp.float32)  # shape 1.3 rounds to the ellipse
    img = jax.jit(DS.oracle())(f)
    np.testing.assert_array_equal(img, DS.render(f.at[0, 0].set(1.0)))
