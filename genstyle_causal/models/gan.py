"""GANs: DCGAN generator/discriminator, non-saturating and WGAN-GP losses, InfoGAN codes.

* DCGAN (Radford et al. 2016): a dense layer to a 4×4 map, then stride-2
  upsampling convolutions to the image; a mirror-image strided-conv discriminator.
* Non-saturating loss (Goodfellow et al. 2014): D minimises
  ``softplus(-D(x)) + softplus(D(G(z)))``, G minimises ``softplus(-D(G(z)))``.
* WGAN-GP (Gulrajani et al. 2017): critic loss ``E D(G(z)) - E D(x) + λ E(‖∇D(x̂)‖ - 1)²``
  on random interpolates ``x̂``, generator loss ``-E D(G(z))``.
* InfoGAN (Chen et al. 2016): part of the latent is a set of codes (categorical
  ``cat0..``, continuous uniform ``c0..``); an auxiliary head Q on the
  discriminator's features predicts them and both networks maximise the
  variational lower bound ``L_I = H(c) + E log Q(c | G(z, c))`` on their mutual
  information. These codes are the named latent units an audit intervenes on.

The latent vector a :class:`~genstyle_causal.generator.Generator` sees is
``[cat0.., c0.., noise0..]``; a categorical unit holds the category *index* as a
float (so ``Do("cat0", 2.0)`` selects category 2) and is one-hot encoded inside the
first stage with a hat function, which interpolates linearly between categories.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Callable, Literal, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from ..data.base import GroundTruthData
from ..errors import ConfigError
from ..generator import Generator, Stage
from ..train import ImageBatches, TrainConfig, TrainState, apply_optimizer, fit
from .layers import Down, Up

LOSSES = ("nonsaturating", "wgan-gp")


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """A GAN's architecture, latent layout, loss and optimisers.

    Attributes:
      image_shape: ``(H, W, C)`` with ``H == W == 4·2^k`` (k ≥ 1): 8, 16, 32, 64, 128…
      noise_dim: unstructured Gaussian noise units ``noise0..``.
      categorical: number of categories of each InfoGAN categorical code ``cat0..``.
      continuous: number of InfoGAN continuous codes ``c0..`` (uniform on [-1, 1]).
      width: channels of the generator's last hidden stage and of the discriminator's
        first conv; each step towards 4×4 doubles them (64×64, width 32: the
        generator has 256, 128, 64, 32 channels, the discriminator 32, 64, 128, 256).
      loss: ``"nonsaturating"`` or ``"wgan-gp"``.
      gp_weight: λ of the gradient penalty (WGAN-GP only; 10 in the paper).
      info_weight: weight of the InfoGAN mutual-information loss (1 in the paper).
      lr_generator, lr_discriminator, beta1, beta2: Adam settings of each network
        (DCGAN: 2e-4, β1 0.5; WGAN-GP: 1e-4, β1 0.5, β2 0.9).
    """

    image_shape: tuple[int, int, int] = (64, 64, 1)
    noise_dim: int = 62
    categorical: tuple[int, ...] = ()
    continuous: int = 0
    width: int = 32
    loss: Literal["nonsaturating", "wgan-gp"] = "nonsaturating"
    gp_weight: float = 10.0
    info_weight: float = 1.0
    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "categorical", tuple(int(k) for k in self.categorical))
        h, w, c = self.image_shape if len(self.image_shape) == 3 else (0, 0, 0)
        if h != w or h < 8 or h & (h - 1) or c < 1:
            raise ConfigError(
                f"GANConfig.image_shape must be (S, S, C) with S a power of two ≥ 8 and C ≥ 1; got {self.image_shape}"
            )
        if self.noise_dim < 0 or self.continuous < 0 or any(k < 2 for k in self.categorical):
            raise ConfigError(
                "GANConfig: noise_dim and continuous must be ≥ 0 and each categorical code needs ≥ 2 categories; "
                f"got noise_dim={self.noise_dim}, continuous={self.continuous}, categorical={self.categorical}"
            )
        if self.latent_dim == 0:
            raise ConfigError("GANConfig.noise_dim: the latent is empty (no noise, no codes); use noise_dim ≥ 1")
        if self.width < 1:
            raise ConfigError(f"GANConfig.width must be ≥ 1; got {self.width}")
        if self.loss not in LOSSES:
            raise ConfigError(f"GANConfig.loss must be one of {LOSSES}; got {self.loss!r}")
        for name in ("gp_weight", "info_weight", "lr_generator", "lr_discriminator"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"GANConfig.{name} must be ≥ 0; got {getattr(self, name)!r}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"GANConfig.{name} must lie in [0, 1); got {getattr(self, name)!r}")

    @property
    def num_upsamples(self) -> int:
        """Stride-2 steps between the 4×4 map and the image."""
        return int(math.log2(self.image_shape[0])) - 2

    @property
    def num_codes(self) -> int:
        return len(self.categorical) + self.continuous

    @property
    def latent_dim(self) -> int:
        return self.num_codes + self.noise_dim

    @property
    def latent_names(self) -> tuple[str, ...]:
        return (
            tuple(f"cat{i}" for i in range(len(self.categorical)))
            + tuple(f"c{i}" for i in range(self.continuous))
            + tuple(f"noise{i}" for i in range(self.noise_dim))
        )

    @property
    def unit_groups(self) -> dict[str, tuple[int, ...]]:
        """``codes`` (the InfoGAN units) and ``noise``, for audits that treat them apart."""
        groups = {"codes": tuple(range(self.num_codes)), "noise": tuple(range(self.num_codes, self.latent_dim))}
        return {k: v for k, v in groups.items() if v}


# -- latent ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LatentPrior:
    """``prior(key, n) -> z (n, latent_dim)``: categories uniform, codes U(-1, 1), noise N(0, 1)."""

    config: GANConfig

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        c = self.config
        k_cat, k_cont, k_noise = jax.random.split(key, 3)
        cats = [
            jax.random.randint(k, (n,), 0, size).astype(jnp.float32)
            for k, size in zip(jax.random.split(k_cat, max(1, len(c.categorical))), c.categorical)
        ]
        cont = jax.random.uniform(k_cont, (n, c.continuous), jnp.float32, -1.0, 1.0)
        noise = jax.random.normal(k_noise, (n, c.noise_dim), jnp.float32)
        return jnp.concatenate([jnp.stack(cats, axis=1) if cats else cont[:, :0], cont, noise], axis=1)


def hat_one_hot(index: jax.Array, size: int) -> jax.Array:
    """``(n,) -> (n, size)``: the one-hot code of an integer index, linear in between.

    ``max(0, 1 - |index - k|)`` equals ``one_hot(index)`` at integers, so a
    category is selected exactly, and an intervention to 1.5 mixes categories 1 and 2.
    """
    k = jnp.arange(size, dtype=jnp.float32)
    return jnp.maximum(0.0, 1.0 - jnp.abs(jnp.clip(index, 0, size - 1)[:, None] - k[None]))


def encode_latent(config: GANConfig, z: jax.Array) -> jax.Array:
    """The generator's input ``(n, Σ categories + continuous + noise)`` from the named latent."""
    k = len(config.categorical)
    onehots = [hat_one_hot(z[:, i], size) for i, size in enumerate(config.categorical)]
    return jnp.concatenate(onehots + [z[:, k:]], axis=1)


