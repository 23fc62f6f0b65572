"""Convolutional VAEs and their disentangling objectives (Flax NNX, pure losses).

Architecture (the disentanglement_lib / Higgins et al. 2017 setup, 64×64 by
default): encoder of 4×4 stride-2 convolutions (32, 32, 64, 64 channels, ReLU),
dense 256, then mean and log-variance of a 10-d diagonal Gaussian; the decoder
mirrors it with 4×4 stride-2 transposed convolutions. The convolutions use the
fast, numerically equivalent formulations of :mod:`genstyle_causal.models.layers`.

Objectives, each a pure function of the model outputs:

* β-VAE — Higgins et al. 2017, "β-VAE: learning basic visual concepts with a
  constrained variational framework".
* β-TCVAE — Chen et al. 2018, "Isolating sources of disentanglement in VAEs":
  ELBO plus (β − 1)·TC with the minibatch-weighted sampling estimate of TC.
* FactorVAE — Kim & Mnih 2018, "Disentangling by factorising": ELBO plus γ·TC,
  TC from a discriminator telling q(z) from its permute-dims product of marginals.
* DIP-VAE-I/II — Kumar et al. 2018, "Variational inference of disentangled latent
  concepts from unlabeled observations": ELBO plus moment matching of Cov[q(z)] to I.
* AnnealedVAE — Burgess et al. 2018, "Understanding disentangling in β-VAE":
  reconstruction plus γ·|KL − C| with the capacity C raised linearly from 0 to
  C_max, so the code gains information gradually (disentanglement_lib's annealed_vae).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Literal

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from ..errors import ConfigError
from ..generator import Generator, Stage
from ..train import TrainState, apply_optimizer
from .layers import Down, Up

Objective = Literal["beta", "betatc", "factor", "dip1", "dip2", "annealed"]
Likelihood = Literal["bernoulli", "gaussian"]
LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2.0 * math.pi)
#: The hyper-parameters each objective reads, beyond the architecture and the optimiser's learning rate.
OBJECTIVE_PARAMS = {
    "beta": ("beta",),
    "betatc": ("beta",),
    "factor": ("gamma", "disc_hidden", "disc_layers", "disc_learning_rate"),
    "dip1": ("beta", "lambda_od", "lambda_d"),
    "dip2": ("beta", "lambda_od", "lambda_d"),
    "annealed": ("capacity_gamma", "capacity_max", "capacity_steps"),
}
OBJECTIVES = tuple(OBJECTIVE_PARAMS)
#: How reports name each objective's model.
OBJECTIVE_LABELS = {"beta": "β-VAE", "betatc": "β-TCVAE", "factor": "FactorVAE", "dip1": "DIP-VAE-I",
                    "dip2": "DIP-VAE-II", "annealed": "AnnealedVAE"}


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """Architecture, objective and optimiser of a VAE (saved with every checkpoint).

    ``image_shape`` height and width must be divisible by ``2 ** len(channels)``.
    ``beta`` weighs the KL (β-VAE, DIP) or the TC (β-TCVAE); ``gamma`` weighs
    FactorVAE's TC; ``lambda_od``/``lambda_d`` weigh DIP's off-diagonal/diagonal
    penalties; ``gaussian_std`` is the fixed pixel std of the Gaussian likelihood.
    AnnealedVAE weighs ``|KL − C|`` by ``capacity_gamma``, C growing linearly from 0
    to ``capacity_max`` nats over the first ``capacity_steps`` steps.
    Defaults follow disentanglement_lib (Adam 1e-4; discriminator 6×1000, Adam(1e-4, 0.5, 0.9);
    AnnealedVAE γ = 1000, C_max = 25, 100k steps).
    """

    image_shape: tuple[int, int, int] = (64, 64, 1)
    channels: tuple[int, ...] = (32, 32, 64, 64)
    hidden: int = 256
    latent: int = 10
    likelihood: Likelihood = "bernoulli"
    gaussian_std: float = 0.1
    objective: Objective = "beta"
    beta: float = 1.0
    gamma: float = 10.0
    lambda_od: float = 10.0
    lambda_d: float = 100.0
    learning_rate: float = 1e-4
    disc_hidden: int = 1000
    disc_layers: int = 6
    disc_learning_rate: float = 1e-4
    capacity_gamma: float = 1000.0
    capacity_max: float = 25.0
    capacity_steps: int = 100_000

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(v) for v in self.image_shape))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ConfigError(f"VAEConfig.image_shape must be (height, width, channels) >= 1; got {self.image_shape}")
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"VAEConfig.channels must be a non-empty tuple of positive ints; got {self.channels}")
        factor = 2 ** len(self.channels)
        h, w, _ = self.image_shape
        if h % factor or w % factor:
            raise ConfigError(
                f"VAEConfig.image_shape {h}×{w} must be divisible by {factor} "
                f"(the {len(self.channels)} stride-2 layers of channels={self.channels})"
            )
        for name in ("hidden", "latent", "disc_hidden", "disc_layers", "capacity_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VAEConfig.{name} must be >= 1; got {getattr(self, name)}")
        for name in ("beta", "gamma", "lambda_od", "lambda_d", "capacity_gamma", "capacity_max"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"VAEConfig.{name} must be >= 0; got {getattr(self, name)}")
        for name in ("gaussian_std", "learning_rate", "disc_learning_rate"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"VAEConfig.{name} must be > 0; got {getattr(self, name)}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"VAEConfig.objective must be one of {OBJECTIVES}; got {self.objective!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"VAEConfig.likelihood must be one of {LIKELIHOODS}; got {self.likelihood!r}")

    @property
    def bottom(self) -> tuple[int, int, int]:
        """Shape of the smallest feature map, ``(h, w, channels[-1])``."""
        factor = 2 ** len(self.channels)
        return (self.image_shape[0] // factor, self.image_shape[1] // factor, self.channels[-1])


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A measured way to train a VAE on dSprites within a CPU budget: the model and the loop settings.

    ``config.image_shape`` is the dSprites size to render (32×32 is the same factor grid
    at half the resolution, a quarter of the pixels, about 5× cheaper per step on CPU;
    metrics are computed on the factor grid, whatever the size). ``benchmarks/bench_recipe.py``
    measures each recipe's disentanglement against steps and CPU minutes.
    """

    config: VAEConfig
    batch_size: int
    steps: int
    steps_per_call: int = 50
    summary: str = ""

    @property
    def image_size(self) -> int:
        return self.config.image_shape[0]


