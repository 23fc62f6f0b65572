"""``stylize``: content image + style image(s) -> an image file, for the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import jax
import numpy as np
from PIL import Image

from ...data import load_image
from ...errors import ConfigError, ImageFileError
from ...io import atomic_path
from .adain import AdaIN, adain_transfer, load_adain
from .features import Extractor, vgg19
from .gatys import GatysConfig, as_batch, gatys_transfer, luminance_transfer, style_list

METHODS = ("gatys", "adain")


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
            config: GatysConfig = GatysConfig(), key: jax.Array | None = None) -> np.ndarray:
    """Stylise one content image with one or several styles and write it to ``out_path`` (atomically).

    Args:
      content, styles: file paths or ``(H, W, 3)`` arrays in [0, 1]; ``styles`` one or a list.
      method: ``"gatys"`` (image optimisation, :func:`gatys_transfer`) or ``"adain"``
        (a trained decoder, :func:`adain_transfer`; needs ``model``: an :class:`AdaIN` or a saved file).
      size, style_size: resize on load ((h, w) or square); default: keep each file's size.
      weights: a VGG19 weights file for Gatys (else ``extractor``, else the random default).
      alpha: AdaIN style strength; style_mix: weights of several styles.
      preserve_colour: luminance-only transfer that keeps the content's colours.

    Returns the written image ``(H, W, 3)`` in [0, 1].
    """
    if method not in METHODS:
        raise ConfigError(f"unknown stylize method {method!r}; expected one of {list(METHODS)}")
    content = as_batch(_image(content, size), "content image")
    style_items = styles if isinstance(styles, (list, tuple)) else [styles]
    style_batch, mix = style_list([_image(s, style_size) for s in style_items], style_mix)
    if method == "gatys":
        if weights is not None:
            extractor = vgg19(weights)

        def transfer(c, s):
            return gatys_transfer(c, s, extractor=extractor, config=config, style_mix=mix, key=key)
    else:
        if model is None:
            raise ConfigError("method 'adain' needs model= (an AdaIN model or the path of one saved with save_adain)")
        model = model if isinstance(model, AdaIN) else load_adain(model)

        def transfer(c, s):
            return adain_transfer(model, c, s, alpha=alpha, style_mix=mix), None

    out, _ = luminance_transfer(transfer, content, style_batch) if preserve_colour else transfer(content, style_batch)
    image = np.clip(np.asarray(out[0]), 0.0, 1.0)
    write_image(image, out_path)
    return image
