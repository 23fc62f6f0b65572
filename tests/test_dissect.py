"""GAN Dissection on hand-built generators whose answer is known: a channel that *is* the concept mask."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.causal.dissect import (
    ablation_effects, channel_influence_maps, channel_iou, cluster_modules, dissect, sprite_mask,
)
from genstyle_causal.data import DSprites, StyleShapes, foreground_mask
from genstyle_causal.errors import LayerError, ShapeError
from genstyle_causal.generator import Generator, Stage


def _features_dsprites(data):
    """Stage ``features``: channel 0 = the sprite mask, channel 1 = a smooth ramp unrelated to it, channel 2 = 0."""

    def features(params, z):
        images = data.oracle()(z)[..., 0]
        ramp = jnp.broadcast_to(jnp.linspace(0.0, 1.0, images.shape[2]), images.shape)
        return jnp.stack([images, ramp, jnp.zeros_like(images)], axis=-1)

    return features


def _image_from_channel0(params, h):
    return h[..., :1]


@pytest.fixture(scope="module")
def mask_generator():
    data = DSprites(size=16)
    return Generator([Stage("features", _features_dsprites(data)), Stage("image", _image_from_channel0)],
                     latent_names=data.factor_names, prior=data.sample_factors, name="mask-channel")


def test_mask_channel_iou_is_one(mask_generator):
    result = channel_iou(mask_generator, "features", key=jax.random.key(0), n=32)
    assert result.iou[0] == pytest.approx(1.0)
    assert result.iou[1] < 0.6  # a ramp is no sprite
    assert result.iou[2] < 0.6 and 0 < result.concept_fraction < 0.5


def _styleshapes_generator(data):
    """Second case: RGB styleshapes, a 4-channel layer at full size whose channel 2 is 5·mask − 1 (not 0/1-valued)."""

    def features(params, z):
        images = data.oracle()(z)
        mask = foreground_mask(images).astype(jnp.float32)
        return jnp.concatenate([images[..., :2], (5.0 * mask - 1.0)[..., None], images[..., 2:]], axis=-1)

    def image(params, h):
        return jnp.concatenate([h[..., :2], h[..., 3:]], axis=-1)

    return Generator([Stage("features", features), Stage("image", image)], latent_names=data.factor_names,
                     prior=data.sample_factors, name="styleshapes-mask-channel")


def test_mask_channel_iou_is_one_on_a_second_generator():
    data = StyleShapes(size=16)
    g = _styleshapes_generator(data)
    result = channel_iou(g, "features", foreground_mask, key=jax.random.key(1), n=32)
    assert int(np.argmax(result.iou)) == 2 and result.iou[2] == pytest.approx(1.0)


def test_ablating_the_mask_channel_empties_the_image(mask_generator):
    outcome = DSprites(size=16).readout()  # size, x, y
    effects = ablation_effects(mask_generator, outcome, "features", key=jax.random.key(2), n=32, num_bootstrap=200)
    assert effects.unit_names == ("features[0]", "features[1]", "features[2]")
    # zeroing channel 0 erases the sprite: size falls to 0, i.e. by the mean size; the other channels change nothing
    base = np.asarray(outcome(mask_generator(mask_generator.sample_latent(jax.random.split(jax.random.key(2))[0], 32))))
    assert effects.effect[0, 0] == pytest.approx(-base[:, 0].mean(), abs=1e-5)
    assert effects.excludes_zero()[0, 0]
    np.testing.assert_array_equal(effects.effect[1:], 0.0)


def test_modules_separate_the_mask_channel(mask_generator):
    maps = channel_influence_maps(mask_generator, "features", key=jax.random.key(3), n=16)
    assert maps.shape == (3, 16, 16)
    np.testing.assert_array_equal(maps[1:], 0.0)  # channels the image never reads have no influence
    assert maps[0].max() > 0
    assert cluster_modules(maps, 2) == [[0], [1, 2]]


def test_dissect_reports_the_mask_channel(mask_generator):
    result = dissect(mask_generator, "features", DSprites(size=16).readout(), key=jax.random.key(4), n=32, num_modules=2,
                     num_bootstrap=200)
    top = result.top_channels(1)[0]
    assert top["channel"] == 0 and top["iou"] == pytest.approx(1.0) and top["carries"] == "size"
    assert result.carried_factor()[1:] == [None, None]
    assert result.hybridization.shape == (2, 3)
    assert set(result.to_dict()) >= {"iou", "ablation", "modules", "hybridization", "top_channels"}


def test_bad_layers_and_masks_are_named(mask_generator):
    with pytest.raises(LayerError, match="internal layer"):
        channel_iou(mask_generator, "image", key=jax.random.key(0), n=4)
    with pytest.raises(LayerError, match="unknown layer 'nope'"):
        channel_iou(mask_generator, "nope", key=jax.random.key(0), n=4)
    with pytest.raises(ShapeError, match="concept_mask"):
        channel_iou(mask_generator, "features", lambda x: x[..., 0], key=jax.random.key(0), n=4)
    assert sprite_mask(jnp.ones((1, 4, 4, 1))).dtype == jnp.bool_