#: The measured recipes (see ``benchmarks/results/recipe.json``): ``demo`` fits the demo's minutes,
#: ``best`` is the best found for 30 minutes of the 2-core CPU.
RECIPES = {
    "demo": Recipe(VAEConfig(image_shape=(32, 32, 1), objective="betatc", beta=6.0, learning_rate=1e-3),
                   batch_size=64, steps=3000, summary="β-TCVAE β = 6, Adam 1e-3, batch 64, 32×32, 3000 steps"),
    "best": Recipe(VAEConfig(image_shape=(32, 32, 1), objective="betatc", beta=6.0, learning_rate=1e-3),
                   batch_size=64, steps=18000, summary="β-TCVAE β = 6, Adam 1e-3, batch 64, 32×32, 18000 steps"),
}


# -- networks ------------------------------------------------------------------------


class Encoder(nnx.Module):
    """Image ``(n, H, W, C)`` -> ``(mean, logvar)`` of q(z|x), each ``(n, latent)``."""

    def __init__(self, config: VAEConfig, *, rngs: nnx.Rngs):
        cins = (config.image_shape[2],) + config.channels[:-1]
        self.convs = nnx.List([Down(a, b, rngs=rngs) for a, b in zip(cins, config.channels)])
        self.dense = nnx.Linear(math.prod(config.bottom), config.hidden, rngs=rngs)
        self.head = nnx.Linear(config.hidden, 2 * config.latent, rngs=rngs)

    def __call__(self, x: jax.Array, *, reference: bool = False):
        for conv in self.convs:
            x = jax.nn.relu(conv(x, reference=reference))
        h = jax.nn.relu(self.dense(x.reshape(x.shape[0], -1)))
        mean, logvar = jnp.split(self.head(h), 2, axis=-1)
        return mean, logvar


