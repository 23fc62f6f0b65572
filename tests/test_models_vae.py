"""VAE family: each loss on a hand-checkable case, config errors, fast = reference, a tiny run learns."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genstyle_causal.data.dsprites import DSprites
from genstyle_causal.errors import ConfigError
from genstyle_causal.models.vae import (
    VAEConfig,
    VAETask,
    annealed_vae_loss,
    bernoulli_nll,
    beta_tcvae_loss,
    beta_vae_loss,
    capacity,
    dip_covariance,
    dip_penalty,
    factor_vae_disc_loss,
    factor_vae_tc,
    gaussian_kl,
    gaussian_nll,
    permute_dims,
    reparameterize,
    total_correlation_mws,
    vae_generator,
)
from genstyle_causal.train import TrainConfig, fit

KEY = jax.random.PRNGKey(0)
TINY = dict(image_shape=(16, 16, 1), channels=(8, 8), hidden=32, latent=4, learning_rate=1e-3, disc_hidden=32, disc_layers=2)


def f32(x):
    return jnp.asarray(x, jnp.float32)


def test_gaussian_kl_known_values():
    # KL(N(1, 1) || N(0, 1)) = μ²/2 = 0.5; KL(N(0, 2) || N(0, 1)) = (2 − ln 2 − 1)/2
    kl = gaussian_kl(f32([[1.0, 0.0]]), f32([[0.0, math.log(2.0)]]))
    np.testing.assert_allclose(kl, [[0.5, 0.5 * (1.0 - math.log(2.0))]], rtol=1e-6)


def test_likelihoods_known_values():
    # logit 0 = probability 1/2: −log p = log 2 per pixel whatever the binary pixel
    np.testing.assert_allclose(bernoulli_nll(jnp.zeros((2, 2, 2, 1), jnp.float32), f32([[[[0.0], [1.0]]] * 2] * 2)), [4 * math.log(2.0)] * 2, rtol=1e-6)
    # x equal to the mean sigmoid(0) = 1/2: −log N(x; x, σ²) = log σ + log(2π)/2 per pixel
    nll = gaussian_nll(jnp.zeros((1, 3), jnp.float32), jnp.full((1, 3), 0.5, jnp.float32), 0.1)
    np.testing.assert_allclose(nll, [3 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))], rtol=1e-5)


def test_beta_vae_loss_hand_case():
    # nll mean 2; KL per unit 0.5 (μ = 1, σ = 1) × 3 units × β = 2 adds 3
    nll, mean, logvar = f32([1.0, 3.0]), jnp.ones((2, 3), jnp.float32), jnp.zeros((2, 3), jnp.float32)
    np.testing.assert_allclose(beta_vae_loss(nll, mean, logvar, 2.0), 5.0, rtol=1e-6)


def test_annealed_vae_loss_hand_case():
    # C grows linearly to C_max = 25 nats over 100 steps, then stays
    np.testing.assert_allclose([capacity(s, 25.0, 100) for s in (0, 50, 100, 500)], [0.0, 12.5, 25.0, 25.0])
    # nll mean 2; KL = 3 units × 0.5 = 1.5 nats per image. γ = 1000:
    nll, mean, logvar = f32([1.0, 3.0]), jnp.ones((2, 3), jnp.float32), jnp.zeros((2, 3), jnp.float32)
    np.testing.assert_allclose(annealed_vae_loss(nll, mean, logvar, 1000.0, f32(1.5)), 2.0, rtol=1e-6)  # KL = C
    np.testing.assert_allclose(annealed_vae_loss(nll, mean, logvar, 1000.0, f32(1.0)), 502.0, rtol=1e-6)  # 0.5 above
    np.testing.assert_allclose(annealed_vae_loss(nll, mean, logvar, 1000.0, f32(2.5)), 1002.0, rtol=1e-6)  # 1 below


def test_annealed_task_reads_the_capacity_at_the_state_step():
    task = VAETask(VAEConfig(**TINY, objective="annealed", capacity_max=10.0, capacity_steps=40))
    state = task.init(KEY)
    x = jnp.zeros((2, 16, 16, 1), jnp.float32)
    _, (metrics, _) = task.loss(state.params, x, key=KEY, step=jnp.int32(10))
    assert float(metrics["capacity"]) == pytest.approx(2.5)
    loss, (metrics, _) = task.loss(state.params, x, key=KEY, step=jnp.int32(0))
    assert float(loss) == pytest.approx(float(metrics["recon"]) + 1000.0 * float(metrics["kl"]), rel=1e-5)


def test_total_correlation_independent_vs_correlated():
    k1, k2 = jax.random.split(KEY)
    n, d = 1000, 4
    total_correlation = jax.jit(total_correlation_mws)
    # identical posteriors N(0, I): q(z) = N(0, I) factorises, the estimate is exactly 0
    z = jax.random.normal(k1, (n, d), jnp.float32)
    zeros = jnp.zeros((n, d), jnp.float32)
    assert abs(float(total_correlation(z, zeros, zeros))) < 1e-5
    # independent means with unit posteriors: q(z) = N(0, 1.25 I) factorises, TC ≈ 0 up to sampling error
    mean = 0.5 * jax.random.normal(k1, (n, d), jnp.float32)
    tc_ind = float(total_correlation(reparameterize(mean, zeros, key=k2), mean, zeros))
    assert abs(tc_ind) < 0.05
    # one shared coordinate copied to all 4 units with tiny posteriors: strongly dependent, TC large
    shared = jnp.tile(jax.random.normal(k1, (n, 1), jnp.float32), (1, d))
    tc_cor = float(total_correlation(shared, shared, jnp.full((n, d), math.log(1e-4), jnp.float32)))
    assert tc_cor > 5.0
    # β-TCVAE with β = 1 is the plain ELBO
    nll = jnp.ones((n,), jnp.float32)
    np.testing.assert_allclose(beta_tcvae_loss(nll, mean, zeros, z, 1.0), beta_vae_loss(nll, mean, zeros, 1.0), rtol=1e-6)


def test_dip_penalty_hand_cases():
    assert float(dip_penalty(jnp.eye(3, dtype=jnp.float32), 10.0, 100.0)) == 0.0
    # off-diagonal 0.5 twice → 2·0.25 = 0.5; diagonal (2 − 1)² = 1
    np.testing.assert_allclose(dip_penalty(f32([[2.0, 0.5], [0.5, 1.0]]), 1.0, 1.0), 1.5, rtol=1e-6)
    # DIP-II: constant means (Cov[μ] = 0) and unit posteriors give Cov[q(z)] = I
    mean, logvar = jnp.ones((5, 3), jnp.float32), jnp.zeros((5, 3), jnp.float32)
    np.testing.assert_allclose(dip_covariance(mean, logvar, 2), np.eye(3), atol=1e-6)
    np.testing.assert_allclose(dip_covariance(mean, logvar, 1), np.zeros((3, 3)), atol=1e-6)


def test_factor_vae_parts():
    z = jnp.arange(12, dtype=jnp.float32).reshape(6, 2)
    p = permute_dims(z, key=KEY)
    for j in range(2):  # each column keeps its values, only their order changes
        np.testing.assert_array_equal(jnp.sort(p[:, j]), z[:, j])
    # logits (a, b): TC estimate is mean(a − b)
    np.testing.assert_allclose(factor_vae_tc(f32([[2.0, 0.0], [0.0, 1.0]])), 0.5, rtol=1e-6)
    # an undecided discriminator (equal logits) has cross-entropy log 2
    np.testing.assert_allclose(factor_vae_disc_loss(jnp.zeros((4, 2), jnp.float32), jnp.zeros((4, 2), jnp.float32)), math.log(2.0), rtol=1e-6)


@pytest.mark.parametrize(
    "kw, culprit",
    [
        ({"latent": 0}, "latent"),
        ({"beta": -1.0}, "beta"),
        ({"image_shape": (48, 48, 1), "channels": (8, 8, 8, 8, 8)}, "divisible by 32"),
        ({"channels": ()}, "channels"),
        ({"objective": "vq"}, "objective"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"gaussian_std": 0.0}, "gaussian_std"),
        ({"image_shape": (16, 16)}, "image_shape"),
        ({"capacity_steps": 0}, "capacity_steps"),
        ({"capacity_max": -1.0}, "capacity_max"),
    ],
)
def test_bad_config_raises_named_error(kw, culprit):
    with pytest.raises(ConfigError, match=culprit):
        VAEConfig(**kw)


@pytest.fixture(scope="module")
def sprites():
    """A fixed pool of 256 16×16 dSprites images (rendered once, so runs compile only the model)."""
    return DSprites(size=16).sample(KEY, 256)[1]


@pytest.mark.parametrize("objective", ["beta", "factor"])
def test_tiny_run_loss_falls(objective, sprites):
    # β-VAE and FactorVAE (whose step also updates the discriminator) learn on a tiny run
    task = VAETask(VAEConfig(**TINY, objective=objective))
    cfg = TrainConfig(steps=40, log_every=10, progress=False)
    state, hist = fit(task, lambda k: sprites[jax.random.randint(k, (32,), 0, 256)], cfg)
    recon = [r["recon"] for r in hist]
    assert recon[-1] < 0.8 * recon[0], recon
    if objective == "factor":
        assert all(np.isfinite(r["disc"]) for r in hist)


@pytest.mark.parametrize("objective", ["betatc", "dip1", "dip2", "annealed"])
def test_other_objectives_trace(objective):
    # the remaining train steps trace under strict dtype promotion with the right metrics
    # (their losses are checked on hand cases above; tracing is enough and costs no compilation)
    task = VAETask(VAEConfig(**TINY, objective=objective))
    state = jax.eval_shape(task.init, KEY)
    new, metrics = jax.eval_shape(task.train_step, state, jax.ShapeDtypeStruct((8, 16, 16, 1), jnp.float32))
    assert jax.tree.structure(new) == jax.tree.structure(state)
    extra = {"betatc": "tc", "annealed": "capacity"}.get(objective, "dip")
    assert {"loss", "recon", "kl", extra} <= set(metrics)


def test_generator_stages():
    task = VAETask(VAEConfig(**TINY))
    model = task.model(task.init(KEY).params)
    g = vae_generator(model)
    assert g.layer_names == ("latent", "dense1", "dense2", "up1", "image")
    z = g.sample_latent(KEY, 3)
    assert g.layer_shape("dense2", 3) == (3, 4, 4, 8) and g.layer_shape("up1", 3) == (3, 8, 8, 8)
    img = jax.jit(lambda g, z: g(z))(g, z)
    np.testing.assert_allclose(img, jax.nn.sigmoid(model.decoder(z)), rtol=1e-5, atol=1e-6)
    # editing an internal layer and continuing gives the same image when the edit is the identity
    h = g.run(z, stop="up1")
    np.testing.assert_allclose(g.run(h, start="up1"), img, rtol=1e-5, atol=1e-6)
    assert vae_generator(model).stages == g.stages  # stable stage functions: no recompilation


def test_recipes_build_their_training_step():
    # every shipped recipe is a valid config whose step traces at its image size and batch
    from genstyle_causal.models.vae import RECIPES

    for name, recipe in RECIPES.items():
        task = VAETask(recipe.config)
        state = jax.eval_shape(task.init, KEY)
        batch = jax.ShapeDtypeStruct((recipe.batch_size, recipe.image_size, recipe.image_size, 1), jnp.float32)
        _, metrics = jax.eval_shape(task.train_step, state, batch)
        assert recipe.steps % recipe.steps_per_call == 0 and "loss" in metrics, name
