"""Image-level metrics: reconstruction error, Fréchet feature distance, style and content distances.

The Fréchet distance here is computed on the package's own feature extractor
(:mod:`genstyle_causal.models.style`), not on Inception-v3, so its values are not
comparable with published FID numbers: it is called a *Fréchet feature distance*.
"""

from __future__ import annotations

from typing import Callable, Literal

import jax
import numpy as np

from ..errors import ConfigError, ShapeError
from ._common import check_codes, draw_factors


def reconstruction_error(
    reconstruct: Callable, data, *, key, num_samples: int = 1_000, loss: Literal["mse", "bernoulli"] = "mse",
    batch_size: int = 256,
) -> dict:
    """Reconstruction error of ``reconstruct(images) -> images`` on fresh samples of ``data``.

    ``loss="mse"``: mean squared error per pixel. ``loss="bernoulli"``: binary
    cross-entropy summed over the pixels of an image, averaged over images (nats
    per image, the reconstruction term of a Bernoulli VAE's ELBO; reconstructions
    are probabilities in [0, 1]).
    """
    images = data.render(draw_factors(data, key, num_samples))
    recon = [np.asarray(reconstruct(images[i : i + batch_size])) for i in range(0, num_samples, batch_size)]
    return {"reconstruction_error": _reconstruction_error(images, np.concatenate(recon), loss=loss), "loss": loss}


def _reconstruction_error(images, reconstructions, *, loss: str = "mse") -> float:
    """Mean per-pixel squared error, or mean per-image summed Bernoulli cross-entropy."""
    x, y = np.asarray(images, dtype=np.float64), np.asarray(reconstructions, dtype=np.float64)
    if x.shape != y.shape:
        raise ShapeError(f"reconstructions must have the images' shape {x.shape}; got {y.shape}")
    if not np.isfinite(y).all():
        check_codes(y.reshape(y.shape[0], -1), name="reconstructions")
    if loss == "mse":
        return float(np.mean((x - y) ** 2))
    if loss == "bernoulli":
        p = np.clip(y, 1e-7, 1 - 1e-7)
        return float(np.mean(np.sum(-(x * np.log(p) + (1 - x) * np.log1p(-p)), axis=tuple(range(1, x.ndim)))))
    raise ConfigError(f"unknown reconstruction loss {loss!r}; choose 'mse' or 'bernoulli'")


def _rgb(images) -> jax.Array:
    """Images ``(n, H, W, 3)`` float32: grey ``(n, H, W, 1)`` images are repeated to 3 channels."""
    images = jax.numpy.asarray(images, jax.numpy.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ShapeError(f"images must have shape (n, H, W, 1 or 3); got {images.shape}")
    return jax.numpy.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _default_extractor(extractor):
    if extractor is not None:
        return extractor
    from ..models.style import default_extractor

    return default_extractor()


def pooled_features(images, *, extractor=None, layer: str | None = None, batch_size: int = 256) -> np.ndarray:
    """Spatially averaged features ``(n, c)`` of one extractor layer (default: the last one it returns).

    ``extractor`` defaults to :func:`genstyle_causal.models.style.default_extractor`
    (offline; its docstring says which features it computes; the last layer it
    returns is its content layer); grey images are repeated to 3 channels.
    """
    extractor = _default_extractor(extractor)
    images = _rgb(images)
    chunks = []
    for i in range(0, images.shape[0], batch_size):
        feats = extractor(images[i : i + batch_size])
        name = layer if layer is not None else list(feats)[-1]
        if name not in feats:
            raise ConfigError(f"extractor gave no layer {name!r}; it returned {list(feats)}")
        chunks.append(np.asarray(feats[name], dtype=np.float64).mean(axis=(1, 2)))
    return np.concatenate(chunks)


def frechet_feature_distance(images_a, images_b, *, extractor=None, layer: str | None = None, batch_size: int = 256) -> dict:
    """Fréchet distance between Gaussians fitted to pooled extractor features of two image sets.

    The FID formula (Heusel et al. 2017) on :func:`pooled_features` of the package's
    own extractor, not Inception-v3: compare values only within this package.
    """
    fa = pooled_features(images_a, extractor=extractor, layer=layer, batch_size=batch_size)
    fb = pooled_features(images_b, extractor=extractor, layer=layer, batch_size=batch_size)
    return {"frechet_feature_distance": _frechet_distance(fa, fb), "num_features": int(fa.shape[1])}


def _frechet_distance(features_a, features_b) -> float:
    """``‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½)`` of features ``(n, f)``.

    ``Tr (Σ_a Σ_b)^½`` is taken as ``Σ √λ`` over the eigenvalues of the symmetric
    ``Σ_a^½ Σ_b Σ_a^½`` (same spectrum, no complex square roots).
    """
    a, b = check_codes(features_a, name="features_a"), check_codes(features_b, name="features_b")
    if a.shape[1] != b.shape[1] or a.shape[0] < 2 or b.shape[0] < 2:
        raise ShapeError(f"feature sets need ≥ 2 rows and the same width; got {a.shape} and {b.shape}")
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    mean_term = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    return float(mean_term + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def style_content_distances(images_a, images_b, *, extractor=None) -> dict:
    """Mean Gram-matrix style distance and content-feature distance between paired images
    (Gatys et al. 2016), e.g. inputs and their reconstructions or style swaps.

    Thin wrappers over :func:`genstyle_causal.models.style.style_distance` and
    ``content_distance`` (the extractor's own style layers and content layer); grey
    images are repeated to 3 channels.
    """
    from ..models.style import content_distance, style_distance

    a, b = _rgb(images_a), _rgb(images_b)
    extractor = _default_extractor(extractor)
    return {
        "style_distance": float(np.mean(style_distance(a, b, extractor))),
        "content_distance": float(np.mean(content_distance(a, b, extractor))),
    }
