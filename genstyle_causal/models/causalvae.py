"""CausalVAE (Yang et al. 2021, CVPR): a VAE whose concept latents follow a learned structural causal model.

The model, for ``d`` labelled concepts (the pendulum's four variables):

* **Encoder** ``q(ε | x)``: a diagonal Gaussian over the exogenous noises ε (the
  conv encoder of :mod:`genstyle_causal.models.vae`).
* **Causal layer**: the linear SCM ``z = Aᵀ z + ε``, i.e. ``z = (I − Aᵀ)⁻¹ ε``,
  with a learnable weighted adjacency ``A`` (``A[j, i]`` is the edge j → i).
* **Mask layer**: each concept recomputed from its parents,
  ``c_i = g_i(A[:, i] ∘ z) + ε_i`` with ``g_i(x) = Σ x + h_i(x)``; ``h_i`` is a small
  MLP whose output layer starts at zero, so at initialisation the mask layer is
  exactly the linear SCM of ``A`` and ``h_i`` learns its nonlinear correction.
* **Decoder** ``p(x | c)`` (Bernoulli pixels), the VAE decoder on the concepts.

Training (the paper's loss with its released code's choices, each a pure function):
reconstruction + ``α`` KL(q(ε|x) ‖ N(0, I)) + ``β`` ½‖z − u‖² (the conditional
prior p(z | u) = N(u, I) on the standardised labels u) + ``γ`` ½‖c − u‖² +
``κ_u`` ‖u − g(A ∘ u)‖² (the mechanisms must explain the labels) + ``κ_m`` ½‖z − c‖²
(the mask layer agrees with the causal layer) + ``λ₁`` ‖A‖₁, with the NOTEARS
acyclicity constraint ``h(A) = tr(exp(A ∘ A)) − d = 0`` (Zheng et al. 2018) in an
augmented Lagrangian ``μ h(A) + ρ/2 h(A)²`` whose multiplier ``μ`` and penalty
``ρ`` are updated every ``dual_every`` steps inside the jitted step (dual ascent).
The SCM (``A`` and ``g``) learns from the label, sparsity and acyclicity terms
only; the image terms train the encoder and decoder around it
(:meth:`CausalVAETask.loss` says why).

As in the paper's released pendulum code, ``A`` starts from the complete DAG of
the concept order (causes listed first) and the losses prune the edges the
labels do not need. With ``edges="order"`` (default) that order is prior
knowledge: only forward edges are learnable, so ``A`` is acyclic by
construction. With ``edges="free"`` every off-diagonal edge is learnable and the
augmented Lagrangian keeps ``A`` acyclic; on the pendulum the labels alone then
do not identify edge directions (its mechanisms are deterministic and invertible
in each cause, so a reversed graph explains the labels as well).

The mask MLPs can rescale any nonzero ``A[j, i]``, so an edge is decided by the
learned mechanism's *direct effect* rather than by ``|A|``: ``j → i`` when the
mean absolute derivative ``E|∂g_i/∂u_j|`` over the labels reaches
``edge_threshold`` (standardised units; :meth:`CausalVAETask.edge_strength`). An
L1 penalty on ``A`` and an L2 penalty on the MLPs' first layers make unused edges fade.

The trained model is a *structural* generator (:func:`causalvae_generator`): its
latent units are the exogenous noises, its ``variables`` stage (:class:`LearnedSCM`)
solves the mask layer's SCM on the learned DAG and returns the concepts in the
dataset's units, and hard interventions ``do(c_i = v)`` act on any concept.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
from flax import nnx

from ..data.base import GroundTruthData
from ..errors import ConfigError, FactorError, UnitError
from ..generator import Generator, Stage
from ..structural import check_acyclic
from ..train import TrainState, apply_optimizer
from .vae import Decoder, DecoderStage, Encoder, VAEConfig, bernoulli_nll, gaussian_kl, reparameterize

EDGES = ("order", "free")


# -- the causal pieces, pure functions of the adjacency -------------------------------------


def acyclicity(adjacency: jax.Array) -> jax.Array:
    """NOTEARS ``h(A) = tr(exp(A ∘ A)) − d``: 0 exactly when the weighted graph of ``A`` has no cycle (Zheng et al. 2018)."""
    d = adjacency.shape[0]
    return jnp.trace(jax.scipy.linalg.expm(adjacency * adjacency)) - d


def causal_layer(adjacency: jax.Array, eps: jax.Array) -> jax.Array:
    """Concepts ``z (n, d)`` of the linear SCM ``z = Aᵀ z + ε``: ``z = (I − Aᵀ)⁻¹ ε`` for each row of ``eps``.

    In row form ``z = ε (I − A)⁻¹``, computed as a linear solve.
    """
    d = adjacency.shape[0]
    return jnp.linalg.solve(jnp.eye(d, dtype=eps.dtype) - adjacency.T, eps.T).T


def parent_inputs(adjacency: jax.Array, z: jax.Array) -> jax.Array:
    """``(n, d, d)``: entry ``[:, i, j] = A[j, i] z_j``, the parents of concept i weighted by their edges (``A[:, i] ∘ z``)."""
    return z[:, None, :] * adjacency.T[None]


class MaskLayer(nnx.Module):
    """``g_i(x) = Σ_j x_j + h_i(x)`` for every concept i at once; ``h_i`` is an MLP (ELU) whose last layer starts at zero."""

    def __init__(self, concepts: int, hidden: int, *, rngs: nnx.Rngs):
        init = nnx.initializers.lecun_normal()
        zeros = nnx.initializers.zeros_init()
        self.w1 = nnx.Param(init(rngs.params(), (concepts, concepts, hidden)))
        self.b1 = nnx.Param(jnp.zeros((concepts, hidden)))
        self.w2 = nnx.Param(zeros(rngs.params(), (concepts, hidden)))
        self.b2 = nnx.Param(jnp.zeros((concepts,)))

    def __call__(self, x: jax.Array) -> jax.Array:
        """Parent inputs ``(n, d, d)`` (see :func:`parent_inputs`) -> each concept's mechanism value ``(n, d)``."""
        hidden = jax.nn.elu(jnp.einsum("nij,ijh->nih", x, self.w1[...]) + self.b1[...])
        return x.sum(axis=-1) + jnp.einsum("nih,ih->ni", hidden, self.w2[...]) + self.b2[...]


