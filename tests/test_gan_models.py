"""GAN networks, the staged generator, and tiny training runs through ``fit``."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genstyle_causal.data import DSprites
from genstyle_causal.models.gan import GANConfig, GANTask, gan_generator
from genstyle_causal.train import TrainConfig, fit

INFO = GANConfig(image_shape=(16, 16, 1), noise_dim=4, categorical=(3,), continuous=1, width=8,
                 lr_generator=1e-3, lr_discriminator=1e-3)


@pytest.fixture(scope="module")
def run():
    data = DSprites(size=16)
    task = GANTask(INFO)
    state, history = fit(task, lambda k: data.sample(k, 16)[1], TrainConfig(steps=40, log_every=1, progress=False))
    return task, state, history


def test_tiny_infogan_run(run):
    task, state, history = run
    assert len(history) == 40
    for rec in history:
        assert all(math.isfinite(v) for v in rec.values()), rec
    # the score layer starts at zero: D(x) = ½ for every image, so the first d_loss is 2 log 2
    assert history[0]["d_loss"] == pytest.approx(2 * math.log(2), abs=1e-6)
    # D learns to separate real from fake: its loss falls below the chance level 2 log 2
    assert np.mean([r["d_loss"] for r in history[-10:]]) < 2 * math.log(2) - 0.05
    # G and Q cooperate on the InfoGAN bound: it rises towards H(c) = log 3 + log 2
    first, last = np.mean([r["info_bound"] for r in history[:5]]), np.mean([r["info_bound"] for r in history[-5:]])
    assert last > first + 0.1, (first, last)
    assert last <= math.log(3) + math.log(2) + 1e-3 + 0.5  # a lower bound: it cannot exceed H(c) by much


@pytest.fixture(scope="module")
def wgan():
    task = GANTask(GANConfig(image_shape=(8, 8, 1), noise_dim=4, width=4, loss="wgan-gp"))
    return task, task.init(jax.random.key(0))


def test_generator_loss_falls_against_a_fixed_discriminator(wgan):
    # gradient descent on G with D held fixed must lower its loss -E D(G(z)) (a smooth objective)
    task, state = wgan
    d_params = jax.tree.map(lambda x: x, state.params["discriminator"])
    kernel = d_params["score"]["kernel"]
    kernel[...] = jax.random.normal(jax.random.key(1), kernel[...].shape)  # a non-constant critic
    z = jax.random.normal(jax.random.key(2), (16, 4))
    opt = optax.sgd(0.05)

    @jax.jit
    def descend(g_params):
        def body(carry, _):
            p, o = carry
            (loss, _), grads = jax.value_and_grad(task.g_loss, has_aux=True)(p, d_params, z)
            updates, o = opt.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss
        return jax.lax.scan(body, (g_params, opt.init(g_params)), None, length=20)[1]

    losses = np.asarray(descend(state.params["generator"]))
    assert losses[-1] < losses[0] - 1e-3, losses


def test_wgan_gp_step_is_finite_and_penalised(wgan):
    task, state = wgan
    real = DSprites(size=8).sample(jax.random.key(1), 8)[1]
    state2, metrics = jax.jit(task.train_step)(state, real)
    assert all(bool(jnp.isfinite(v)) for v in metrics.values())
    # at init the critic is constant (zero score layer): gradient 0, penalty exactly (0 - 1)² = 1
    assert float(metrics["gp"]) == pytest.approx(1.0, abs=1e-5)
    assert int(state2.step) == 1


def test_gan_generator_stages(run):
    task, state, _ = run
    g = task.generator(state)
    assert g.layer_names == ("latent", "dense", "up1", "image")
    assert g.latent_names == ("cat0", "c0", "noise0", "noise1", "noise2", "noise3")
    assert g.groups == {"codes": (0, 1), "noise": (2, 3, 4, 5)}
    z = g.sample_latent(jax.random.key(0), 3)
    full = jax.jit(lambda g, z: g(z))(g, z)
    assert full.shape == (3, 16, 16, 1)
    assert float(full.min()) >= 0.0 and float(full.max()) <= 1.0
    h = g.run(z, stop="dense")
    assert h.shape == (3, 4, 4, 16)  # 4×4 map with 2·width channels, channels last
    np.testing.assert_allclose(np.asarray(g.run(h, start="dense")), np.asarray(full), atol=1e-5)
    # stage functions are stable: a second Generator from the same model compares equal (no recompilation)
    again = gan_generator(nnx.merge(task.graphdefs["generator"], state.params["generator"]))
    assert again.stages == g.stages
    # a categorical unit selects a category: cat0 = 2 gives the one-hot (0, 0, 1) input
    a = g.run(z.at[:, 0].set(2.0), stop="dense")
    b = g.run(z.at[:, 0].set(0.0), stop="dense")
    assert float(jnp.abs(a - b).max()) > 0


def test_info_encoder_reads_the_codes_in_latent_layout(run):
    task, state, _ = run
    images = DSprites(size=16).sample(jax.random.key(3), 8)[1]
    codes = np.asarray(jax.jit(lambda enc, x: enc(x))(task.info_encoder(state), images))
    assert codes.shape == (8, 2)  # cat0 (the most likely category), c0 (Q's mean)
    assert set(np.unique(codes[:, 0])) <= {0.0, 1.0, 2.0}
    # a fresh Q head outputs zeros: uniform categories (arg-max 0) and continuous means 0
    np.testing.assert_array_equal(np.asarray(task.info_encoder(task.init(jax.random.key(1)))(images)), 0.0)


def test_train_gan_evaluates_the_generator_on_schedule():
    from genstyle_causal.errors import ConfigError
    from genstyle_causal.models.gan import train_gan

    data = DSprites(size=8)
    config = GANConfig(image_shape=(8, 8, 1), noise_dim=2, width=4)
    seen = []

    def hook(generator):
        seen.append(generator.layer_names)
        return {"mean": float(jnp.mean(generator(generator.sample_latent(jax.random.key(0), 4))))}

    task, state, history = train_gan(data, config, key=jax.random.key(0), steps=6, batch_size=4, steps_per_call=2,
                                     eval_every=5, eval_hook=hook)
    assert int(state.step) == 6 and [r["step"] for r in history if "eval/mean" in r] == [4]  # 5 rounds down to 4
    assert seen == [("latent", "dense", "image")]
    with pytest.raises(ConfigError, match="has none"):
        task.info_encoder(state)
    with pytest.raises(ConfigError, match="differs from the dsprites images"):
        train_gan(DSprites(size=16), config, key=jax.random.key(0), steps=1)
