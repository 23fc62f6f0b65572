"""Gatys et al. optimisation: the loss falls, the style moves toward the style image, colour preservation."""

import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.data import sample_image
from genstyle_causal.errors import ConfigError, LayerError, ShapeError
from genstyle_causal.models.style import GatysConfig, gatys_transfer, rgb_to_yiq, style_distance

CONFIG = GatysConfig(steps=30, learning_rate=0.03)


@pytest.fixture(scope="module")
def images():
    return sample_image("chelsea", (24, 32)), sample_image("brick", 16)  # non-square content, smaller style


def test_gatys_lowers_the_loss_and_moves_the_style_toward_the_style_image(images):
    content, style = images
    out, history = gatys_transfer(content, style, config=CONFIG)
    assert out.shape == (1, 24, 32, 3) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert history["total"].shape == (CONFIG.steps,)
    assert float(history["total"][-1]) < 0.5 * float(history["total"][0])
    before = float(style_distance(jnp.asarray(content)[None], jnp.asarray(style)[None])[0])
    after = float(style_distance(out, jnp.asarray(style)[None])[0])
    assert after < before


def test_colour_preservation_keeps_the_content_chrominance(images):
    content, style = images
    out, history = gatys_transfer(content, [style, style[::-1]], config=CONFIG, preserve_colour=True)
    yiq_out, yiq_in = rgb_to_yiq(out[0]), rgb_to_yiq(jnp.asarray(content))
    # I and Q are copied from the content: equal up to the float32 round trip RGB -> YIQ -> RGB -> YIQ
    np.testing.assert_allclose(yiq_out[..., 1:], yiq_in[..., 1:], atol=1e-5)
    assert float(jnp.abs(yiq_out[..., 0] - yiq_in[..., 0]).mean()) > 1e-3  # the luminance did change
    assert float(history["total"][-1]) < float(history["total"][0])


def test_gatys_bad_input(images):
    content, style = images
    with pytest.raises(ConfigError, match="layer_weights has 1 entries for 4 style layers"):
        gatys_transfer(content, style, config=GatysConfig(layer_weights=(1.0,)))
    with pytest.raises(LayerError, match=r"\['conv9_1'\].*valid layers"):
        gatys_transfer(content, style, config=GatysConfig(content_layer="conv9_1"))
    with pytest.raises(ShapeError, match="too small"):
        gatys_transfer(content, style[:4, :4])
    with pytest.raises(ShapeError, match=r"style image must be an RGB image"):
        gatys_transfer(content, [style[..., :2]])
    with pytest.raises(ConfigError, match="style_mix must be 2"):
        gatys_transfer(content, [style, style], style_mix=[1.0])
    with pytest.raises(ConfigError, match="needs a PRNG key"):
        gatys_transfer(content, style, init_noise=0.1)