def mask_layer(mask: MaskLayer, adjacency: jax.Array, z: jax.Array, eps: jax.Array) -> jax.Array:
    """``c_i = g_i(A[:, i] ∘ z) + ε_i``: every concept recomputed from its parents' values ``z``."""
    return mask(parent_inputs(adjacency, z)) + eps


def abduct(mask: MaskLayer, adjacency: jax.Array, concepts: jax.Array) -> jax.Array:
    """The exogenous noises that give ``concepts`` under the mask layer's SCM: ``ε = c − g(A ∘ c)``."""
    return concepts - mask(parent_inputs(adjacency, concepts))


# -- configuration and networks ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CausalVAEConfig:
    """Architecture, loss weights and optimiser of a CausalVAE.

    Attributes:
      image_shape, channels, hidden: the conv encoder/decoder (as :class:`~.vae.VAEConfig`).
      concepts: names of the labelled concepts, in the dataset's factor order.
      label_low, label_high: each concept's range; labels are standardised to
        [-1, 1] by it (``u = 2 (f − low) / (high − low) − 1``).
      mask_hidden: width of each mechanism MLP ``h_i``.
      edges: ``"order"`` (only edges forward in the concept order are learnable)
        or ``"free"`` (any off-diagonal edge, kept acyclic by the augmented Lagrangian).
      alpha, beta, gamma, label_weight, mask_weight, l1, mask_decay: weights of
        KL(q(ε|x)), ½‖z − u‖², ½‖c − u‖², ‖u − g(A∘u)‖², ½‖z − c‖², ‖A‖₁ and the
        squared first-layer weights of the mask MLPs. The paper's code weighs the
        two label terms by 1; on the 32-px pendulum 10 halved the concepts' misfit
        to the labels and lowered the counterfactual shadow-position error by a
        quarter (the learned graph is the same: the SCM learns from the labels only).
      rho, rho_growth, rho_max, dual_every: the augmented Lagrangian: start
        penalty, its growth factor at each dual update, its cap, steps between updates.
      edge_threshold: smallest direct effect ``E|∂g_i/∂u_j|`` that is an edge.
      learning_rate: Adam step size of the networks (the paper's 1e-3).
      adjacency_learning_rate: Adam step size of ``A``.
    """

    image_shape: tuple[int, int, int] = (64, 64, 3)
    channels: tuple[int, ...] = (32, 32, 64, 64)
    hidden: int = 256
    concepts: tuple[str, ...] = ("pendulum_angle", "light_angle", "shadow_position", "shadow_length")
    label_low: tuple[float, ...] = (-0.63, 0.94, -8.0, 3.0)
    label_high: tuple[float, ...] = (0.68, 2.31, 21.0, 15.0)
    mask_hidden: int = 32
    edges: str = "order"
    alpha: float = 0.3
    beta: float = 10.0
    gamma: float = 10.0
    label_weight: float = 10.0
    mask_weight: float = 1.0
    l1: float = 0.01
    mask_decay: float = 1e-3
    rho: float = 1.0
    rho_growth: float = 2.0
    rho_max: float = 1e4
    dual_every: int = 100
    edge_threshold: float = 0.1
    learning_rate: float = 1e-3
    adjacency_learning_rate: float = 1e-2

    def __post_init__(self):
        for name in ("image_shape", "channels", "concepts", "label_low", "label_high"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        d = len(self.concepts)
        if d < 2 or len(set(self.concepts)) != d:
            raise ConfigError(f"CausalVAEConfig.concepts needs at least two distinct names; got {self.concepts}")
        if len(self.label_low) != d or len(self.label_high) != d or not all(h > l for l, h in zip(self.label_low, self.label_high)):
            raise ConfigError(
                f"CausalVAEConfig.label_low/label_high need one range low < high per concept ({d}); "
                f"got {self.label_low} and {self.label_high}"
            )
        if self.edges not in EDGES:
            raise ConfigError(f"CausalVAEConfig.edges must be one of {EDGES}; got {self.edges!r}")
        for name in ("alpha", "beta", "gamma", "label_weight", "mask_weight", "l1", "mask_decay", "edge_threshold"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"CausalVAEConfig.{name} must be ≥ 0; got {getattr(self, name)!r}")
        for name in ("rho", "learning_rate", "adjacency_learning_rate", "rho_max"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"CausalVAEConfig.{name} must be > 0; got {getattr(self, name)!r}")
        if not self.rho_growth >= 1 or self.dual_every < 1 or self.mask_hidden < 1:
            raise ConfigError(
                "CausalVAEConfig: rho_growth must be ≥ 1, dual_every and mask_hidden ≥ 1; "
                f"got {self.rho_growth}, {self.dual_every}, {self.mask_hidden}"
            )
        self.vae_config  # validates the conv shapes

    @classmethod
    def for_data(cls, data: GroundTruthData, **overrides) -> "CausalVAEConfig":
        """A config whose concepts are ``data``'s factors, with their ranges and image shape."""
        return cls(
            image_shape=data.image_shape, concepts=data.factor_names,
            label_low=tuple(f.low for f in data.factors), label_high=tuple(f.high for f in data.factors), **overrides,
        )

    @property
    def num_concepts(self) -> int:
        return len(self.concepts)

    @functools.cached_property
    def vae_config(self) -> VAEConfig:
        """The encoder/decoder shapes, as a :class:`~.vae.VAEConfig` with one latent unit per concept."""
        return VAEConfig(image_shape=self.image_shape, channels=self.channels, hidden=self.hidden, latent=self.num_concepts)

    def standardize(self, values: jax.Array) -> jax.Array:
        """Concept values in the dataset's units -> [-1, 1] over each range."""
        low, high = jnp.asarray(self.label_low, jnp.float32), jnp.asarray(self.label_high, jnp.float32)
        return 2.0 * (values - low) / (high - low) - 1.0

    def unstandardize(self, u: jax.Array) -> jax.Array:
        low, high = jnp.asarray(self.label_low, jnp.float32), jnp.asarray(self.label_high, jnp.float32)
        return low + (u + 1.0) * (high - low) / 2.0

    def standardize_one(self, i: int, value) -> jax.Array:
        """One concept's value(s) in the dataset's units -> standardised units."""
        low, high = self.label_low[i], self.label_high[i]
        return 2.0 * (jnp.asarray(value, jnp.float32) - low) / (high - low) - 1.0

    def concept_index(self, concept: int | str) -> int:
        """Index of a concept by name or position; raises :class:`~genstyle_causal.errors.UnitError`."""
        if isinstance(concept, str) and concept in self.concepts:
            return self.concepts.index(concept)
        if not isinstance(concept, str) and 0 <= int(concept) < self.num_concepts:
            return int(concept)
        raise UnitError(f"unknown concept {concept!r}; valid concepts: {list(self.concepts)}")

    def edge_mask(self) -> jax.Array:
        """``(d, d)`` 0/1: which entries of ``A`` are learnable (forward in the concept order, or all off-diagonal)."""
        d = self.num_concepts
        ones = jnp.ones((d, d), jnp.float32)
        return jnp.triu(ones, 1) if self.edges == "order" else ones - jnp.eye(d, dtype=jnp.float32)


class CausalVAE(nnx.Module):
    """Encoder, adjacency ``A``, mask layer and decoder of :class:`CausalVAEConfig`."""

    def __init__(self, config: CausalVAEConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.encoder = Encoder(config.vae_config, rngs=rngs)
        self.weights = nnx.Param(jnp.triu(jnp.ones((config.num_concepts,) * 2, jnp.float32), 1))
        self.mask = MaskLayer(config.num_concepts, config.mask_hidden, rngs=rngs)
        self.decoder = Decoder(config.vae_config, rngs=rngs)

    @property
    def adjacency(self) -> jax.Array:
        """``A``: the learnable weights on the allowed edges (:meth:`CausalVAEConfig.edge_mask`), zero elsewhere."""
        return self.weights[...] * self.config.edge_mask()


# -- training -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CausalVAETask:
    """CausalVAE as a :func:`~genstyle_causal.train.fit` task; batches are ``(factors, images)`` (labels in the dataset's units).

    ``state.params`` is ``{"model": nnx.State, "dual": {"multiplier", "rho"}}``;
    only ``model`` is trained by gradient, ``dual`` follows the augmented
    Lagrangian's updates (see the module docstring).
    """

    config: CausalVAEConfig = CausalVAEConfig()

    @functools.cached_property
    def graphdef(self) -> nnx.GraphDef:
        return nnx.graphdef(nnx.eval_shape(lambda: CausalVAE(self.config, rngs=nnx.Rngs(0))))

    @property
    def optimizer(self) -> optax.GradientTransformation:
        """Adam on the networks, Adam at ``adjacency_learning_rate`` on ``A``'s weights."""
        c = self.config
        labels = lambda params: jax.tree_util.tree_map_with_path(  # noqa: E731
            lambda path, _: "adjacency" if getattr(path[0], "key", None) == "weights" else "networks", params
        )
        return optax.multi_transform({"networks": optax.adam(c.learning_rate), "adjacency": optax.adam(c.adjacency_learning_rate)}, labels)

    def init(self, key: jax.Array) -> TrainState:
        return jax.jit(self._init)(key)

    def _init(self, key):
        k_init, k_state = jax.random.split(key)
        model = nnx.state(CausalVAE(self.config, rngs=nnx.Rngs(params=k_init)), nnx.Param)
        dual = {"multiplier": jnp.zeros((), jnp.float32), "rho": jnp.asarray(self.config.rho, jnp.float32)}
        return TrainState.create({"model": model, "dual": dual}, self.optimizer.init(model), key=k_state)

    def model(self, params) -> CausalVAE:
        """The :class:`CausalVAE` holding ``params["model"]``."""
        return nnx.merge(self.graphdef, params["model"])

    def loss(self, model_params, dual, batch, *, key: jax.Array) -> tuple[jax.Array, dict]:
        """``(total, metrics)`` of one batch ``(factors, images)``; pure in every argument.

        The SCM (``A`` and the mechanisms ``g``) gets its gradient from the label
        fit, sparsity and acyclicity terms only; the image terms see it as fixed
        and train the encoder and decoder to read and draw its concepts. Joint
        gradients let the image terms pull ``A`` towards linear regressions of
        the labels, which starves the nonlinear mechanisms of the pendulum.
        """
        c = self.config
        factors, x = batch
        m = nnx.merge(self.graphdef, model_params)
        scm = nnx.merge(self.graphdef, jax.lax.stop_gradient(model_params))  # A and g as the image path sees them
        a = m.adjacency
        u = c.standardize(factors.astype(jnp.float32))
        mean, logvar = m.encoder(x)
        eps = reparameterize(mean, logvar, key=key)
        z = causal_layer(scm.adjacency, eps)
        concepts = mask_layer(scm.mask, scm.adjacency, z, eps)
        recon = jnp.mean(bernoulli_nll(m.decoder(concepts), x))
        kl = jnp.mean(gaussian_kl(mean, logvar).sum(axis=1))
        prior_z = 0.5 * jnp.mean(jnp.sum((z - u) ** 2, axis=1))
        prior_c = 0.5 * jnp.mean(jnp.sum((concepts - u) ** 2, axis=1))
        label = jnp.mean(jnp.sum(abduct(m.mask, a, u) ** 2, axis=1))
        consistency = 0.5 * jnp.mean(jnp.sum((z - concepts) ** 2, axis=1))
        h = acyclicity(a)
        sparsity = jnp.sum(jnp.abs(a))
        decay = jnp.sum(m.mask.w1[...] ** 2)
        total = (
            recon + c.alpha * kl + c.beta * prior_z + c.gamma * prior_c + c.label_weight * label
            + c.mask_weight * consistency + c.l1 * sparsity + c.mask_decay * decay
            + dual["multiplier"] * h + 0.5 * dual["rho"] * h * h
        )
        metrics = {"loss": total, "recon": recon, "kl": kl, "prior_z": prior_z, "prior_c": prior_c,
                   "label": label, "consistency": consistency, "acyclicity": h, "l1": sparsity}
        return total, metrics

    def train_step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        dual = state.params["dual"]
        grad_fn = jax.value_and_grad(self.loss, has_aux=True)
        (_, metrics), grads = grad_fn(state.params["model"], dual, batch, key=state.model_key())
        model, opt_state = apply_optimizer(self.optimizer, grads, state.opt_state, state.params["model"])
        update = (state.step + 1) % self.config.dual_every == 0
        h = metrics["acyclicity"]
        dual = {
            "multiplier": jnp.where(update, dual["multiplier"] + dual["rho"] * h, dual["multiplier"]),
            "rho": jnp.where(update, jnp.minimum(dual["rho"] * self.config.rho_growth, self.config.rho_max), dual["rho"]),
        }
        return state.next({"model": model, "dual": dual}, opt_state), metrics

    # -- the trained model ---------------------------------------------------------------
    def adjacency(self, state: TrainState) -> np.ndarray:
        """The learned weighted adjacency ``A`` (``A[j, i]``: edge j → i) as numpy."""
        return np.asarray(self.model(state.params).adjacency)

    def edge_strength(self, state: TrainState, factors: jax.Array) -> np.ndarray:
        """``(d, d)``: the direct effect ``E|∂g_i/∂u_j|`` of concept j on concept i's mechanism, over labels ``factors``.

        Standardised units (each concept spans [-1, 1]); entries off the allowed
        edges are 0.
        """
        u = self.config.standardize(jnp.asarray(factors, jnp.float32))
        return np.asarray(_edge_strength(self.graphdef, state.params["model"], u))

    def dag(self, state: TrainState, factors: jax.Array) -> np.ndarray:
        """``A`` on the edges whose direct effect reaches ``edge_threshold`` (others 0); see :meth:`edge_strength`."""
        keep = self.edge_strength(state, factors) >= self.config.edge_threshold
        return np.where(keep, self.adjacency(state), 0.0).astype(np.float32)

    def graph(self, state: TrainState, factors: jax.Array) -> nx.DiGraph:
        """The learned graph over the concept names (edges of :meth:`dag`, weighted by their direct effect)."""
        strength = self.edge_strength(state, factors)
        return adjacency_graph(np.where(self.dag(state, factors) != 0, strength, 0.0), self.config.concepts)

    def concepts(self, state: TrainState, images: jax.Array) -> jax.Array:
        """The concepts ``(n, d)`` the model reads from images, in the dataset's units (encoder means → causal → mask layer)."""
        return self.config.unstandardize(_concepts(self.graphdef, state.params["model"], images))


@jax.jit
def _edge_strength(graphdef, params, u):
    m = nnx.merge(graphdef, params)
    a = m.adjacency
    jac = jax.vmap(jax.jacfwd(lambda v: m.mask(parent_inputs(a, v[None]))[0]))(u)  # (n, i, j): ∂g_i/∂u_j
    return jnp.mean(jnp.abs(jac), axis=0).T * m.config.edge_mask()


@jax.jit
def _concepts(graphdef, params, images):
    m = nnx.merge(graphdef, params)
    eps = m.encoder(images)[0]
    return mask_layer(m.mask, m.adjacency, causal_layer(m.adjacency, eps), eps)


def adjacency_graph(adjacency, names: Sequence[str]) -> nx.DiGraph:
    """A ``networkx.DiGraph`` with an edge ``names[j] → names[i]`` for every nonzero ``adjacency[j, i]``."""
    a = np.asarray(adjacency)
    g = nx.DiGraph()
    g.add_nodes_from(names)
    for j, i in zip(*np.nonzero(a)):
        g.add_edge(names[j], names[i], weight=float(a[j, i]))
    return g


# -- the structural generator ------------------------------------------------------------------

QUANTILE_LEVELS = 101


@dataclasses.dataclass(frozen=True)
class NoiseMarginals:
    """``prior(key, n) -> u (n, d)``: independent noises, each drawn from a tabulated quantile function.

    The tables are the empirical quantiles of the noises abducted from the
    dataset's labels, so generated concepts follow the data's label distribution
    through the learned SCM. Hashable (tables are tuples).
    """

    quantiles: tuple[tuple[float, ...], ...]

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        table = jnp.asarray(self.quantiles, jnp.float32)  # (d, levels)
        levels = jnp.linspace(0.0, 1.0, table.shape[1], dtype=jnp.float32)
        u = jax.random.uniform(key, (n, table.shape[0]), jnp.float32)
        return jax.vmap(lambda col, q: jnp.interp(col, levels, q), in_axes=(1, 0), out_axes=1)(u, table)


@dataclasses.dataclass(frozen=True)
class LearnedSCM:
    """The trained mask layer on its learned DAG as a structural causal model over the concepts.

    The ``variables`` stage of a CausalVAE generator: noise ``u`` (standardised
    units) → concepts in the dataset's units, ``c_i = g_i(A[:, i] ∘ c) + u_i``.
    It follows the structural-model protocol of :class:`genstyle_causal.structural.SCM`
    (``variable_names``, ``index``, ``graph``, ``check_values``, ``solve`` with
    hard do, shift and hold), so ``Do("light_angle", 1.5)`` on the generator is a
    hard intervention: descendants in the learned DAG follow their learned
    mechanisms, every other concept stays bit-identical. The mechanisms' weights
    come from the generator's ``params["mask"]``; the DAG is static.
    """

    graphdef: nnx.GraphDef
    config: CausalVAEConfig
    dag: tuple[tuple[float, ...], ...]
    layer: str = "variables"

    @property
    def variable_names(self) -> tuple[str, ...]:
        return self.config.concepts

    @property
    def num_variables(self) -> int:
        return self.config.num_concepts

    def index(self, name: str) -> int:
        return self.config.concept_index(name)

    def graph(self) -> nx.DiGraph:
        return adjacency_graph(np.asarray(self.dag), self.variable_names)

    def descendants(self, name: str) -> set[str]:
        return nx.descendants(self.graph(), name)

    def check_values(self, names: Sequence[str], values) -> None:
        """Raise :class:`FactorError` if a concrete do-value lies outside its concept's label range."""
        c = self.config
        for name, value in zip(names, np.broadcast_to(np.asarray(values, np.float64), (len(names),))):
            i = self.index(name)
            tol = 1e-6 * (c.label_high[i] - c.label_low[i])
            if not c.label_low[i] - tol <= value <= c.label_high[i] + tol:
                raise FactorError(f"do({name} = {value:g}) is outside the concept's range [{c.label_low[i]:g}, {c.label_high[i]:g}]")

    def solve(self, u: jax.Array, *, params=None, set_mask=None, set_values=None, shift=None, hold_mask=None,
              held=None) -> jax.Array:
        """Concepts ``(n, d)`` in the dataset's units from noise ``u``, under an optional intervention.

        Concept ``i`` is ``set_values[i]`` where ``set_mask[i]`` (hard do),
        ``held[:, i]`` where ``hold_mask[i]``, else ``g_i(A[:, i] ∘ c) + u_i + shift[i]``
        (values and shifts in the dataset's units). ``d`` passes of the update
        solve the DAG exactly, parents before children.
        """
        c = self.config
        mask = nnx.merge(self.graphdef, params["mask"])
        a = jnp.asarray(self.dag, jnp.float32)
        span = (jnp.asarray(c.label_high, jnp.float32) - jnp.asarray(c.label_low, jnp.float32)) / 2.0
        offset = u if shift is None else u + shift / span

        def clamp(x):
            if hold_mask is not None:
                x = jnp.where(hold_mask, c.standardize(held), x)
            if set_mask is not None:
                x = jnp.where(set_mask, c.standardize(jnp.broadcast_to(set_values, x.shape)), x)
            return x

        x = clamp(offset)
        for _ in range(c.num_concepts):
            x = clamp(mask_layer(mask, a, x, offset))
        return c.unstandardize(x)

    def __call__(self, params, u: jax.Array) -> jax.Array:
        return self.solve(u, params=params)

    def abduct(self, params, values: jax.Array) -> jax.Array:
        """The noise ``u`` that gives the concepts ``values`` (dataset units)."""
        return abduct(nnx.merge(self.graphdef, params["mask"]), jnp.asarray(self.dag, jnp.float32), self.config.standardize(values))


@dataclasses.dataclass(frozen=True)
class DecoderPart:
    """A decoder stage on ``params["decoder"]``; the first one standardises the concepts it receives."""

    stage: DecoderStage
    config: CausalVAEConfig
    first: bool = False

    def __call__(self, params, h: jax.Array) -> jax.Array:
        return self.stage(params["decoder"], self.config.standardize(h) if self.first else h)


def causalvae_generator(task: CausalVAETask, state: TrainState, data: GroundTruthData, *, key: jax.Array,
                        n: int = 4096, name: str = "causalvae") -> Generator:
    """The trained CausalVAE as a structural :class:`~genstyle_causal.generator.Generator`.

    Latent units ``u_<concept>`` (the exogenous noises), stages ``variables``
    (a :class:`LearnedSCM`: the concepts in ``data``'s units, solved on the
    learned DAG) then the decoder's ``dense1, dense2, up1.., image``. The prior
    tabulates the noises abducted from ``n`` label vectors of ``data`` (drawn
    with ``key``). Raises :class:`GraphError` if the learned graph has a cycle.
    """
    c = task.config
    factors = data.sample_factors(key, n).astype(jnp.float32)
    check_acyclic(task.graph(state, factors))
    model = task.model(state.params)
    dec_graphdef, dec_params = nnx.split(model.decoder)
    mask_graphdef, mask_params = nnx.split(model.mask)
    scm = LearnedSCM(mask_graphdef, c, tuple(map(tuple, task.dag(state, factors).tolist())))
    params = {"mask": mask_params, "decoder": dec_params}
    noise = np.asarray(scm.abduct(params, factors), np.float64)
    quantiles = np.quantile(noise, np.linspace(0.0, 1.0, QUANTILE_LEVELS), axis=0).T
    names = model.decoder.stage_names
    stages = [Stage(scm.layer, scm)] + [
        Stage(s, DecoderPart(DecoderStage(dec_graphdef, s), c, first=i == 0)) for i, s in enumerate(names)
    ]
    return Generator(
        stages,
        params,
        latent_names=[f"u_{concept}" for concept in c.concepts],
        prior=NoiseMarginals(tuple(map(tuple, quantiles.tolist()))),
        name=name,
        scm=scm,
    )