# -- losses --------------------------------------------------------------------------


def nonsaturating_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """``E softplus(-D(x)) + E softplus(D(G(z)))`` = BCE of real vs fake (Goodfellow et al. 2014)."""
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def nonsaturating_g_loss(fake_logits: jax.Array) -> jax.Array:
    """``E softplus(-D(G(z))) = -E log σ(D(G(z)))``, the non-saturating generator loss."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


def wasserstein_d_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
    """``E D(G(z)) - E D(x)``, the critic's loss before the penalty (Arjovsky et al. 2017)."""
    return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wasserstein_g_loss(fake_scores: jax.Array) -> jax.Array:
    return -jnp.mean(fake_scores)


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array, *, key) -> jax.Array:
    """``E (‖∇D(x̂)‖₂ - 1)²`` at ``x̂ = ε x + (1 - ε) G(z)``, ``ε ~ U(0, 1)`` per sample (Gulrajani et al. 2017)."""
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
    mixed = eps * real + (1 - eps) * fake
    grads = jax.grad(lambda x: jnp.sum(critic(x)))(mixed)
    norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1) + 1e-12)
    return jnp.mean((norms - 1.0) ** 2)


def code_entropy(config: GANConfig) -> float:
    """``H(c)`` of the InfoGAN codes: ``Σ log K`` (uniform categories) + ``log 2`` per U(-1, 1) code."""
    return float(sum(math.log(k) for k in config.categorical) + config.continuous * math.log(2.0))