class Decoder(nnx.Module):
    """Latent ``(n, latent)`` -> pixel logits ``(n, H, W, C)``, in named stages.

    Stages: ``dense1`` (n, hidden), ``dense2`` (n, h, w, c) feature map, ``up1`` …
    ``up{L-1}`` feature maps (NHWC), ``image`` logits. :meth:`stage` runs one.
    """

    def __init__(self, config: VAEConfig, *, rngs: nnx.Rngs):
        self.bottom = config.bottom
        self.dense1 = nnx.Linear(config.latent, config.hidden, rngs=rngs)
        self.dense2 = nnx.Linear(config.hidden, math.prod(config.bottom), rngs=rngs)
        couts = config.channels[::-1][1:] + (config.image_shape[2],)
        self.ups = nnx.List([Up(a, b, rngs=rngs) for a, b in zip(config.channels[::-1], couts)])
        self.stage_names = ("dense1", "dense2") + tuple(f"up{i}" for i in range(1, len(self.ups))) + ("image",)

    def stage(self, name: str, h: jax.Array, *, reference: bool = False) -> jax.Array:
        if name == "dense1":
            return jax.nn.relu(self.dense1(h))
        if name == "dense2":
            return jax.nn.relu(self.dense2(h)).reshape((h.shape[0],) + self.bottom)
        i = len(self.ups) - 1 if name == "image" else int(name[2:]) - 1
        y = self.ups[i](h, reference=reference)
        return y if name == "image" else jax.nn.relu(y)

    def __call__(self, z: jax.Array, *, reference: bool = False) -> jax.Array:
        for name in self.stage_names:
            z = self.stage(name, z, reference=reference)
        return z


