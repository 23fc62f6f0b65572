"""``stylize``: content image + style image(s) -> an image file, for the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np
from PIL import Image

from ...data import load_image
from ...errors import ConfigError, ImageFileError
from ...io import atomic_path
from . import tiles
from .adain import AdaIN, adain_transfer, load_adain, shipped_adain
from .features import Extractor, default_extractor, random_extractor, vgg19
from .gatys import GatysConfig, as_batch, gatys_transfer, luminance_transfer, style_list

METHODS = ("gatys", "adain")
FEATURES = {"vgg16": default_extractor, "random": random_extractor}


def extractor_named(name: str) -> Extractor:
    """The feature extractor of ``stylize --set features=NAME`` (see :data:`FEATURES`)."""
    if name not in FEATURES:
        raise ConfigError(f"unknown features {name!r}; expected one of {list(FEATURES)}")
    return FEATURES[name]()


def _image(source, size) -> np.ndarray:
    return load_image(source, size) if isinstance(source, (str, os.PathLike)) else np.asarray(source, np.float32)


def write_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Save an ``(H, W, 3)`` [0, 1] image with Pillow (format from the suffix), atomically."""
    path = Path(path)
    pixels = (np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    with atomic_path(path) as tmp:
        try:
            Image.fromarray(pixels).save(tmp)
        except (ValueError, KeyError) as e:
            raise ImageFileError(f"cannot write image {path}: {e}") from None
    return path


def stylize(content, styles, *, out_path: str | os.PathLike, method: str = "gatys", size=None, style_size=None,
            weights: str | os.PathLike | None = None, extractor: Extractor | None = None,
            model: AdaIN | str | os.PathLike | None = None, alpha: float = 1.0,
            style_mix: Sequence[float] | None = None, preserve_colour: bool = False,
            config: GatysConfig = GatysConfig(), memory_limit_gb: float = 4.0, tiling: bool = True,
            log: Callable[[str], None] | None = None, key: jax.Array | None = None) -> np.ndarray:
    """Stylise one content image with one or several styles and write it to ``out_path`` (atomically).

    Args:
      content, styles: file paths or ``(H, W, 3)`` arrays in [0, 1]; ``styles`` one or a list.
      method: ``"gatys"`` (image optimisation, :func:`gatys_transfer`) or ``"adain"``
        (one pass of a trained decoder, :func:`adain_transfer`).
      size, style_size: resize on load ((h, w) or square); default: keep each file's size.
      weights: a VGG19 weights file for Gatys (else ``extractor``, else the shipped trained VGG16).
      model: AdaIN: an :class:`AdaIN` or a saved file (default: the shipped model, :func:`shipped_adain`).
      alpha: AdaIN style strength; style_mix: weights of several styles.
      preserve_colour: luminance-only transfer that keeps the content's colours.
      memory_limit_gb, tiling: the memory estimate of the transfer (:func:`tiles.plan`) is checked before
        running; beyond the limit the image is processed in tiles (Gatys: first at the largest size that
        fits), or, with ``tiling=False``, :class:`~genstyle_causal.errors.MemoryLimitError` is raised.
      log: called with one line describing the plan when the image exceeds the limit.

    Returns the written image ``(H, W, 3)`` in [0, 1].
    """
    if method not in METHODS:
        raise ConfigError(f"unknown stylize method {method!r}; expected one of {list(METHODS)}")
    content = as_batch(_image(content, size), "content image")
    style_items = styles if isinstance(styles, (list, tuple)) else [styles]
    style_batch, mix = style_list([_image(s, style_size) for s in style_items], style_mix)
    h, w = content.shape[1:3]
    if method == "gatys":
        extractor = vgg19(weights) if weights is not None else extractor or default_extractor()
        layers = config.resolve(extractor)
        layers = layers.style_layers + (layers.content_layer,)
    else:
        model = shipped_adain() if model is None else model if isinstance(model, AdaIN) else load_adain(model)
        extractor, layers = model.extractor, (model.config.layer,)
    task = tiles.plan(method, extractor, layers, h, w, limit_gb=memory_limit_gb, tiling=tiling)
    if task.tiled and log is not None:
        log(task.message)
    style_batch = [_fit(s, extractor, layers, memory_limit_gb, log) for s in style_batch]
    if method == "gatys":
        def transfer(c, s):
            if task.tiled:
                return tiles.gatys_tiled(c, s, mix, extractor, config, task), None
            return gatys_transfer(c, s, extractor=extractor, config=config, style_mix=mix, key=key)
    else:
        def transfer(c, s):
            if task.tiled:
                return tiles.adain_tiled(model, c, s, mix, alpha, task), None
            return adain_transfer(model, c, s, alpha=alpha, style_mix=mix), None

    out, _ = luminance_transfer(transfer, content, style_batch) if preserve_colour else transfer(content, style_batch)
    image = np.clip(np.asarray(out[0]), 0.0, 1.0)
    write_image(image, out_path)
    return image


def _fit(style: jax.Array, extractor: Extractor, layers, limit_gb: float, log) -> jax.Array:
    """A style image shrunk (aspect kept) until its forward pass fits the memory limit; styles need no tiles."""
    h, w = style.shape[1:3]
    task = tiles.plan("adain", extractor, layers, h, w, limit_gb=limit_gb)
    if not task.tiled:
        return style
    small = tiles.largest_fitting("adain", extractor, layers, h, w, limit_gb=limit_gb)
    if log is not None:
        log(f"style image {h}×{w} exceeds the memory limit of {limit_gb:g} GiB: using it at {small[0]}×{small[1]}")
    return jax.image.resize(style, (1, *small, 3), "linear")


def transfer_grid(contents, styles, *, method: str = "gatys", extractor: Extractor | None = None,
                  model: AdaIN | None = None, config: GatysConfig = GatysConfig()) -> np.ndarray:
    """A content × style grid ``(1 + contents, 1 + styles, H, W, 3)``: styles along the top row, contents down
    the first column (white corner), each cell the content stylised with that column's style.

    ``contents`` ``(m, H, W, 3)`` share one size; ``styles`` is a list or batch of style images resized to it.
    Gatys (``extractor``, ``config``) or AdaIN (``model``, default :func:`shipped_adain`); one call per style.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown stylize method {method!r}; expected one of {list(METHODS)}")
    contents = as_batch(contents, "content images")
    size = contents.shape[1:3]
    styles = [jax.image.resize(s, (1, *size, 3), "linear") for s in style_list(styles, None)[0]]
    columns = []
    for s in styles:
        if method == "gatys":
            out, _ = gatys_transfer(contents, s, extractor=extractor, config=config)
        else:
            out = adain_transfer(model or shipped_adain(), contents, s)
        columns.append(np.asarray(out))
    top = np.concatenate([np.ones((1, *size, 3), np.float32)] + [np.asarray(s) for s in styles])
    body = np.concatenate([np.asarray(contents)[:, None], np.stack(columns, axis=1)], axis=1)
    return np.concatenate([top[None], body], axis=0)
