"""Large images: estimate the memory of a style transfer before running it, and tile what does not fit.

Gatys optimisation keeps every activation of the loss network for the backward
pass, so its memory grows with the pixel count (VGG16 to ``relu4_1``: about 1 GiB
at 512×512, 4 GiB at 1024×1024). Beyond ``limit_gb`` an image is handled in two
passes: the transfer at the largest size that fits, upsampled, then refined at
full resolution tile by tile (overlapping tiles, feathered seams; each tile keeps
its own content target and the style's Gram targets). AdaIN needs no backward
pass; beyond the limit it encodes and decodes tile by tile with the content
statistics of the whole image, so the result matches the untiled one away from
the seams.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ...errors import MemoryLimitError
from .adain import AdaIN, decode, encode, pad_to_multiple
from .features import Extractor
from .gatys import GatysConfig, gatys_targets, gatys_transfer, optimise_image
from .stats import adain

GIB = 2.0 ** 30
BYTES = 4  # float32
#: XLA keeps the forward activations and about as much again for their gradients.
GATYS_FACTOR = 2.0
MAX_TILE = 1024
TILE_OVERLAP = 32  # pixels shared by neighbouring tiles (beyond VGG16 relu3_1's receptive field radius)


def _activation_sizes(extractor: Extractor, layer: str, height: int, width: int) -> list[int]:
    """Elements of the input and of every activation up to ``layer`` for one ``height × width`` image."""
    sizes, h, w = [height * width * 3], height, width
    for name in extractor.layer_names[: extractor.layer_names.index(layer) + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        sizes.append(h * w * extractor.channels(name))
    return sizes


def _deepest(extractor: Extractor, layers: Sequence[str]) -> str:
    return max(layers, key=extractor.layer_names.index)


def gatys_bytes(extractor: Extractor, layers: Sequence[str], height: int, width: int) -> float:
    """Estimated peak memory of one Gatys optimisation at ``height × width`` (activations, gradients, Adam)."""
    acts = sum(_activation_sizes(extractor, _deepest(extractor, layers), height, width))
    return BYTES * (GATYS_FACTOR * acts + 6 * height * width * 3)


def adain_bytes(extractor: Extractor, layer: str, height: int, width: int) -> float:
    """Estimated peak memory of one AdaIN pass: two of the widest activations (the decoder mirrors the encoder)."""
    return BYTES * 2 * max(_activation_sizes(extractor, layer, height, width))


@dataclasses.dataclass(frozen=True)
class Plan:
    """How a transfer of an ``height × width`` image will run within ``limit_gb``.

    ``working`` is the size of the first (whole-image) pass; ``tile`` the side of the
    full-resolution tiles (0: no tiling, the image fits).
    """

    method: str
    height: int
    width: int
    need_gb: float
    limit_gb: float
    working: tuple[int, int]
    tile: int

    @property
    def tiled(self) -> bool:
        return self.tile > 0

    @property
    def message(self) -> str:
        head = (f"{self.method}: a {self.height}×{self.width} image needs about {self.need_gb:.1f} GiB at full size "
                f"(limit {self.limit_gb:g} GiB)")
        if not self.tiled:
            return head
        first = (f"transferring at {self.working[0]}×{self.working[1]}, then refining"
                 if self.working != (self.height, self.width) else "processing")
        return f"{head}: {first} at full size in tiles of {self.tile}×{self.tile}"


def _largest_fitting(cost: Callable[[int, int], float], height: int, width: int, limit: float,
                     multiple: int) -> tuple[int, int]:
    """The largest ``(h, w)`` with the aspect of ``height × width``, sides multiples of ``multiple``, within ``limit``."""
    scale = min(1.0, math.sqrt(limit / cost(height, width)))
    while True:
        h = max(multiple, int(height * scale) // multiple * multiple)
        w = max(multiple, int(width * scale) // multiple * multiple)
        if cost(h, w) <= limit or (h == multiple and w == multiple):
            return h, w
        scale *= 0.9


def _cost(method: str, extractor: Extractor, layers: Sequence[str]) -> Callable[[int, int], float]:
    if method == "gatys":
        return lambda h, w: gatys_bytes(extractor, layers, h, w)
    return lambda h, w: adain_bytes(extractor, _deepest(extractor, layers), h, w)


def largest_fitting(method: str, extractor: Extractor, layers: Sequence[str], height: int, width: int, *,
                    limit_gb: float) -> tuple[int, int]:
    """The largest size with the aspect of ``height × width`` whose transfer fits ``limit_gb``."""
    return _largest_fitting(_cost(method, extractor, layers), height, width, limit_gb * GIB,
                            extractor.min_size(layers))


def plan(method: str, extractor: Extractor, layers: Sequence[str], height: int, width: int, *,
         limit_gb: float, tiling: bool = True) -> Plan:
    """The :class:`Plan` of a Gatys or AdaIN transfer; :class:`MemoryLimitError` if it cannot fit untiled."""
    cost = _cost(method, extractor, layers)
    need, limit = cost(height, width), limit_gb * GIB
    if need <= limit:
        return Plan(method, height, width, need / GIB, limit_gb, (height, width), 0)
    if not tiling:
        raise MemoryLimitError(
            f"{method}: a {height}×{width} image needs about {need / GIB:.1f} GiB, over the limit of {limit_gb:g} GiB; "
            "resize it (--set size=...), raise the limit (--set memory_limit_gb=...) or allow tiling "
            "(--set tiling=true)")
    tile = min(largest_fitting(method, extractor, layers, MAX_TILE, MAX_TILE, limit_gb=limit_gb))
    if tile <= 2 * TILE_OVERLAP:
        raise MemoryLimitError(f"{method}: the memory limit of {limit_gb:g} GiB is too small for tiles wider than "
                               f"their {TILE_OVERLAP}-pixel overlaps on both sides; raise --set memory_limit_gb")
    working = (largest_fitting(method, extractor, layers, height, width, limit_gb=limit_gb)
               if method == "gatys" else (height, width))
    return Plan(method, height, width, need / GIB, limit_gb, working, tile)


# -- tiles ---------------------------------------------------------------------------------

def tile_origins(length: int, tile: int, overlap: int = TILE_OVERLAP) -> list[int]:
    """Start of each tile along one axis: stride ``tile - overlap``, the last one flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def _ramp(n: int, overlap: int) -> np.ndarray:
    """Blend weights along one tile side: rising over ``overlap`` pixels at both ends, 1 in between."""
    i = np.arange(n, dtype=np.float32)
    return np.clip(np.minimum(i + 0.5, n - i - 0.5) / overlap, 1e-3, 1.0)


