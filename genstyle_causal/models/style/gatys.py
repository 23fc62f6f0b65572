"""Gatys et al. 2016 style transfer: optimise the image itself with optax, all steps inside one ``jit``/``lax.scan``.

Losses are relative squared errors (``||x - t||² / ||t||²``) of the content
features and of the Gram matrices, so the default weights work for any extractor
(random default or VGG) and any image size; a total-variation term (Mahendran &
Vedaldi 2015) smooths the result. Colour preservation is the luminance-only
transfer of Gatys, Bethge, Hertzmann & Shechtman 2016 ("Preserving color in
neural artistic style transfer").
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ...errors import ConfigError, ShapeError
from ...train import apply_optimizer
from .features import Extractor, default_extractor
from .stats import content_loss, gram_matrix, mean_std, style_loss

# NTSC YIQ: Y is luminance, I/Q chrominance
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class GatysConfig:
    """Options of :func:`gatys_transfer` (hashable: it is a static argument of the jitted optimiser).

    ``style_layers``/``content_layer`` default to the extractor's; ``layer_weights``
    (one per style layer) default to 1 each.
    """

    steps: int = 200
    learning_rate: float = 0.02
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 10.0
    style_layers: tuple[str, ...] | None = None
    layer_weights: tuple[float, ...] | None = None
    content_layer: str | None = None

    def resolve(self, extractor: Extractor) -> "GatysConfig":
        """Fill the layer defaults from ``extractor`` and check the names and weights."""
        style = extractor.check_layers(self.style_layers or extractor.style_layers)
        content = extractor.check_layers([self.content_layer or extractor.content_layer])[0]
        weights = self.layer_weights or (1.0,) * len(style)
        if len(weights) != len(style):
            raise ConfigError(f"layer_weights has {len(weights)} entries for {len(style)} style layers {list(style)}")
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1; got {self.steps}")
        return dataclasses.replace(self, style_layers=style, layer_weights=tuple(map(float, weights)),
                                   content_layer=content)


def as_batch(images, what: str) -> jax.Array:
    """``(H, W, 3)`` or ``(n, H, W, 3)`` -> float32 ``(n, H, W, 3)``; :class:`ShapeError` otherwise."""
    x = jnp.asarray(images, jnp.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ShapeError(f"{what} must be an RGB image (H, W, 3) or a batch (n, H, W, 3); got {x.shape}")
    return x


def style_list(styles, style_mix: Sequence[float] | None) -> tuple[list[jax.Array], list[float]]:
    """Style images (a batch, one image, or a list of images of any sizes) and their normalised mix weights."""
    if isinstance(styles, (list, tuple)):
        batches = [as_batch(s, "style image") for s in styles]
        items = [s[i : i + 1] for s in batches for i in range(s.shape[0])]
    else:
        b = as_batch(styles, "style images")
        items = [b[i : i + 1] for i in range(b.shape[0])]
    mix = [1.0] * len(items) if style_mix is None else [float(w) for w in style_mix]
    if len(mix) != len(items) or sum(mix) <= 0 or min(mix) < 0:
        raise ConfigError(f"style_mix must be {len(items)} non-negative weights with a positive sum; got {style_mix}")
    return items, [w / sum(mix) for w in mix]


def total_variation(images: jax.Array) -> jax.Array:
    """Mean squared difference of neighbouring pixels ``(n,)`` (Mahendran & Vedaldi 2015)."""
    dy = jnp.mean(jnp.square(images[:, 1:] - images[:, :-1]), axis=(1, 2, 3))
    dx = jnp.mean(jnp.square(images[:, :, 1:] - images[:, :, :-1]), axis=(1, 2, 3))
    return dx + dy


def gatys_loss(image: jax.Array, content_target: jax.Array, target_grams: dict, extractor: Extractor,
               config: GatysConfig) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total loss (summed over the batch) and its parts for a resolved ``config``."""
    feats = extractor(image, config.style_layers + (config.content_layer,))
    c = content_loss(feats[config.content_layer], content_target)
    s = style_loss(feats, target_grams, dict(zip(config.style_layers, config.layer_weights)))
    tv = total_variation(image)
    total = config.content_weight * c + config.style_weight * s + config.tv_weight * tv
    return jnp.sum(total), {"content": jnp.sum(c), "style": jnp.sum(s), "tv": jnp.sum(tv)}


