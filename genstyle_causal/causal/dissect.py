"""GAN Dissection against ground-truth masks (Bau et al. 2019) and Besserve et al.'s modules, on one layer.

For an internal layer of a generator, each channel ``u`` is scored three ways:

* **Segmentation IoU.** The channel's activation map, upsampled (bilinear) to
  the image size, is thresholded at ``t_u`` and compared with a *concept mask*
  of the generated image (for dSprites the sprite mask, exact by thresholding
  the binary image at 0.5, see :func:`sprite_mask`).
  ``IoU_u = Σ|(a_u > t_u) ∧ m| / Σ|(a_u > t_u) ∨ m|`` over all pixels of ``n``
  samples. As in GAN Dissection, ``t_u`` is the threshold that makes the unit's
  mask most informative about the concept: it maximises the information quality
  ratio ``I(a_u > t; m) / H(a_u > t, m)``, searched over quantiles of the
  channel's activations.
* **Ablation effect.** ``E[Y(do(h_u = 0)) − Y]`` on an outcome (probe-read or
  analytic factors), paired over the same latents, with bootstrap CIs
  (:func:`~genstyle_causal.causal.effects.sweep`).
* **Modules.** Per-channel influence maps of counterfactual hybridization
  (Besserve et al. 2020: copy the channel from another sample's forward pass),
  clustered by k-means into modules; each module's hybridization effect on the
  outcome says which factor it carries
  (:func:`~genstyle_causal.causal.effects.hybridization_matrix`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError, LayerError, ShapeError
from ..generator import Generator
from .effects import EffectMatrix, Outcome, bootstrap_mean, hybridization_matrix, influence_maps, observe, outcome_columns, sweep
from .interventions import Ablate, Hybridize

ConceptMask = Callable[[jax.Array], jax.Array]
#: Candidate thresholds: these quantiles of each channel's upsampled activations.
QUANTILES = tuple(float(q) for q in np.linspace(0.5, 0.995, 34))


def sprite_mask(images: jax.Array) -> jax.Array:
    """``(n, H, W)`` bool: pixels brighter than 0.5 in the first channel (the sprite of a dSprites image)."""
    return images[..., 0] > 0.5


# -- IoU ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChannelIoU:
    """Per channel: ``iou`` at the chosen ``threshold``, its quantile ``level`` and its information quality ratio ``iqr``."""

    iou: np.ndarray
    threshold: np.ndarray
    level: np.ndarray
    iqr: np.ndarray
    concept_fraction: float

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in dataclasses.asdict(self).items()}


def _layer_maps(generator: Generator, layer: str, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Activations of ``layer`` upsampled to the image size ``(n, H, W, C)``, and the images."""
    h = generator.run(z, stop=layer)
    images = generator.run(h, start=layer)
    n, height, width = images.shape[:3]
    return jax.image.resize(h, (n, height, width, h.shape[-1]), "bilinear"), images


def _entropy(p: jax.Array) -> jax.Array:
    return -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0), axis=-1)


def _iou_scores(maps: jax.Array, mask: jax.Array, levels: jax.Array):
    """IoU and information quality ratio of every channel at every candidate threshold, ``(C, K)`` each."""
    a = maps.reshape(-1, maps.shape[-1]).T  # (C, N)
    m = mask.reshape(-1)
    thresholds = jnp.quantile(a, levels, axis=1).T  # (C, K)
    total_in = jnp.sum(m, dtype=jnp.float32)
    total = jnp.float32(m.shape[0])

    def per_channel(values, t):
        above = values[:, None] > t[None]  # (N, K)
        tp = jnp.sum(above & m[:, None], axis=0).astype(jnp.float32)
        fp = jnp.sum(above & ~m[:, None], axis=0).astype(jnp.float32)
        return tp, fp

    tp, fp = jax.lax.map(lambda args: per_channel(*args), (a, thresholds))
    fn = total_in - tp
    tn = total - total_in - fp
    iou = tp / jnp.maximum(tp + fp + fn, 1.0)
    joint = jnp.stack([tp, fp, fn, tn], axis=-1) / total  # (C, K, 4): (unit, concept) = 11, 10, 01, 00
    h_joint = _entropy(joint)
    h_unit = _entropy(jnp.stack([joint[..., 0] + joint[..., 1], joint[..., 2] + joint[..., 3]], axis=-1))
    h_mask = _entropy(jnp.stack([joint[..., 0] + joint[..., 2], joint[..., 1] + joint[..., 3]], axis=-1))
    iqr = (h_unit + h_mask - h_joint) / jnp.maximum(h_joint, 1e-12)
    return iou, iqr, thresholds