class VAE(nnx.Module):
    """Encoder + decoder of :class:`VAEConfig`."""

    def __init__(self, config: VAEConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.encoder = Encoder(config, rngs=rngs)
        self.decoder = Decoder(config, rngs=rngs)

    def __call__(self, x: jax.Array, *, key: jax.Array, reference: bool = False):
        """``(logits, mean, logvar, z)`` with ``z`` a reparameterised sample of q(z|x)."""
        mean, logvar = self.encoder(x, reference=reference)
        z = reparameterize(mean, logvar, key=key)
        return self.decoder(z, reference=reference), mean, logvar, z


class Discriminator(nnx.Module):
    """FactorVAE's MLP: latent -> 2 logits (0: sample of q(z), 1: permuted, i.e. of ∏ q(z_j))."""

    def __init__(self, config: VAEConfig, *, rngs: nnx.Rngs):
        sizes = (config.latent,) + (config.disc_hidden,) * config.disc_layers
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = nnx.Linear(sizes[-1], 2, rngs=rngs)

    def __call__(self, z: jax.Array) -> jax.Array:
        for layer in self.layers:
            z = jax.nn.leaky_relu(layer(z), 0.2)
        return self.out(z)


# -- pure losses -----------------------------------------------------------------------


def reparameterize(mean: jax.Array, logvar: jax.Array, *, key: jax.Array) -> jax.Array:
    """z = mean + exp(logvar/2)·ε, ε ~ N(0, I) (Kingma & Welling 2014)."""
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per unit, ``(n, d)`` (Kingma & Welling 2014, app. B)."""
    return 0.5 * (jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0)


def bernoulli_nll(logits: jax.Array, x: jax.Array) -> jax.Array:
    """−log p(x|z) per image for Bernoulli pixels given logits, ``(n,)`` (x in [0, 1])."""
    return optax.sigmoid_binary_cross_entropy(logits, x).reshape(x.shape[0], -1).sum(axis=1)


def gaussian_nll(logits: jax.Array, x: jax.Array, std: float) -> jax.Array:
    """−log p(x|z) per image for Gaussian pixels with mean sigmoid(logits) and fixed ``std``, ``(n,)``."""
    std = jnp.asarray(std, x.dtype)
    err = jnp.square((x - jax.nn.sigmoid(logits)) / std) + 2.0 * jnp.log(std) + jnp.asarray(LOG_2PI, x.dtype)
    return 0.5 * err.reshape(x.shape[0], -1).sum(axis=1)


def beta_vae_loss(nll: jax.Array, mean: jax.Array, logvar: jax.Array, beta: float) -> jax.Array:
    """−ELBO with the KL weighted by β: mean over the batch of nll + β·Σ_j KL_j (Higgins et al. 2017)."""
    return jnp.mean(nll + beta * gaussian_kl(mean, logvar).sum(axis=1))


def log_normal(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Elementwise log N(z; mean, exp(logvar))."""
    return -0.5 * (jnp.asarray(LOG_2PI, z.dtype) + logvar + jnp.square(z - mean) * jnp.exp(-logvar))


def total_correlation_mws(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Minibatch-weighted-sampling estimate of TC = KL(q(z) || ∏_j q(z_j)) (Chen et al. 2018, eq. 5).

    q(z_i) ≈ (1/M) Σ_k q(z_i | x_k) over the M batch members, likewise for each
    marginal q(z_ij). Chen et al. weight by 1/(NM) (N = dataset size), which adds
    the constant (d − 1)·log N to the estimate; it carries no gradient, and without
    it the estimate is ≈ 0 for a factorised q(z), so it is left out.
    """
    m, d = z.shape
    logq = log_normal(z[:, None, :], mean[None], logvar[None])  # (i, k, j): log q(z_ij | x_k)
    log_m = jnp.log(jnp.asarray(m, z.dtype))
    log_qz = jax.nn.logsumexp(logq.sum(axis=2), axis=1) - log_m
    log_prod = (jax.nn.logsumexp(logq, axis=1) - log_m).sum(axis=1)
    return jnp.mean(log_qz - log_prod)


def beta_tcvae_loss(nll, mean, logvar, z, beta: float) -> jax.Array:
    """β-TCVAE: −ELBO + (β − 1)·TC, i.e. the TC term of the ELBO weighted by β (Chen et al. 2018)."""
    return beta_vae_loss(nll, mean, logvar, 1.0) + (beta - 1.0) * total_correlation_mws(z, mean, logvar)


def permute_dims(z: jax.Array, *, key: jax.Array) -> jax.Array:
    """Shuffle each latent dimension independently across the batch: samples of ∏_j q(z_j) (Kim & Mnih 2018, alg. 1)."""
    keys = jax.random.split(key, z.shape[1])
    return jax.vmap(lambda k, col: jax.random.permutation(k, col), in_axes=(0, 1), out_axes=1)(keys, z)


def factor_vae_tc(logits: jax.Array) -> jax.Array:
    """Density-ratio TC estimate E[log D(z) − log(1 − D(z))] from discriminator logits (Kim & Mnih 2018, eq. 3)."""
    return jnp.mean(logits[:, 0] - logits[:, 1])


def factor_vae_disc_loss(logits_q: jax.Array, logits_perm: jax.Array) -> jax.Array:
    """Discriminator cross-entropy: class 0 for q(z) samples, class 1 for permuted ones (Kim & Mnih 2018)."""
    zeros = jnp.zeros((logits_q.shape[0],), jnp.int32)
    ce = optax.softmax_cross_entropy_with_integer_labels
    return 0.5 * (jnp.mean(ce(logits_q, zeros)) + jnp.mean(ce(logits_perm, zeros + 1)))


def dip_covariance(mean: jax.Array, logvar: jax.Array, variant: Literal[1, 2]) -> jax.Array:
    """Cov[q(z)] estimated on the batch: DIP-I uses Cov[μ(x)], DIP-II adds E[Σ(x)] (Kumar et al. 2018, eqs. 5–6)."""
    centred = mean - mean.mean(axis=0)
    cov = centred.T @ centred / jnp.asarray(mean.shape[0], mean.dtype)
    return cov if variant == 1 else cov + jnp.diag(jnp.exp(logvar).mean(axis=0))


def dip_penalty(cov: jax.Array, lambda_od: float, lambda_d: float) -> jax.Array:
    """λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)²: zero exactly when C = I (Kumar et al. 2018)."""
    diag = jnp.diagonal(cov)
    off = cov - jnp.diag(diag)
    return lambda_od * jnp.sum(jnp.square(off)) + lambda_d * jnp.sum(jnp.square(diag - 1.0))


def capacity(step: jax.Array, capacity_max: float, capacity_steps: int) -> jax.Array:
    """AnnealedVAE's target KL at ``step``: ``C_max · min(1, step / capacity_steps)`` nats (Burgess et al. 2018)."""
    frac = jnp.minimum(jnp.asarray(step, jnp.float32) / jnp.float32(capacity_steps), jnp.float32(1.0))
    return jnp.float32(capacity_max) * frac


def annealed_vae_loss(nll: jax.Array, mean: jax.Array, logvar: jax.Array, gamma: float, c: jax.Array) -> jax.Array:
    """Mean nll + γ·|KL − C|, KL = batch mean of Σ_j KL_j (Burgess et al. 2018, eq. 8; as disentanglement_lib)."""
    kl = jnp.mean(gaussian_kl(mean, logvar).sum(axis=1))
    return jnp.mean(nll) + gamma * jnp.abs(kl - c)


def reconstruction_nll(config: VAEConfig, logits: jax.Array, x: jax.Array) -> jax.Array:
    """Per-image −log p(x|z) under the configured likelihood."""
    if config.likelihood == "bernoulli":
        return bernoulli_nll(logits, x)
    return gaussian_nll(logits, x, config.gaussian_std)


# -- training task -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VAETask:
    """A :func:`~genstyle_causal.train.fit` task for every objective of :class:`VAEConfig`.

    ``state.params`` is ``{"vae": nnx.State}`` (plus ``"disc"`` for FactorVAE, whose
    discriminator is updated in the same ``train_step``). ``reference=True`` uses the
    textbook strided/transposed convolutions (for benchmarks).
    """

    config: VAEConfig = VAEConfig()
    reference: bool = False

    @functools.cached_property
    def graphdefs(self) -> dict:
        abstract = nnx.eval_shape(lambda: self._networks(jax.random.PRNGKey(0)))
        return {name: nnx.split(net)[0] for name, net in abstract.items()}

    def _networks(self, key) -> dict:
        k_vae, k_disc = jax.random.split(key)
        nets = {"vae": VAE(self.config, rngs=nnx.Rngs(k_vae))}
        if self.config.objective == "factor":
            nets["disc"] = Discriminator(self.config, rngs=nnx.Rngs(k_disc))
        return nets

    @property
    def optimizers(self) -> dict:
        c = self.config
        opts = {"vae": optax.adam(c.learning_rate)}
        if c.objective == "factor":
            opts["disc"] = optax.adam(c.disc_learning_rate, b1=0.5, b2=0.9)
        return opts

    def init(self, key: jax.Array) -> TrainState:
        k_init, k_state = jax.random.split(key)
        params = {name: nnx.state(net, nnx.Param) for name, net in self._networks(k_init).items()}
        opt_state = {name: opt.init(params[name]) for name, opt in self.optimizers.items()}
        return TrainState.create(params, opt_state, key=k_state)

    def model(self, params) -> VAE:
        """The :class:`VAE` holding ``params["vae"]`` (e.g. ``state.params``)."""
        return nnx.merge(self.graphdefs["vae"], params["vae"])

    def loss(self, params, x: jax.Array, *, key: jax.Array, step: jax.Array = 0):
        """``(loss, (metrics, z))`` of the VAE objective on images ``x`` at training ``step``
        (only AnnealedVAE's capacity depends on it)."""
        c = self.config
        logits, mean, logvar, z = self.model(params)(x, key=key, reference=self.reference)
        nll = reconstruction_nll(c, logits, x)
        kl = gaussian_kl(mean, logvar)
        metrics = {"recon": jnp.mean(nll), "kl": jnp.mean(kl.sum(axis=1))}
        if c.objective == "beta":
            loss = beta_vae_loss(nll, mean, logvar, c.beta)
        elif c.objective == "betatc":
            loss = beta_tcvae_loss(nll, mean, logvar, z, c.beta)
            metrics["tc"] = total_correlation_mws(z, mean, logvar)
        elif c.objective == "factor":
            disc = nnx.merge(self.graphdefs["disc"], params["disc"])
            tc = factor_vae_tc(disc(z))
            loss = beta_vae_loss(nll, mean, logvar, 1.0) + c.gamma * tc
            metrics["tc"] = tc
        elif c.objective == "annealed":
            target = capacity(step, c.capacity_max, c.capacity_steps)
            loss = annealed_vae_loss(nll, mean, logvar, c.capacity_gamma, target)
            metrics["capacity"] = target
        else:
            cov = dip_covariance(mean, logvar, 1 if c.objective == "dip1" else 2)
            penalty = dip_penalty(cov, c.lambda_od, c.lambda_d)
            loss = beta_vae_loss(nll, mean, logvar, c.beta) + penalty
            metrics["dip"] = penalty
        return loss, (metrics, z)

    def train_step(self, state: TrainState, batch: jax.Array):
        """One update of the VAE (and, for FactorVAE, of its discriminator on the same batch)."""
        key = state.model_key()
        k_loss, k_perm = jax.random.split(key)
        vae_loss = lambda p: self.loss({**state.params, "vae": p}, batch, key=k_loss, step=state.step)
        (loss, (metrics, z)), grads = jax.value_and_grad(vae_loss, has_aux=True)(state.params["vae"])
        params, opt_state = dict(state.params), dict(state.opt_state)
        params["vae"], opt_state["vae"] = apply_optimizer(
            self.optimizers["vae"], grads, state.opt_state["vae"], state.params["vae"]
        )
        if self.config.objective == "factor":
            z = jax.lax.stop_gradient(z)

            def disc_loss(p):
                disc = nnx.merge(self.graphdefs["disc"], p)
                return factor_vae_disc_loss(disc(z), disc(permute_dims(z, key=k_perm)))

            d_loss, d_grads = jax.value_and_grad(disc_loss)(state.params["disc"])
            params["disc"], opt_state["disc"] = apply_optimizer(
                self.optimizers["disc"], d_grads, state.opt_state["disc"], state.params["disc"]
            )
            metrics["disc"] = d_loss
        return state.next(params, opt_state), {"loss": loss, **metrics}

    def eval_step(self, state: TrainState, batch: jax.Array):
        loss, (metrics, _) = self.loss(state.params, batch, key=state.model_key(), step=state.step)
        return {"loss": loss, **metrics}


# -- generator for the causal module ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DecoderStage:
    """Stage function ``(params, h) -> h`` of one named decoder layer (hashable: no recompiles)."""

    graphdef: nnx.GraphDef
    name: str

    def __call__(self, params, h):
        y = nnx.merge(self.graphdef, params).stage(self.name, h)
        return jax.nn.sigmoid(y) if self.name == "image" else y


@dataclasses.dataclass(frozen=True)
class StandardNormal:
    """The VAE prior N(0, I) as ``prior(key, n) -> z``."""

    dim: int

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, self.dim), jnp.float32)


def vae_generator(model: VAE, *, name: str = "vae") -> Generator:
    """The decoder as a staged :class:`Generator`: ``dense1, dense2, up1.., image`` (image = mean in [0, 1])."""
    graphdef, params = nnx.split(model.decoder)
    stages = [Stage(s, DecoderStage(graphdef, s)) for s in model.decoder.stage_names]
    latent = model.config.latent
    return Generator(
        stages, params, latent_names=[f"z{i}" for i in range(latent)], prior=StandardNormal(latent), name=name
    )
