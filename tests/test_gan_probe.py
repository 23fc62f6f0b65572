"""The factor probe: heads per factor type, learning a simple factor, save/load, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.data import DSprites, Pendulum, StyleShapes
from genstyle_causal.errors import CheckpointError, ConfigError, ShapeError
from genstyle_causal.models import probe as probe_mod
from genstyle_causal.models.probe import Probe, ProbeConfig, heads_for, train_probe

TINY = ProbeConfig(features=(8, 16), dense=64, learning_rate=2e-3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny probe on 16×16 dsprites (the geometry scales with the image)."""
    data = DSprites(size=16)
    workdir = tmp_path_factory.mktemp("probe")
    probe = train_probe(data, key=jax.random.key(0), steps=120, batch_size=32, workdir=workdir, config=TINY)
    factors, images = data.sample(jax.random.key(7), 128)
    return data, probe, workdir, factors, images


def test_heads_follow_factor_types():
    kinds = {h.name: h.kind for h in heads_for(DSprites(size=16))}
    assert kinds == {"shape": "categorical", "scale": "discrete", "orientation": "circular", "posX": "discrete",
                     "posY": "discrete"}
    orient = heads_for(DSprites(size=16))[2]
    assert orient.order_factor == 0 and orient.orders == (4, 2, 1)
    assert [h.kind for h in heads_for(Pendulum(size=16))] == ["discrete", "discrete", "continuous", "continuous"]
    assert all(h.kind == "discrete" for h in heads_for(StyleShapes(size=16)))


def test_decode_known_outputs():
    heads = heads_for(DSprites(size=16))
    # shape logits favour square (0) -> 4-fold orientation; (cos 4θ, sin 4θ) for θ = 0.3 decodes back to 0.3
    out = np.zeros((1, sum(h.width for h in heads)), np.float32)
    out[0, 0] = 20.0
    out[0, 3 + 6 : 3 + 6 + 2] = [math.cos(1.2), math.sin(1.2)]
    values, classes, columns = jax.jit(lambda o: probe_mod.decode(heads, o))(jnp.asarray(out))
    assert float(values[0, 0]) == 0.0  # arg-max shape: square
    np.testing.assert_allclose(np.asarray(columns[0, :3]), [1, 0, 0], atol=1e-6)  # class probabilities
    assert float(values[0, 1]) == pytest.approx(0.75, abs=1e-6)  # uniform softmax over scale grid 0.5..1: mean 0.75
    assert float(values[0, 2]) == pytest.approx(0.3, abs=1e-5)
    assert int(classes[0, 2]) == 2  # nearest grid angle to 0.3 on the 2π/39 grid is index 2 (0.322)


def test_probe_learns_positions_well_above_chance(trained):
    data, probe, _, factors, images = trained
    pred = np.asarray(probe.predict(images))
    true = np.asarray(factors)
    for i in (3, 4):  # posX, posY: chance R² is 0
        r2 = 1 - np.mean((pred[:, i] - true[:, i]) ** 2) / np.var(true[:, i])
        assert r2 > 0.8, (data.factor_names[i], r2)
    classes = np.asarray(probe.predict_classes(images))
    exact = data.factor_classes(factors)
    # within one grid step of the true posX in most images (chance of |Δ| ≤ 1 on 32 classes ≈ 0.09)
    assert np.mean(np.abs(classes[:, 3] - exact[:, 3]) <= 1) > 0.5
    assert probe.factor_names == data.factor_names


def test_outcome_is_jittable_and_shape_checked(trained):
    _, probe, _, _, images = trained
    inside = jax.jit(lambda p, x: p.outcome(x))(probe, images)
    np.testing.assert_allclose(np.asarray(inside), np.asarray(probe.read(images)), rtol=1e-5, atol=1e-6)
    assert inside.shape == (128, 7) and inside.dtype == jnp.float32
    assert probe.outcome_names == ("shape:square", "shape:ellipse", "shape:heart", "scale", "orientation", "posX", "posY")
    np.testing.assert_allclose(np.asarray(inside[:, :3]).sum(axis=1), 1.0, rtol=1e-5)  # class probabilities
    np.testing.assert_allclose(np.asarray(inside[:, 3:]), np.asarray(probe.predict(images))[:, 1:], rtol=1e-5, atol=1e-6)
    with pytest.raises(ShapeError, match=r"\(n, 16, 16, 1\)"):
        probe.predict(jnp.zeros((2, 32, 32, 1), jnp.float32))


def test_save_load_round_trip(trained, tmp_path):
    _, probe, workdir, _, images = trained
    assert (workdir / "probe.npz").exists()
    path = probe.save(tmp_path / "sub" / "p.npz")
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    back = Probe.load(path)
    np.testing.assert_array_equal(np.asarray(back.predict(images)), np.asarray(probe.predict(images)))
    assert back.heads == probe.heads and back.config == probe.config


def test_load_errors(tmp_path):
    with pytest.raises(CheckpointError, match="missing.npz"):
        Probe.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", __meta__=np.asarray('{"format": "something else"}'))
    with pytest.raises(CheckpointError, match="not a probe file"):
        Probe.load(tmp_path / "other.npz")


def test_load_rejects_wrong_shapes(trained, tmp_path):
    probe = trained[1]
    path = probe.save(tmp_path / "p.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    name = next(k for k in arrays if "kernel" in k)
    arrays[name] = np.zeros((1, 2, 3), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match="kernel"):
        Probe.load(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "kwargs, key",
    [({"features": ()}, "features"), ({"dense": 0}, "dense"), ({"learning_rate": 0.0}, "learning_rate")],
)
def test_bad_probe_config(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        ProbeConfig(**kwargs)


def test_bad_train_arguments():
    with pytest.raises(ConfigError, match="features"):  # 4 halvings need a multiple of 16, not 8
        train_probe(DSprites(size=8), key=jax.random.key(0), steps=1, config=ProbeConfig(features=(4, 4, 4, 4)))
    with pytest.raises(ConfigError, match="steps"):
        train_probe(DSprites(size=16), key=jax.random.key(0), steps=0, config=TINY)
    with pytest.raises(ConfigError, match="batch_size"):
        train_probe(DSprites(size=16), key=jax.random.key(0), steps=1, batch_size=0, config=TINY)


def test_orientation_difference_is_modulo_the_shared_symmetry():
    # Known answers from geometry: a square repeats every π/2, an ellipse every π, a heart every 2π; two readings
    # differ by the absolute angle modulo the symmetry both shapes share (2π / lcm of their orders).
    heads = heads_for(DSprites(size=16))
    square, ellipse, heart = np.eye(3)

    def row(shape, angle):
        return np.concatenate([shape, [0.75, angle, 0.5, 0.5]]).astype(np.float32)

    y = np.stack([row(square, 1.5), row(heart, 3.0), row(heart, 0.1), row(ellipse, 3.0), row(square, 0.2)])
    base = np.stack([row(square, 0.1), row(heart, 0.5), row(heart, 6.2), row(square, 0.2), row(heart, 0.2 + 3 * math.pi / 2)])
    d = np.asarray(probe_mod.column_difference(heads, jnp.asarray(y), jnp.asarray(base)))
    expected = [1.4 - math.pi / 2, 2.5, 0.1 - 6.2 + 2 * math.pi, (2.8 + math.pi / 4) % (math.pi / 2) - math.pi / 4, 0.0]
    np.testing.assert_allclose(d[:, 4], np.abs(expected), atol=1e-5)
    np.testing.assert_allclose(d[:, :4], (y - base)[:, :4], atol=1e-6)  # other columns: plain differences