@functools.partial(jax.jit, static_argnames=("layer", "concept_mask"))
def _channel_iou(generator, z, layer, concept_mask, levels):
    maps, images = _layer_maps(generator, layer, z)
    mask = concept_mask(images)
    iou, iqr, thresholds = _iou_scores(maps, mask, levels)
    best = jnp.argmax(iqr, axis=1)
    pick = lambda x: jnp.take_along_axis(x, best[:, None], axis=1)[:, 0]  # noqa: E731
    return pick(iou), pick(thresholds), levels[best], pick(iqr), jnp.mean(mask)


def channel_iou(
    generator: Generator,
    layer: str,
    concept_mask: ConceptMask = sprite_mask,
    *,
    key: jax.Array,
    n: int = 128,
    levels: Sequence[float] = QUANTILES,
) -> ChannelIoU:
    """IoU of every channel of ``layer`` with the concept mask of the generated images (see the module docstring).

    ``concept_mask(images) -> (n, H, W)`` bool must be pure; ``levels`` are the
    quantiles tried as thresholds. ``n`` latents are drawn with ``key``.
    """
    _check_feature_map(generator, layer, n)
    images = jax.eval_shape(generator.run, jax.ShapeDtypeStruct((n, generator.latent_dim), jnp.float32))
    mask = jax.eval_shape(concept_mask, images)
    if mask.shape != images.shape[:3] or mask.dtype != jnp.bool_:
        raise ShapeError(f"concept_mask must map images {images.shape} to a bool mask {images.shape[:3]}; got {mask.dtype} {mask.shape}")
    z = generator.sample_latent(key, n)
    out = _channel_iou(generator, z, layer, concept_mask, jnp.asarray(levels, jnp.float32))
    iou, threshold, level, iqr, fraction = (np.asarray(x, np.float64) for x in out)
    return ChannelIoU(iou, threshold, level, iqr, float(fraction))


def _check_feature_map(generator: Generator, layer: str, n: int) -> tuple[int, ...]:
    generator.layer_index(layer)
    if layer in (generator.layer_names[0], generator.layer_names[-1]):
        raise LayerError(f"dissection needs an internal layer of {generator.name!r}; choose one of {list(generator.layer_names[1:-1])}")
    shape = generator.layer_shape(layer, n)
    if len(shape) != 4:
        raise ShapeError(f"layer {layer!r} of {generator.name!r} is not a feature map (n, h, w, c); its shape is {shape}")
    return shape


# -- ablation effects ---------------------------------------------------------------------------


def ablation_effects(
    generator: Generator,
    outcome: Outcome,
    layer: str,
    *,
    key: jax.Array,
    n: int = 256,
    channels: Sequence[int] | None = None,
    mode: str = "zero",
    outcome_names: Sequence[str] | None = None,
    num_bootstrap: int = 1000,
    level: float = 0.95,
) -> EffectMatrix:
    """Channels × outcomes: ``E[Y(ablate channel u) − Y]`` with bootstrap CIs, all channels in one sweep on the same latents."""
    shape = _check_feature_map(generator, layer, n)
    channels = np.arange(shape[-1]) if channels is None else np.asarray(channels, np.int32)
    k_z, k_boot = jax.random.split(key)
    z = generator.sample_latent(k_z, n)
    y = sweep(generator, z, Ablate(layer, jnp.asarray(channels, jnp.int32)[:, None], mode), outcome)
    base = observe(generator, z, outcome)
    effect = bootstrap_mean(y - base[None], k_boot, num_bootstrap, level)
    names = outcome_columns(outcome, y.shape[-1], outcome_names)
    a = lambda x: np.asarray(x, np.float64)  # noqa: E731
    return EffectMatrix(a(effect.estimate), a(effect.low), a(effect.high), a(base.std(axis=0)),
                        tuple(f"{layer}[{c}]" for c in channels), names, level, "contrast")


# -- modules from influence maps -----------------------------------------------------------------


