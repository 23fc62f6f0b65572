"""AdaIN decoder: trained with the package's fit, saved/loaded, exposed as a Generator; stylize writes files."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.errors import CheckpointError, ConfigError, LayerError, ShapeError
from genstyle_causal.models.style import (
    AdaINConfig, adain_batches, adain_generator, adain_transfer, decode, decode_with_style, encode, init_adain,
    load_adain, mean_std, save_adain, stylize, train_adain,
)
from genstyle_causal.train import TrainConfig

CONFIG = AdaINConfig(image_size=16, batch_size=4, learning_rate=3e-3)
STEPS = 25


@pytest.fixture(scope="module")
def trained():
    batch = adain_batches(CONFIG)(jax.random.key(0))
    model, history = train_adain(config=CONFIG, batch_fn=lambda key: batch,
                                 train=TrainConfig(steps=STEPS, log_every=1, progress=False))
    return model, history, batch


def test_fit_lowers_the_adain_loss_on_a_fixed_batch(trained):
    model, history, (content, style) = trained
    assert content.shape == style.shape == (4, 16, 16, 3)
    assert [h["step"] for h in history] == list(range(1, STEPS + 1))
    # a fixed batch and Adam: the last losses are well below the first (same batch, same targets)
    assert np.mean([h["loss"] for h in history[-5:]]) < 0.7 * history[0]["loss"]


def test_save_load_round_trip_and_corrupt_file(trained, tmp_path):
    model, _, (content, style) = trained
    path = save_adain(model, tmp_path / "adain.npz")
    loaded = load_adain(path)
    assert loaded.config == model.config and list(tmp_path.iterdir()) == [path]
    np.testing.assert_array_equal(adain_transfer(loaded, content, style[:1]), adain_transfer(model, content, style[:1]))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="bad.npz"):
        load_adain(tmp_path / "bad.npz")


def test_generator_stages_and_style_hooks(trained):
    model, _, (content, style) = trained
    g = adain_generator(model, (16, 16, 3))
    assert g.layer_names == ("latent", "features", "image")
    z = g.sample_latent(jax.random.key(1), 3)
    feats = g.run(z, stop="features")
    assert z.shape == (3, 16 * 16 * 3) and feats.shape == (3, 8, 8, 128)  # VGG16 relu2_1
    np.testing.assert_allclose(g.run(feats, start="features"), g(z), atol=1e-6)
    # re-styling features with their own statistics is the identity (up to the AdaIN eps)
    mean, std = mean_std(feats)
    np.testing.assert_allclose(decode_with_style(model, feats, mean, std), decode(model, feats), atol=1e-3)
    # alpha = 0 keeps the content features: the output is the plain reconstruction, at any image size
    odd = jax.random.uniform(jax.random.key(2), (1, 17, 21, 3), jnp.float32)
    out = adain_transfer(model, odd, style[:1], alpha=0.0)
    assert out.shape == (1, 17, 21, 3)
    padded = jnp.pad(odd, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="reflect")
    np.testing.assert_allclose(out, jnp.clip(decode(model, encode(model, padded))[:, :17, :21], 0, 1), atol=1e-6)


def test_adain_bad_input(trained):
    model, _, _ = trained
    with pytest.raises(ShapeError, match="multiples of 2"):
        adain_generator(model, (17, 16, 3))
    with pytest.raises(ConfigError, match="needs a data= source"):
        adain_generator(model, (16, 32, 3))
    with pytest.raises(LayerError, match="valid layers"):
        init_adain(config=AdaINConfig(layer="relu7_1"), key=jax.random.key(0))
    with pytest.raises(ConfigError, match="image_size 17 must be a multiple of 2"):
        train_adain(config=AdaINConfig(image_size=17))
    with pytest.raises(ShapeError, match="too small"):
        adain_transfer(model, jnp.zeros((1, 1, 8, 3), jnp.float32), jnp.zeros((1, 8, 8, 3), jnp.float32))


def test_stylize_writes_the_file_atomically(trained, tmp_path):
    model, _, (content, style) = trained
    model_path = save_adain(model, tmp_path / "m.npz")
    out = stylize(np.asarray(content[0]), [np.asarray(style[0]), np.asarray(style[1])], out_path=tmp_path / "a.png",
                  method="adain", model=model_path, preserve_colour=True)
    assert out.shape == (16, 16, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "m.npz"]
    with pytest.raises(ConfigError, match="unknown stylize method 'magic'"):
        stylize(np.asarray(content[0]), np.asarray(style[0]), out_path=tmp_path / "b.png", method="magic")