def split_tiles(image: jax.Array, tile: int, overlap: int = TILE_OVERLAP) -> tuple[jax.Array, list[tuple[int, int]]]:
    """Overlapping tiles ``(k, th, tw, c)`` of one image ``(H, W, c)`` and their origins."""
    h, w = image.shape[:2]
    th, tw = min(tile, h), min(tile, w)
    origins = [(y, x) for y in tile_origins(h, th, overlap) for x in tile_origins(w, tw, overlap)]
    return jnp.stack([image[y:y + th, x:x + tw] for y, x in origins]), origins


def merge_tiles(tiles: jax.Array, origins: list[tuple[int, int]], height: int, width: int,
                overlap: int = TILE_OVERLAP) -> jax.Array:
    """Blend tiles back into one ``(H, W, c)`` image, feathering the overlaps."""
    th, tw = tiles.shape[1:3]
    weight = jnp.asarray(np.outer(_ramp(th, overlap), _ramp(tw, overlap)))[..., None]
    out = jnp.zeros((height, width, tiles.shape[-1]), jnp.float32)
    total = jnp.zeros((height, width, 1), jnp.float32)
    for t, (y, x) in zip(tiles, origins):
        out = out.at[y:y + th, x:x + tw].add(weight * t)
        total = total.at[y:y + th, x:x + tw].add(weight)
    return out / total


def map_tiles(fn: Callable, image: jax.Array, tile: int, *extra: jax.Array, scale: float = 1.0,
              overlap: int = TILE_OVERLAP) -> jax.Array:
    """Apply ``fn(tile, *extra_tiles) -> output tile`` to every tile of ``image`` ``(h, w, c)``, one tile at a
    time (``lax.map``), and blend the outputs; ``extra`` arrays of the image's size are tiled alongside.

    ``fn`` may resize a tile by ``scale`` (an encoder: 1/4, a decoder: 4); ``tile``, ``overlap``
    and the image sides (input pixels) must then be multiples of ``1/scale``.
    """
    tiles, origins = split_tiles(image, tile, overlap)
    others = [split_tiles(x, tile, overlap)[0] for x in extra]
    out = jax.lax.map(lambda ts: fn(*ts), (tiles, *others))

    def s(v):
        return int(round(v * scale))

    return merge_tiles(out, [(s(y), s(x)) for y, x in origins], s(image.shape[0]), s(image.shape[1]), s(overlap))


# -- the two transfers beyond the limit ------------------------------------------------------

#: full-resolution refinement steps = Gatys steps // REFINE_DIVISOR
REFINE_DIVISOR = 4


def gatys_tiled(content: jax.Array, styles: list[jax.Array], mix: list[float], extractor: Extractor,
                config: GatysConfig, plan: Plan) -> jax.Array:
    """Gatys transfer of one large image ``(1, H, W, 3)``: whole at ``plan.working``, then refined in tiles."""
    config = config.resolve(extractor)
    small = jax.image.resize(content, (1, *plan.working, 3), "linear")
    first, _ = gatys_transfer(small, styles, extractor=extractor, config=config, style_mix=mix)
    init = jnp.clip(jax.image.resize(first, content.shape, "cubic"), 0.0, 1.0)
    refine = dataclasses.replace(config, steps=max(1, config.steps // REFINE_DIVISOR))

    def one(content_tile, init_tile):
        target, grams = gatys_targets(content_tile[None], styles, mix, extractor, refine)
        return optimise_image(extractor, init_tile[None], target, grams, refine)[0][0]

    return map_tiles(one, content[0], plan.tile, init[0])[None]


def adain_tiled(model: AdaIN, content: jax.Array, styles: list[jax.Array], mix: list[float], alpha: float,
                plan: Plan) -> jax.Array:
    """AdaIN transfer of one large image ``(1, H, W, 3)``: encode tile by tile, re-style the whole feature map
    (the content statistics of the whole image), decode tile by tile."""
    h, w = content.shape[1:3]
    m = model.multiple
    feats = map_tiles(lambda t: encode(model, t[None])[0], pad_to_multiple(content, m)[0], plan.tile, scale=1 / m)
    target = sum(wt * adain(feats[None], encode(model, s), alpha=alpha) for s, wt in zip(styles, mix))
    out = map_tiles(lambda f: decode(model, f[None])[0], target[0], plan.tile // m, scale=m,
                    overlap=TILE_OVERLAP // m)
    return jnp.clip(out[:h, :w], 0.0, 1.0)[None]