def info_log_likelihood(config: GANConfig, q_out: jax.Array, z: jax.Array) -> jax.Array:
    """``E log Q(c | x)``: categorical log-softmax plus a unit-variance Gaussian per continuous code.

    Q's continuous part has fixed unit standard deviation as in the InfoGAN
    reference setup; the MI lower bound is ``code_entropy + this``.
    """
    k = len(config.categorical)
    total, offset = jnp.zeros((), jnp.float32), 0
    for i, size in enumerate(config.categorical):
        logp = jax.nn.log_softmax(q_out[:, offset : offset + size], axis=1)
        label = jnp.clip(jnp.round(z[:, i]), 0, size - 1).astype(jnp.int32)
        total = total + jnp.mean(jnp.take_along_axis(logp, label[:, None], axis=1))
        offset += size
    mean = q_out[:, offset : offset + config.continuous]
    gauss = -0.5 * math.log(2 * math.pi) - 0.5 * (z[:, k : k + config.continuous] - mean) ** 2
    return total + jnp.sum(jnp.mean(gauss, axis=0))


def info_lower_bound(config: GANConfig, q_out: jax.Array, z: jax.Array) -> jax.Array:
    """The variational MI bound ``L_I = H(c) + E log Q(c | x) ≤ I(c; x)`` (Chen et al. 2016, eq. 4)."""
    return code_entropy(config) + info_log_likelihood(config, q_out, z)


# -- networks ------------------------------------------------------------------------


