"""Flax models trained elsewhere, wrapped as staged generators (NNX modules; Linen modules + variables).

Known answers: the wrapped model generates exactly what the model does, an edit
of a named layer through an intervention equals the same edit written by hand,
and hybridizing every channel of a layer from a donor reproduces the donor.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genstyle_causal.adapters import linen_generator, nnx_generator
from genstyle_causal.causal import Ablate, Hybridize, SwapStyle, effect_matrix, intervene
from genstyle_causal.errors import ConfigError, LayerError, ShapeError

Z = jax.random.normal(jax.random.key(1), (6, 3), jnp.float32)
DONOR = jax.random.normal(jax.random.key(2), (6, 3), jnp.float32)
CHANNELS = jnp.array([0, 2])


class Decoder(nnx.Module):
    def __init__(self, latent, *, rngs):
        self.fc = nnx.Linear(latent, 4 * 4 * 8, rngs=rngs)
        self.up1 = nnx.ConvTranspose(8, 8, (4, 4), strides=(2, 2), rngs=rngs)
        self.up2 = nnx.ConvTranspose(8, 4, (4, 4), strides=(2, 2), rngs=rngs)
        self.out = nnx.Conv(4, 1, (3, 3), rngs=rngs)

    def __call__(self, z):
        h = jax.nn.relu(self.fc(z)).reshape(-1, 4, 4, 8)
        return self.out(jax.nn.relu(self.up2(jax.nn.relu(self.up1(h)))))


class AutoEncoder(nnx.Module):
    """A model whose generator is a method (``decode``) of a bigger module."""

    def __init__(self, *, rngs):
        self.encoder = nnx.Linear(16 * 16, 3, rngs=rngs)
        self.decoder = Decoder(3, rngs=rngs)

    def decode(self, z):
        return jax.nn.sigmoid(self.decoder(z))


MODEL = AutoEncoder(rngs=nnx.Rngs(0))
GEN = nnx_generator(MODEL, 3, method="decode")


def test_nnx_layers_are_the_named_submodules_in_forward_order():
    assert GEN.layer_names == ("latent", "decoder.fc", "decoder.up1", "decoder.up2", "decoder.out", "decoder", "image")
    assert GEN.latent_names == ("z0", "z1", "z2")


def test_nnx_wrapped_model_is_bit_identical():
    np.testing.assert_array_equal(GEN(Z), MODEL.decode(Z))
    np.testing.assert_array_equal(jax.jit(lambda g, z: g(z))(GEN, Z), nnx.jit(lambda m, z: m.decode(z))(MODEL, Z))
    stacked = jnp.stack([Z, DONOR])
    np.testing.assert_array_equal(jax.jit(jax.vmap(GEN))(stacked), jax.vmap(MODEL.decode)(stacked))


def test_nnx_ablate_equals_editing_the_layer_by_hand():
    d = MODEL.decoder
    h = d.up2(jax.nn.relu(d.up1(jax.nn.relu(d.fc(Z)).reshape(-1, 4, 4, 8))))
    by_hand = jax.nn.sigmoid(d.out(jax.nn.relu(h.at[..., CHANNELS].set(0.0))))
    np.testing.assert_array_equal(intervene(GEN, Z, Ablate("decoder.up2", CHANNELS)), by_hand)
    np.testing.assert_array_equal(jax.jit(intervene)(GEN, Z, Ablate("decoder.up2", CHANNELS)), jax.jit(lambda z: by_hand)(Z))


def test_hybridize_and_swap_style_on_named_layers():
    every = jnp.arange(8)
    np.testing.assert_allclose(intervene(GEN, Z, Hybridize("decoder.up1", every, DONOR)), GEN(DONOR), atol=1e-6)
    np.testing.assert_allclose(intervene(GEN, Z, SwapStyle("decoder.up1", Z)), GEN(Z), atol=1e-5)
    assert np.abs(np.asarray(intervene(GEN, Z, SwapStyle("decoder.up1", DONOR)) - GEN(Z))).max() > 1e-3


def test_effect_matrix_of_a_wrapped_model_runs_under_jit():
    m = effect_matrix(GEN, lambda x: x.mean(axis=(1, 2)), key=jax.random.key(0), n=16, num_bootstrap=50)
    assert m.shape == (3, 1) and np.isfinite(m.effect).all()


class Stack(nnx.Module):
    """Layers in an ``nnx.List``: they are named by their index."""

    def __init__(self, *, rngs):
        self.layers = nnx.List([nnx.Linear(3, 16, rngs=rngs), nnx.Linear(16, 16, rngs=rngs)])

    def __call__(self, z):
        for layer in self.layers:
            z = jax.nn.sigmoid(layer(z))
        return z.reshape(-1, 4, 4, 1)


def test_layers_of_a_list_are_named_by_index():
    model = Stack(rngs=nnx.Rngs(0))
    g = nnx_generator(model, 3)
    assert g.layer_names == ("latent", "layers.0", "layers.1", "image")
    h = model.layers[0](Z).at[..., CHANNELS].set(0.0)
    by_hand = jax.nn.sigmoid(model.layers[1](jax.nn.sigmoid(h))).reshape(-1, 4, 4, 1)
    np.testing.assert_array_equal(intervene(g, Z, Ablate("layers.0", CHANNELS)), by_hand)


class SkipDecoder(nnx.Module):
    """``fc1`` feeds ``fc2``, but the latent also reaches the output through ``skip``: neither cuts the pass."""

    def __init__(self, *, rngs):
        self.fc1 = nnx.Linear(3, 16, rngs=rngs)
        self.fc2 = nnx.Linear(16, 16, rngs=rngs)
        self.skip = nnx.Linear(3, 16, rngs=rngs)
        self.head = nnx.Linear(16, 16, rngs=rngs)

    def __call__(self, z):
        return self.head(self.fc2(jax.nn.relu(self.fc1(z))) + self.skip(z)).reshape(-1, 4, 4, 1)


def test_only_layers_that_cut_the_forward_pass_become_stages():
    model = SkipDecoder(rngs=nnx.Rngs(0))
    assert nnx_generator(model, 3).layer_names == ("latent", "head", "image")
    with pytest.raises(LayerError, match="'fc1' of 'SkipDecoder' does not cut the forward pass.*Layers that do: \\['head'\\]"):
        nnx_generator(model, 3, layers=["fc1"])


def test_bad_layer_names_and_outputs():
    with pytest.raises(LayerError, match=r"layer 'decoder.up3' .* valid layers: \['decoder.fc', 'decoder.up1', "
                                         r"'decoder.up2', 'decoder.out', 'decoder'\]"):
        nnx_generator(MODEL, 3, method="decode", layers=["decoder.up3"])
    with pytest.raises(LayerError, match="forward order"):
        nnx_generator(MODEL, 3, method="decode", layers=["decoder.up2", "decoder.up1"])
    with pytest.raises(LayerError, match="unknown layer 'up2'.*valid layers"):
        intervene(GEN, Z, Ablate("up2", CHANNELS))
    with pytest.raises(ShapeError, match=r"must output an image batch \(n, H, W, C\).*float32 \(2, 256\)"):
        nnx_generator(MODEL, 3, method="decode", output=lambda x: x.reshape(x.shape[0], -1))
    with pytest.raises(ConfigError, match="AutoEncoder has no method 'generate'"):
        nnx_generator(MODEL, 3, method="generate")


class WithDropout(Decoder):
    def __init__(self, latent, *, rngs):
        super().__init__(latent, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)

    def __call__(self, z):
        return super().__call__(self.drop(z))


def test_a_model_in_training_mode_is_refused_until_eval():
    model = WithDropout(3, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"WithDropout is in training mode \(drop uses dropout.*model.eval\(\)"):
        nnx_generator(model, 3)
    model.eval()
    np.testing.assert_array_equal(nnx_generator(model, 3)(Z), model(Z))


# -- Linen -------------------------------------------------------------------------------------------------


class LinenDecoder(nn.Module):
    @nn.compact
    def __call__(self, z):
        h = nn.relu(nn.Dense(4 * 4 * 8, name="fc")(z)).reshape(-1, 4, 4, 8)
        h = nn.relu(nn.ConvTranspose(8, (4, 4), strides=(2, 2), name="up1")(h))
        return nn.sigmoid(nn.Conv(1, (3, 3), name="out")(h))


class LinenModel(nn.Module):
    def setup(self):
        self.decoder = LinenDecoder()

    def __call__(self, z):
        return self.decoder(z)


LINEN = LinenModel()
VARIABLES = LINEN.init(jax.random.key(0), Z)


def test_linen_wrapped_model_is_bit_identical_and_ablates_like_by_hand():
    g = linen_generator(LINEN, VARIABLES, 3)
    assert g.layer_names == ("latent", "decoder.fc", "decoder.up1", "decoder.out", "decoder", "image")
    np.testing.assert_array_equal(g(Z), LINEN.apply(VARIABLES, Z))
    np.testing.assert_array_equal(jax.jit(lambda g, z: g(z))(g, Z), jax.jit(LINEN.apply)(VARIABLES, Z))
    np.testing.assert_array_equal(jax.vmap(g)(jnp.stack([Z, Z])), jnp.stack([LINEN.apply(VARIABLES, Z)] * 2))
    p = VARIABLES["params"]["decoder"]
    h = nn.relu(nn.Dense(128).apply({"params": p["fc"]}, Z)).reshape(-1, 4, 4, 8)
    h = nn.ConvTranspose(8, (4, 4), strides=(2, 2)).apply({"params": p["up1"]}, h)
    by_hand = nn.sigmoid(nn.Conv(1, (3, 3)).apply({"params": p["out"]}, nn.relu(h.at[..., CHANNELS].set(0.0))))
    np.testing.assert_array_equal(intervene(g, Z, Ablate("decoder.up1", CHANNELS)), by_hand)