def channel_influence_maps(generator: Generator, layer: str, *, key: jax.Array, n: int = 64) -> np.ndarray:
    """``(C, H, W)``: the influence map ``E|image(hybrid) − image|`` of hybridizing each single channel of ``layer``."""
    shape = _check_feature_map(generator, layer, n)
    k_z, k_donor = jax.random.split(key)
    z, donor = generator.sample_latent(k_z, n), generator.sample_latent(k_donor, n)
    c = shape[-1]
    batch = Hybridize(layer, jnp.arange(c, dtype=jnp.int32)[:, None], jnp.broadcast_to(donor, (c,) + donor.shape))
    return np.asarray(influence_maps(generator, z, batch))


def cluster_modules(maps: np.ndarray, num_modules: int, *, seed: int = 0) -> list[list[int]]:
    """Channels grouped by k-means on their influence maps, each map normalised to unit sum (Besserve et al. 2020).

    Modules are listed by their first channel; empty clusters are dropped.
    """
    from sklearn.cluster import KMeans

    if not 1 <= num_modules <= maps.shape[0]:
        raise ConfigError(f"num_modules must lie in 1..{maps.shape[0]} (the layer's channels); got {num_modules}")
    flat = maps.reshape(maps.shape[0], -1).astype(np.float64)
    flat = flat / np.maximum(flat.sum(axis=1, keepdims=True), 1e-12)
    labels = KMeans(num_modules, n_init=10, random_state=seed).fit_predict(flat)
    modules = [sorted(np.flatnonzero(labels == k).tolist()) for k in range(num_modules)]
    return sorted((m for m in modules if m), key=lambda m: m[0])


# -- everything at once ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dissection:
    """What :func:`dissect` found on one layer: IoU, ablation effects, influence maps, modules and their effects."""

    layer: str
    iou: ChannelIoU
    ablation: EffectMatrix
    maps: np.ndarray
    modules: list[list[int]]
    hybridization: EffectMatrix

    def carried_factor(self) -> list[str | None]:
        """Per channel: the outcome its ablation moves most (in outcome standard deviations), ``None`` if no CI excludes 0."""
        std = np.abs(self.ablation.standardized()) * self.ablation.excludes_zero()
        return [self.ablation.outcome_names[int(np.argmax(row))] if row.max() > 0 else None for row in std]

    def top_channels(self, k: int = 5) -> list[dict]:
        """The ``k`` channels of highest IoU, with their ablation effects on every outcome and the factor they carry."""
        order = np.argsort(-self.iou.iou)[:k]
        carried = self.carried_factor()
        rows = []
        for c in order:
            effects = {
                name: {"ace": float(self.ablation.effect[c, j]), "low": float(self.ablation.low[c, j]), "high": float(self.ablation.high[c, j])}
                for j, name in enumerate(self.ablation.outcome_names)
            }
            rows.append({"channel": int(c), "iou": float(self.iou.iou[c]), "carries": carried[c], "ablation": effects})
        return rows

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "iou": self.iou.to_dict(),
            "ablation": self.ablation.to_dict(),
            "carried_factor": self.carried_factor(),
            "modules": self.modules,
            "hybridization": self.hybridization.to_dict(),
            "top_channels": self.top_channels(),
        }


def dissect(
    generator: Generator,
    layer: str,
    outcome: Outcome,
    concept_mask: ConceptMask = sprite_mask,
    *,
    key: jax.Array,
    n: int = 256,
    num_modules: int = 4,
    outcome_names: Sequence[str] | None = None,
    num_bootstrap: int = 1000,
) -> Dissection:
    """Dissect ``layer``: channel IoU with ``concept_mask``, per-channel ablation effects on ``outcome``, influence-map modules and their hybridization effects."""
    k_iou, k_ablate, k_maps, k_hybrid = jax.random.split(key, 4)
    iou = channel_iou(generator, layer, concept_mask, key=k_iou, n=max(16, n // 2))
    ablation = ablation_effects(generator, outcome, layer, key=k_ablate, n=n, outcome_names=outcome_names, num_bootstrap=num_bootstrap)
    maps = channel_influence_maps(generator, layer, key=k_maps, n=max(16, n // 4))
    modules = cluster_modules(maps, min(num_modules, maps.shape[0]))
    hybrid = hybridization_matrix(generator, outcome, layer, modules, key=k_hybrid, n=n, group_names=[f"module{i}" for i in range(len(modules))],
                                  outcome_names=outcome_names, num_bootstrap=num_bootstrap)
    return Dissection(layer, iou, ablation, maps, modules, hybrid)