def pixel_norm(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018, "PixelNorm").

    Used instead of DCGAN's batch norm: it has no state and treats every sample
    alone, so intervening on one sample of a batch never changes another.
    """
    return x * jax.lax.rsqrt(jnp.mean(x**2, axis=-1, keepdims=True) + eps)


class DCGANGenerator(nnx.Module):
    """Latent ``(n, latent_dim)`` -> images ``(n, S, S, C)`` in [0, 1], in named stages.

    Stages: ``dense`` (4×4 map), ``up1..up{k-1}`` (each doubles the size, halves the
    channels; ReLU after PixelNorm), ``image`` (last 4×4 stride-2 transposed conv,
    sigmoid). Upsampling uses the fast sub-pixel :class:`~.layers.Up`.
    """

    def __init__(self, config: GANConfig, *, rngs: nnx.Rngs):
        self.config = config
        k = config.num_upsamples
        chans = [config.width * 2 ** (k - 1 - i) for i in range(k)]
        inputs = sum(config.categorical) + config.continuous + config.noise_dim
        self.dense = nnx.Linear(inputs, 16 * chans[0], rngs=rngs)
        self.ups = nnx.List([Up(a, b, rngs=rngs) for a, b in zip(chans[:-1], chans[1:])])
        self.out = Up(chans[-1], config.image_shape[2], rngs=rngs)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return ("dense",) + tuple(f"up{i + 1}" for i in range(len(self.ups))) + ("image",)

    def stage(self, i: int, h: jax.Array) -> jax.Array:
        """Apply stage number ``i`` (see :attr:`stage_names`)."""
        if i == 0:
            x = self.dense(encode_latent(self.config, h))
            return jax.nn.relu(pixel_norm(x.reshape(h.shape[0], 4, 4, -1)))
        if i <= len(self.ups):
            return jax.nn.relu(pixel_norm(self.ups[i - 1](h)))
        return jax.nn.sigmoid(self.out(h))

    def __call__(self, z: jax.Array) -> jax.Array:
        for i in range(len(self.stage_names)):
            z = self.stage(i, z)
        return z


class DCGANDiscriminator(nnx.Module):
    """Images -> ``(score (n,), features (n, f))``; :meth:`q` is the InfoGAN head on the features.

    4×4 stride-2 convs (fast :class:`~.layers.Down`) with leaky ReLU 0.2 and no
    normalisation (batch norm would break WGAN-GP's per-sample gradient penalty).
    The score and Q output layers start at zero, so a fresh discriminator scores
    every image 0 (D(x) = ½) and a fresh Q predicts uniform categories.
    """

    def __init__(self, config: GANConfig, *, rngs: nnx.Rngs):
        self.config = config
        chans = [config.image_shape[2]] + [config.width * 2**i for i in range(config.num_upsamples)]
        self.downs = nnx.List([Down(a, b, rngs=rngs) for a, b in zip(chans[:-1], chans[1:])])
        features = 16 * chans[-1]
        zeros = nnx.initializers.zeros_init()
        self.score = nnx.Linear(features, 1, kernel_init=zeros, rngs=rngs)
        if config.num_codes:
            self.q_hidden = nnx.Linear(features, 128, rngs=rngs)
            self.q_out = nnx.Linear(128, sum(config.categorical) + config.continuous, kernel_init=zeros, rngs=rngs)

    def features(self, images: jax.Array) -> jax.Array:
        x = 2.0 * images - 1.0
        for down in self.downs:
            x = jax.nn.leaky_relu(down(x), 0.2)
        return x.reshape(x.shape[0], -1)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        f = self.features(images)
        return self.score(f)[:, 0], f

    def q(self, features: jax.Array) -> jax.Array:
        """InfoGAN Q: category logits then continuous-code means, ``(n, Σ categories + continuous)``."""
        return self.q_out(jax.nn.leaky_relu(self.q_hidden(features), 0.2))


# -- the staged generator for audits --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _GeneratorStage:
    """Stage ``index`` of a generator graph: a hashable, stable stage function."""

    graphdef: nnx.GraphDef
    index: int

    def __call__(self, params, h):
        return nnx.merge(self.graphdef, params).stage(self.index, h)


def gan_generator(model: DCGANGenerator, *, name: str | None = None) -> Generator:
    """The generator as a :class:`~genstyle_causal.generator.Generator`.

    Latent units ``cat0.., c0.., noise0..``; stages ``dense, up1.., image`` (NHWC
    feature maps, channels last); ``unit_groups`` ``codes`` and ``noise``.
    """
    graphdef, params = nnx.split(model)
    config = model.config
    stages = [Stage(s, _GeneratorStage(graphdef, i)) for i, s in enumerate(model.stage_names)]
    return Generator(
        stages,
        params,
        latent_names=config.latent_names,
        prior=LatentPrior(config),
        unit_groups=config.unit_groups,
        name=name or ("infogan" if config.num_codes else "dcgan"),
    )


# -- training ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GANTask:
    """A GAN as a :func:`~genstyle_causal.train.fit` task; batches are real images ``(n, S, S, C)``.

    ``params`` and ``opt_state`` are dicts ``{"generator": …, "discriminator": …}``
    with one Adam per network. Each ``train_step`` first updates the
    discriminator (and the InfoGAN Q head it carries), then the generator
    against the updated discriminator; both minimise the InfoGAN loss
    ``-E log Q(c | G(z, c))``. Latents, the interpolation of the gradient
    penalty and the data use independent keys derived from ``(state.key, step)``.
    One critic update per generator update, also for WGAN-GP (the paper uses 5):
    one batch per step keeps every step the same pure function of the data key.
    """

    config: GANConfig = GANConfig()

    @functools.cached_property
    def graphdefs(self) -> dict:
        g, d = nnx.eval_shape(lambda: self.networks(jax.random.key(0)))
        return {"generator": nnx.graphdef(g), "discriminator": nnx.graphdef(d)}

    def networks(self, key: jax.Array) -> tuple[DCGANGenerator, DCGANDiscriminator]:
        k_g, k_d = jax.random.split(key)
        return (
            DCGANGenerator(self.config, rngs=nnx.Rngs(params=k_g)),
            DCGANDiscriminator(self.config, rngs=nnx.Rngs(params=k_d)),
        )

    @functools.cached_property
    def optimizers(self) -> dict[str, optax.GradientTransformation]:
        c = self.config
        return {
            "generator": optax.adam(c.lr_generator, c.beta1, c.beta2),
            "discriminator": optax.adam(c.lr_discriminator, c.beta1, c.beta2),
        }

    def init(self, key: jax.Array) -> TrainState:
        return jax.jit(self._init)(key)

    def _init(self, key):
        g, d = self.networks(key)
        params = {"generator": nnx.state(g), "discriminator": nnx.state(d)}
        opt_state = {k: self.optimizers[k].init(v) for k, v in params.items()}
        return TrainState.create(params, opt_state, key=key)

    def generate(self, g_params, z: jax.Array) -> jax.Array:
        return nnx.merge(self.graphdefs["generator"], g_params)(z)

    def discriminate(self, d_params, images: jax.Array):
        return nnx.merge(self.graphdefs["discriminator"], d_params)(images)

    def _info_loss(self, d_params, features, z):
        if not self.config.num_codes:
            return jnp.zeros((), jnp.float32)
        q = nnx.merge(self.graphdefs["discriminator"], d_params).q(features)
        return -info_log_likelihood(self.config, q, z)

    def d_loss(self, d_params, g_params, real, z, *, key) -> tuple[jax.Array, dict]:
        """Discriminator (critic) objective on one batch; returns ``(total, metrics)``."""
        c = self.config
        fake = jax.lax.stop_gradient(self.generate(g_params, z))
        real_scores, _ = self.discriminate(d_params, real)
        fake_scores, features = self.discriminate(d_params, fake)
        if c.loss == "wgan-gp":
            adv = wasserstein_d_loss(real_scores, fake_scores)
            penalty = gradient_penalty(lambda x: self.discriminate(d_params, x)[0], real, fake, key=key)
        else:
            adv, penalty = nonsaturating_d_loss(real_scores, fake_scores), jnp.zeros((), jnp.float32)
        info = self._info_loss(d_params, features, z)
        metrics = {"d_loss": adv, "gp": penalty, "d_real": real_scores.mean(), "d_fake": fake_scores.mean()}
        return adv + c.gp_weight * penalty + c.info_weight * info, metrics

    def g_loss(self, g_params, d_params, z) -> tuple[jax.Array, dict]:
        """Generator objective against a fixed discriminator; returns ``(total, metrics)``."""
        c = self.config
        scores, features = self.discriminate(d_params, self.generate(g_params, z))
        adv = wasserstein_g_loss(scores) if c.loss == "wgan-gp" else nonsaturating_g_loss(scores)
        info = self._info_loss(d_params, features, z)
        return adv + c.info_weight * info, {"g_loss": adv, "info_bound": code_entropy(c) - info}

    def train_step(self, state: TrainState, batch: jax.Array) -> tuple[TrainState, dict]:
        prior = LatentPrior(self.config)
        k_d, k_g, k_gp = jax.random.split(state.model_key(), 3)
        n = batch.shape[0]
        p, o = state.params, state.opt_state
        (_, d_metrics), d_grads = jax.value_and_grad(self.d_loss, has_aux=True)(
            p["discriminator"], p["generator"], batch, prior(k_d, n), key=k_gp
        )
        d_params, d_opt = apply_optimizer(self.optimizers["discriminator"], d_grads, o["discriminator"], p["discriminator"])
        (_, g_metrics), g_grads = jax.value_and_grad(self.g_loss, has_aux=True)(p["generator"], d_params, prior(k_g, n))
        g_params, g_opt = apply_optimizer(self.optimizers["generator"], g_grads, o["generator"], p["generator"])
        params = {"generator": g_params, "discriminator": d_params}
        return state.next(params, {"generator": g_opt, "discriminator": d_opt}), {**d_metrics, **g_metrics}

    def generator(self, state: TrainState) -> Generator:
        """The trained generator of ``state`` as a staged :class:`~genstyle_causal.generator.Generator`."""
        return gan_generator(nnx.merge(self.graphdefs["generator"], state.params["generator"]))

    def info_encoder(self, state: TrainState) -> "InfoEncoder":
        """InfoGAN's Q head as an encoder ``images -> codes`` for the disentanglement metrics."""
        if not self.config.num_codes:
            raise ConfigError("info_encoder needs InfoGAN codes (GANConfig.categorical or continuous); this GAN has none")
        return InfoEncoder(self.graphdefs["discriminator"], state.params["discriminator"], self.config)


@jax.tree_util.register_pytree_node_class
class InfoEncoder:
    """``images -> codes (n, num_codes)``: Q's most likely category per categorical code, then the continuous means.

    The codes sit in the generator's latent layout (``cat0.., c0..``), so the
    metrics score the InfoGAN codes as they would any encoder's. A pytree
    (params are leaves), pure and jit-able.
    """

    def __init__(self, graphdef, params, config: GANConfig):
        self.graphdef, self.params, self.config = graphdef, params, config

    def tree_flatten(self):
        return (self.params,), (self.graphdef, self.config)

    @classmethod
    def tree_unflatten(cls, static, children):
        return cls(static[0], children[0], static[1])

    def __call__(self, images: jax.Array) -> jax.Array:
        return _info_codes(self, jnp.asarray(images, jnp.float32))


@jax.jit
def _info_codes(encoder: InfoEncoder, images: jax.Array) -> jax.Array:
    d = nnx.merge(encoder.graphdef, encoder.params)
    q = d.q(d.features(images))
    cols, offset = [], 0
    for size in encoder.config.categorical:
        cols.append(jnp.argmax(q[:, offset : offset + size], axis=1).astype(jnp.float32)[:, None])
        offset += size
    return jnp.concatenate(cols + [q[:, offset:]], axis=1)


def train_gan(
    data: GroundTruthData,
    config: GANConfig,
    *,
    key: jax.Array,
    steps: int,
    batch_size: int = 64,
    steps_per_call: int = 50,
    eval_every: int = 0,
    eval_hook: Callable[[Generator], Mapping[str, float]] | None = None,
    workdir: str | os.PathLike | None = None,
    progress: bool = False,
) -> tuple[GANTask, TrainState, list[dict]]:
    """Train a GAN on images rendered from ``data``; returns ``(task, state, history)``.

    ``key`` fixes the run (it becomes the loop's seed). Every ``eval_every``
    steps (rounded down to a multiple of ``steps_per_call``) ``eval_hook`` gets the current generator and its numbers go into the
    history as ``eval/<name>`` (e.g. a Fréchet feature distance against real
    images, to follow quality against steps). ``config.image_shape`` must be the
    dataset's.
    """
    if tuple(config.image_shape) != tuple(data.image_shape):
        raise ConfigError(f"GANConfig.image_shape {config.image_shape} differs from the {data.name} images {data.image_shape}")
    if int(batch_size) < 1:
        raise ConfigError(f"train_gan: batch_size must be a positive int; got {batch_size!r}")
    task = GANTask(config)
    spc = max(1, min(int(steps_per_call), int(steps)))
    every = spc * max(1, int(eval_every) // spc) if eval_every else 0  # fit evaluates between fused calls
    train = TrainConfig(steps=int(steps), seed=int(jax.random.randint(key, (), 0, 2**31 - 1)), steps_per_call=spc,
                        log_every=spc, eval_every=every, progress=progress)
    hook = None if eval_hook is None else (lambda state: eval_hook(task.generator(state)))
    state, history = fit(task, ImageBatches(data, int(batch_size)), train, workdir=workdir, eval_hook=hook)
    return task, state, history
