"""Known-answer tests of the GAN losses, the WGAN-GP penalty and the InfoGAN bound."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.errors import ConfigError
from genstyle_causal.models import gan


def test_nonsaturating_losses_of_known_logits():
    # softplus(0) = log 2: D unsure on both -> d = 2 log 2, g = log 2 (Goodfellow et al. 2014)
    zero = jnp.zeros((4,), jnp.float32)
    assert float(gan.nonsaturating_d_loss(zero, zero)) == pytest.approx(2 * math.log(2), rel=1e-6)
    assert float(gan.nonsaturating_g_loss(zero)) == pytest.approx(math.log(2), rel=1e-6)
    # logit 2 on fakes: g = softplus(-2) = log(1 + e^-2) = 0.126928; d adds softplus(2) = 2.126928
    two = jnp.full((3,), 2.0, jnp.float32)
    assert float(gan.nonsaturating_g_loss(two)) == pytest.approx(math.log1p(math.exp(-2.0)), rel=1e-6)
    assert float(gan.nonsaturating_d_loss(zero, two)) == pytest.approx(math.log(2) + math.log1p(math.exp(2.0)), rel=1e-6)


def test_wasserstein_losses():
    real, fake = jnp.asarray([1.0, 3.0]), jnp.asarray([0.0, -1.0])
    assert float(gan.wasserstein_d_loss(real, fake)) == pytest.approx(-0.5 - 2.0)
    assert float(gan.wasserstein_g_loss(fake)) == pytest.approx(0.5)


@pytest.mark.parametrize("norm", [1.0, 0.5, 3.0])
def test_gradient_penalty_of_linear_critic(norm):
    # D(x) = <w, x> has gradient w everywhere, so the penalty is exactly (‖w‖ - 1)² (Gulrajani et al. 2017)
    k_w, k_real, k_fake, k_gp = jax.random.split(jax.random.key(0), 4)
    w = jax.random.normal(k_w, (4, 4, 2), jnp.float32)
    w = w * (norm / jnp.linalg.norm(w))
    real = jax.random.uniform(k_real, (8, 4, 4, 2), jnp.float32)
    fake = jax.random.uniform(k_fake, (8, 4, 4, 2), jnp.float32)
    critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
    gp = float(jax.jit(lambda r, f, k: gan.gradient_penalty(critic, r, f, key=k))(real, fake, k_gp))
    assert gp == pytest.approx((norm - 1.0) ** 2, abs=1e-5)


def test_gradient_penalty_uses_its_key():
    # a non-linear critic: the interpolation point, hence the penalty, depends on the key
    real, fake = jnp.ones((4, 2, 2, 1), jnp.float32), jnp.zeros((4, 2, 2, 1), jnp.float32)
    penalty = jax.jit(lambda k: gan.gradient_penalty(lambda x: jnp.sum(x**2, axis=(1, 2, 3)), real, fake, key=k))
    a, b = penalty(jax.random.key(0)), penalty(jax.random.key(1))
    assert float(a) != float(b)
    assert float(a) == float(penalty(jax.random.key(0)))


def test_info_bound_known_cases():
    cfg = gan.GANConfig(image_shape=(8, 8, 1), noise_dim=2, categorical=(4, 3), continuous=2)
    # H(c) = log 4 + log 3 + 2 log 2 (uniform categories, two U(-1, 1) codes)
    assert gan.code_entropy(cfg) == pytest.approx(math.log(4) + math.log(3) + 2 * math.log(2))
    z = gan.LatentPrior(cfg)(jax.random.key(0), 16)
    # Q knows nothing about the categories (uniform) and predicts each continuous code exactly:
    # bound = H(c) - log 4 - log 3 + 2 · (-½ log 2π) = 2 (log 2 - ½ log 2π)
    q = jnp.concatenate([jnp.zeros((16, 7), jnp.float32), z[:, 2:4]], axis=1)
    expected = 2 * (math.log(2) - 0.5 * math.log(2 * math.pi))
    bound = jax.jit(lambda q, z: gan.info_lower_bound(cfg, q, z))
    assert float(bound(q, z)) == pytest.approx(expected, abs=1e-5)
    # Q certain of the right categories: the categorical part of the bound reaches H(cat) = log 12
    logits = 50.0 * jnp.concatenate([jax.nn.one_hot(z[:, 0].astype(jnp.int32), 4), jax.nn.one_hot(z[:, 1].astype(jnp.int32), 3)], axis=1)
    q = jnp.concatenate([logits, z[:, 2:4]], axis=1)
    assert float(bound(q, z)) == pytest.approx(math.log(12) + expected, abs=1e-5)


def test_prior_and_latent_encoding():
    cfg = gan.GANConfig(image_shape=(8, 8, 1), noise_dim=3, categorical=(3,), continuous=1)
    assert cfg.latent_names == ("cat0", "c0", "noise0", "noise1", "noise2")
    z = gan.LatentPrior(cfg)(jax.random.key(0), 500)
    assert z.shape == (500, 5) and z.dtype == jnp.float32
    assert set(np.unique(np.asarray(z[:, 0]))) == {0.0, 1.0, 2.0}
    assert float(jnp.min(z[:, 1])) >= -1.0 and float(jnp.max(z[:, 1])) <= 1.0
    x = jax.jit(lambda z: gan.encode_latent(cfg, z))(jnp.asarray([[2.0, 0.5, 0, 0, 0], [1.5, 0.5, 0, 0, 0]], jnp.float32))
    # category 2 -> one-hot (0, 0, 1); 1.5 -> halfway between categories 1 and 2
    np.testing.assert_allclose(np.asarray(x[:, :3]), [[0, 0, 1], [0, 0.5, 0.5]])
    np.testing.assert_allclose(np.asarray(x[:, 3:]), [[0.5, 0, 0, 0], [0.5, 0, 0, 0]])


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"image_shape": (48, 48, 1)}, "image_shape"),
        ({"image_shape": (4, 4, 1)}, "image_shape"),
        ({"noise_dim": 0}, "noise_dim"),
        ({"categorical": (1,)}, "categorical"),
        ({"width": 0}, "width"),
        ({"loss": "hinge"}, "loss"),
        ({"gp_weight": -1.0}, "gp_weight"),
        ({"lr_generator": -1e-3}, "lr_generator"),
        ({"beta2": 1.0}, "beta2"),
    ],
)
def test_bad_config_names_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        gan.GANConfig(**kwargs)
