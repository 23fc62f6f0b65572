"""Style and content statistics of feature maps (NHWC), and the losses built on them."""

from __future__ import annotations

import functools
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp

from ...errors import ShapeError
from .features import Extractor, default_extractor

EPS = 1e-5


def _check_nhwc(features: jax.Array, what: str) -> None:
    if getattr(features, "ndim", None) != 4:
        raise ShapeError(f"{what} must be feature maps of shape (n, h, w, c); got {getattr(features, 'shape', None)}")


@jax.jit
def gram_matrix(features: jax.Array) -> jax.Array:
    """Gram matrices ``(n, c, c)``: ``G_ij = mean over positions of F_i F_j`` (Gatys et al. 2016).

    Averaging over the h·w positions (instead of Gatys' 1/(4N²M²) in the loss) makes
    Grams of images of different sizes comparable.
    """
    _check_nhwc(features, "gram_matrix input")
    n, h, w, c = features.shape
    f = features.reshape(n, h * w, c)
    return jnp.einsum("npi,npj->nij", f, f) / jnp.float32(h * w)


@jax.jit
def mean_std(features: jax.Array, eps: float = EPS) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and standard deviation ``(n, c)`` over positions; std = sqrt(var + eps)."""
    _check_nhwc(features, "mean_std input")
    mean = features.mean(axis=(1, 2))
    var = features.var(axis=(1, 2))
    return mean, jnp.sqrt(var + eps)


@jax.jit
def adain_from_stats(content: jax.Array, mean: jax.Array, std: jax.Array, alpha: float = 1.0,
                     eps: float = EPS) -> jax.Array:
    """Give ``content`` features the per-channel ``mean``/``std`` ``(n, c)``; ``alpha`` blends with the input.

    ``alpha * AdaIN(x) + (1 - alpha) * x`` (Huang & Belongie 2017, eq. 8 and sec. 7.1).
    """
    _check_nhwc(content, "AdaIN content features")
    if mean.shape != (content.shape[0], content.shape[-1]) or std.shape != mean.shape:
        raise ShapeError(f"style statistics must have shape {(content.shape[0], content.shape[-1])} to match the "
                         f"content features {content.shape}; got mean {mean.shape}, std {std.shape}")
    mu, sigma = mean_std(content, eps)
    styled = (content - mu[:, None, None]) / sigma[:, None, None] * std[:, None, None] + mean[:, None, None]
    return alpha * styled + (1.0 - alpha) * content


@jax.jit
def adain(content_features: jax.Array, style_features: jax.Array, alpha: float = 1.0, eps: float = EPS) -> jax.Array:
    """Adaptive instance normalisation (Huang & Belongie 2017, eq. 8): content normalised, re-scaled to the style's stats.

    ``style_features`` may hold one style for the whole batch (n=1) or one per content.
    """
    _check_nhwc(content_features, "AdaIN content features")
    _check_nhwc(style_features, "AdaIN style features")
    if content_features.shape[-1] != style_features.shape[-1]:
        raise ShapeError(f"content features have {content_features.shape[-1]} channels but style features have "
                         f"{style_features.shape[-1]}; they must come from the same layer")
    mean, std = mean_std(style_features, eps)
    n = content_features.shape[0]
    return adain_from_stats(content_features, jnp.broadcast_to(mean, (n, mean.shape[1])),
                            jnp.broadcast_to(std, (n, std.shape[1])), alpha, eps)


def relative_sq_error(x: jax.Array, target: jax.Array) -> jax.Array:
    """``||x - t||² / ||t||²`` per sample ``(n,)``: a scale-free loss, so weights carry over between extractors."""
    axes = tuple(range(1, x.ndim))
    return jnp.sum(jnp.square(x - target), axes) / (jnp.sum(jnp.square(target), axes) + EPS)


def style_loss(features: Mapping[str, jax.Array], target_grams: Mapping[str, jax.Array],
               layer_weights: Mapping[str, float] | None = None) -> jax.Array:
    """Gatys et al. 2016 style loss ``(n,)``: weighted sum over layers of the relative Gram error."""
    total = 0.0
    for layer, target in target_grams.items():
        w = 1.0 if layer_weights is None else layer_weights.get(layer, 0.0)
        total = total + w * relative_sq_error(gram_matrix(features[layer]), target)
    return total


def content_loss(features: jax.Array, target: jax.Array) -> jax.Array:
    """Gatys et al. 2016 content loss ``(n,)`` at one layer: relative squared feature error."""
    return relative_sq_error(features, target)


def style_distance(images_a: jax.Array, images_b: jax.Array, extractor: Extractor | None = None, *,
                   layers: Sequence[str] | None = None) -> jax.Array:
    """Gram-matrix style distance ``(n,)`` between paired images (Gatys et al. 2016); sizes may differ.

    Sum over ``layers`` (default: the extractor's style layers) of the mean squared
    difference of Gram matrices. ``images_b`` may be a single image for the batch.
    """
    extractor = extractor or default_extractor()
    layers = extractor.check_layers(extractor.style_layers if layers is None else tuple(layers))
    return _style_distance(extractor, jnp.asarray(images_a, jnp.float32), jnp.asarray(images_b, jnp.float32), layers)


@functools.partial(jax.jit, static_argnames=("layers",))
def _style_distance(extractor, images_a, images_b, layers):
    fa, fb = extractor(images_a, layers), extractor(images_b, layers)
    return sum(jnp.mean(jnp.square(gram_matrix(fa[k]) - gram_matrix(fb[k])), axis=(1, 2)) for k in layers)


def content_distance(images_a: jax.Array, images_b: jax.Array, extractor: Extractor | None = None, *,
                     layer: str | None = None) -> jax.Array:
    """Mean squared feature difference ``(n,)`` at the content layer (Gatys et al. 2016); same image size."""
    extractor = extractor or default_extractor()
    layer = extractor.content_layer if layer is None else layer
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ShapeError(f"content_distance needs images of one size; got {images_a.shape} and {images_b.shape}")
    extractor.check_layers([layer])
    return _content_distance(extractor, jnp.asarray(images_a, jnp.float32), jnp.asarray(images_b, jnp.float32), layer)


@functools.partial(jax.jit, static_argnames=("layer",))
def _content_distance(extractor, images_a, images_b, layer):
    fa, fb = extractor(images_a, [layer])[layer], extractor(images_b, [layer])[layer]
    return jnp.mean(jnp.square(fa - fb), axis=(1, 2, 3))


def style_statistics(images: jax.Array, extractor: Extractor | None = None, *,
                     layers: Sequence[str] | None = None) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Per-layer channel ``(mean, std)`` of ``images``: the style an AdaIN swap transfers."""
    extractor = extractor or default_extractor()
    feats = extractor(images, extractor.style_layers if layers is None else layers)
    return {k: mean_std(v) for k, v in feats.items()}


def content_features(images: jax.Array, extractor: Extractor | None = None, *, layer: str | None = None) -> jax.Array:
    """Feature maps ``(n, h, w, c)`` at the content layer (default: the extractor's)."""
    extractor = extractor or default_extractor()
    layer = extractor.content_layer if layer is None else layer
    return extractor(images, [layer])[layer]