@functools.partial(jax.jit, static_argnames=("config",))
def optimise_image(extractor, init, content_target, target_grams, config):
    """Adam on the image itself for ``config.steps`` steps (one ``lax.scan``); returns ``(images, history)``."""
    opt = optax.adam(config.learning_rate)
    grad_fn = jax.value_and_grad(gatys_loss, has_aux=True)

    def step(carry, _):
        x, opt_state = carry
        (loss, parts), g = grad_fn(x, content_target, target_grams, extractor, config)
        x, opt_state = apply_optimizer(opt, g, opt_state, x)
        x = jnp.clip(x, 0.0, 1.0)  # projected gradient: stay a valid image
        return (x, opt_state), {"total": loss, **parts}

    (x, _), history = jax.lax.scan(step, (init, opt.init(init)), None, length=config.steps)
    return x, history


def gatys_targets(content: jax.Array, styles: list[jax.Array], mix: list[float], extractor: Extractor,
                  config: GatysConfig) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Content features and the mixed target Gram matrices ``(1, c, c)`` per style layer."""
    content_target = extractor(content, [config.content_layer])[config.content_layer]
    grams = {k: 0.0 for k in config.style_layers}
    for s, w in zip(styles, mix):
        feats = extractor(s, config.style_layers)
        grams = {k: grams[k] + w * gram_matrix(feats[k]) for k in config.style_layers}
    return content_target, grams


def _transfer(content, styles, mix, extractor, config, key, init_noise):
    init = content
    if init_noise > 0:
        init = jnp.clip(content + init_noise * jax.random.normal(key, content.shape, jnp.float32), 0.0, 1.0)
    content_target, grams = gatys_targets(content, styles, mix, extractor, config)
    return optimise_image(extractor, init, content_target, grams, config)


def gatys_transfer(content, styles, *, extractor: Extractor | None = None, config: GatysConfig = GatysConfig(),
                   style_mix: Sequence[float] | None = None, preserve_colour: bool = False, init_noise: float = 0.0,
                   key: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Optimise images that keep ``content``'s features and take the style(s)' Gram statistics.

    Args:
      content: ``(H, W, 3)`` or ``(n, H, W, 3)`` in [0, 1], any size the extractor allows.
      styles: a style image, a batch, or a list of images of any sizes.
      style_mix: weights of the styles' Gram matrices (default equal).
      preserve_colour: transfer luminance only and keep the content's chrominance.
      init_noise, key: start from content + Gaussian noise of this std (needs ``key``).

    Returns ``(images (n, H, W, 3), history)`` with ``history[k]`` of shape ``(steps,)``
    for the ``total``, ``content``, ``style`` and ``tv`` losses.
    """
    extractor = extractor or default_extractor()
    config = config.resolve(extractor)
    content = as_batch(content, "content image")
    styles, mix = style_list(styles, style_mix)
    extractor.check_images(content, config.style_layers + (config.content_layer,))
    for s in styles:
        extractor.check_images(s, config.style_layers)
    if init_noise > 0 and key is None:
        raise ConfigError("init_noise > 0 needs a PRNG key: pass key=jax.random.key(...)")

    def run(c, s):
        return _transfer(c, s, mix, extractor, config, key, init_noise)

    return luminance_transfer(run, content, styles) if preserve_colour else run(content, styles)


# -- colour preservation -----------------------------------------------------------

def rgb_to_yiq(images: jax.Array) -> jax.Array:
    return images @ jnp.asarray(_RGB_TO_YIQ).T


def yiq_to_rgb(images: jax.Array) -> jax.Array:
    return images @ jnp.asarray(_YIQ_TO_RGB).T


def luminance_transfer(transfer: Callable, content: jax.Array, styles: list[jax.Array]):
    """Run ``transfer(content, styles) -> (images, aux)`` on luminance only, then restore the content's chrominance.

    The styles' luminance is first matched to the content's mean/std (over the
    whole content batch), as in Gatys et al. 2016 (colour preservation). The result
    has exactly the content's I/Q channels; its RGB values may leave [0, 1] slightly.
    """
    yiq = rgb_to_yiq(content)
    lum = yiq[..., :1]
    mu, sigma = mean_std(lum.reshape(1, -1, 1, 1))

    def grey(y):
        return jnp.broadcast_to(y, y.shape[:-1] + (3,))

    def matched(s):
        s_lum = rgb_to_yiq(s)[..., :1]
        s_mu, s_sigma = mean_std(s_lum)
        return grey((s_lum - s_mu[:, None, None]) / s_sigma[:, None, None] * sigma[0] + mu[0])

    out, aux = transfer(grey(lum), [matched(s) for s in styles])
    out_lum = rgb_to_yiq(out)[..., :1]
    return yiq_to_rgb(jnp.concatenate([out_lum, yiq[..., 1:]], axis=-1)), aux
