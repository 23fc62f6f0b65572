"""AdaIN style transfer (Huang & Belongie 2017): fixed encoder -> AdaIN -> trained decoder.

The encoder is an :class:`Extractor` cut at ``config.layer``; the decoder mirrors
it (3×3 conv + ReLU, nearest ×2 upsampling per pooling; fewer convolutions per
block than the paper's VGG19 decoder) and is trained with the package's
:func:`~genstyle_causal.train.fit` on styleshapes renders and the shipped sample
images. The default loss is the paper's mean/std style loss over the style
layers (eq. 13) plus an identity term (the decoder reproduces an image re-styled
with its own statistics); ``content_weight`` > 0 adds the paper's content loss on
the AdaIN target (eq. 12); with content and style weights 0 the decoder is a pure
reconstruction decoder (Li et al. 2017), which needs no backward pass through VGG.

The encoder output is the *content features* hook of the causal module: the
:func:`adain_generator` stages are ``features`` (encoder) then ``image`` (decoder),
so a ``SwapStyle`` at ``features`` is exactly AdaIN with the donor's statistics.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ...data import StyleShapes, sample_images
from ...errors import CheckpointError, ConfigError, ShapeError
from ...generator import Generator, Stage
from ...io import atomic_path
from ...train import TrainConfig, TrainState, apply_optimizer, fit
from ..layers import conv2d
from .features import Extractor, Preprocess, build_stack, default_extractor, vgg16_features
from .gatys import as_batch, style_list
from .stats import adain, adain_from_stats, mean_std


@dataclasses.dataclass(frozen=True)
class AdaINConfig:
    """Model and training settings (saved with the model).

    Attributes:
      layer: encoder output layer (``relu4_1`` in the paper for VGG19).
      content_weight, style_weight: weights of the content loss and λ of the style loss (eq. 11); both 0 gives
        a pure reconstruction decoder (Li et al. 2017, "Universal style transfer via feature transforms": the
        decoder only inverts the encoder, the style transfer happens in feature space), which needs no backward
        pass through the loss network.
      identity_weight: weight of the identity loss ``||g(f(c)) - c||²`` (the decoder must reproduce an image
        re-styled with its own statistics, as in Park & Lee 2019): direct pixel gradients, which make a
        small decoder converge in a few hundred CPU steps.

    The defaults (style 30, identity 300, no content term) won a sweep of 14 recipes scored against the true
    styleshapes factors (README, "AdaIN"): the paper's content loss on the AdaIN target pulls the decoded
    colours towards the content image's (hue read as the donor's in 0.88 of swaps with it, 0.98 without, both
    at style weight 30), while the identity term keeps the silhouette.
      learning_rate: Adam step size of the decoder.
      image_size, batch_size: training crops and batch.
    """

    layer: str = "relu2_1"
    content_weight: float = 0.0
    style_weight: float = 30.0
    identity_weight: float = 300.0
    learning_rate: float = 1e-3
    image_size: int = 32
    batch_size: int = 32


def _upsample2(x: jax.Array) -> jax.Array:
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class Decoder(nnx.Module):
    """Mirror of the encoder: per pooling, conv + ReLU to the shallower block's width then nearest ×2 upsampling;
    then conv + ReLU and a linear conv to RGB at full resolution."""

    def __init__(self, in_channels: int, widths: Sequence[int], *, rngs: nnx.Rngs):
        """``widths``: the encoder's output width of each block from the shallowest to the one before the cut."""
        convs, c = [], in_channels
        for w in reversed(widths):
            convs.append(nnx.Conv(c, w, (3, 3), padding="SAME", rngs=rngs))
            c = w
        self.ups = nnx.List(convs)
        self.full = nnx.Conv(c, c, (3, 3), padding="SAME", rngs=rngs)
        self.last = nnx.Conv(c, 3, (3, 3), padding="SAME", rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for conv in self.ups:
            x = _upsample2(jax.nn.relu(_reflect_conv(conv, x)))
        return _reflect_conv(self.last, jax.nn.relu(_reflect_conv(self.full, x)))


def _reflect_conv(conv: nnx.Conv, x: jax.Array) -> jax.Array:
    """A 3×3 ``conv`` with reflection instead of zero padding (no dark frame at the borders, as in Huang & Belongie's
    decoder), through the backend's fast convolution."""
    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    return conv2d(x, conv.kernel[...], ((0, 0), (0, 0))) + conv.bias[...]


def _decoder_shape(extractor: Extractor, layer: str) -> tuple[int, tuple[int, ...]]:
    """(input channels, per-block widths to restore) for a decoder undoing ``extractor`` up to ``layer``."""
    pools = extractor.min_size([layer]).bit_length() - 1
    return extractor.channels(layer), tuple(block[-1] for block in extractor.widths[:pools])


@jax.tree_util.register_pytree_node_class
class AdaIN:
    """A trained AdaIN model: ``extractor`` (frozen encoder and loss network) and the decoder's params.

    A pytree (weights are leaves), so it passes through ``jit`` and serves as
    :attr:`Generator.params`.
    """

    def __init__(self, extractor: Extractor, decoder_def, decoder_params, config: AdaINConfig):
        self.extractor, self.decoder_def, self.decoder_params, self.config = (
            extractor, decoder_def, decoder_params, config)

    def tree_flatten(self):
        return (self.extractor, self.decoder_params), (self.decoder_def, self.config)

    @classmethod
    def tree_unflatten(cls, static, children):
        return cls(children[0], static[0], children[1], static[1])

    @property
    def style_layers(self) -> tuple[str, ...]:
        """Style-loss layers: the extractor's style layers no deeper than the encoder layer."""
        names = self.extractor.layer_names
        return tuple(k for k in self.extractor.style_layers if names.index(k) <= names.index(self.config.layer))

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this for the decoder to restore the input size."""
        return self.extractor.min_size([self.config.layer])


def adain_skeleton(extractor: Extractor | None = None, config: AdaINConfig = AdaINConfig()) -> AdaIN:
    """An AdaIN model whose decoder params are abstract (``ShapeDtypeStruct``): structure without FLOPs."""
    extractor = extractor or default_extractor()
    extractor.check_layers([config.layer])
    c, widths = _decoder_shape(extractor, config.layer)
    graphdef, state = nnx.split(nnx.eval_shape(lambda: Decoder(c, widths, rngs=nnx.Rngs(0))))
    return AdaIN(extractor, graphdef, state, config)


def init_adain(extractor: Extractor | None = None, config: AdaINConfig = AdaINConfig(), *, key: jax.Array) -> AdaIN:
    """An AdaIN model with a freshly initialised decoder."""
    model = adain_skeleton(extractor, config)
    state = _decoder_state(*_decoder_shape(model.extractor, config.layer), key)
    return AdaIN(model.extractor, model.decoder_def, state, config)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _decoder_state(channels: int, widths: tuple[int, ...], key: jax.Array):
    """A fresh decoder's params, its random init compiled once per shape."""
    return nnx.split(Decoder(channels, widths, rngs=nnx.Rngs(key)))[1]


@jax.jit
def encode(model: AdaIN, images: jax.Array) -> jax.Array:
    """Content features ``(n, h, w, c)``: the encoder's output at ``model.config.layer``."""
    return model.extractor(images, [model.config.layer])[model.config.layer]


@jax.jit
def decode(model: AdaIN, features: jax.Array) -> jax.Array:
    """Images ``(n, H, W, 3)`` (unclipped) from encoder-layer features."""
    return nnx.merge(model.decoder_def, model.decoder_params)(features)


@jax.jit
def decode_with_style(model: AdaIN, content_features: jax.Array, mean: jax.Array, std: jax.Array,
                      alpha: float = 1.0) -> jax.Array:
    """Decode content features re-styled with per-channel ``mean``/``std`` ``(n, c)`` (AdaIN, eq. 8)."""
    return decode(model, adain_from_stats(content_features, mean, std, alpha))


def adain_loss(decoder_params, model: AdaIN, content: jax.Array, style: jax.Array):
    """Huang & Belongie 2017 eq. 11–13, ``||f(g(t)) - t||² + λ Σ_i ||μ, σ of φ_i(g(t)) - of φ_i(s)||²``, plus
    ``identity_weight × ||g(f(c)) - c||²`` (AdaIN of the content with its own statistics is the identity).
    Terms with weight 0 are not computed."""
    model = AdaIN(model.extractor, model.decoder_def, decoder_params, model.config)
    cfg, ext, layer = model.config, model.extractor, model.config.layer
    f_content = ext(content, [layer])[layer]
    parts = {}
    if cfg.content_weight or cfg.style_weight:
        layers = tuple(dict.fromkeys(model.style_layers + (layer,)))
        f_style = ext(style, layers)
        target = adain(f_content, f_style[layer])
        f_out = ext(decode(model, target), layers)
        parts["content"] = (cfg.content_weight, jnp.mean(jnp.square(f_out[layer] - target)))
        l_style = 0.0
        for k in model.style_layers:
            (mo, so), (ms, ss) = mean_std(f_out[k]), mean_std(f_style[k])
            l_style = l_style + jnp.mean(jnp.square(mo - ms)) + jnp.mean(jnp.square(so - ss))
        parts["style"] = (cfg.style_weight, l_style)
    if cfg.identity_weight:
        parts["identity"] = (cfg.identity_weight, jnp.mean(jnp.square(decode(model, f_content) - content)))
    total = sum(w * v for w, v in parts.values())
    return total, {"loss": total, **{k: v for k, (_, v) in parts.items()}}


@dataclasses.dataclass(frozen=True, eq=False)
class AdaINTask:
    """Training task for :func:`~genstyle_causal.train.fit`: only the decoder's params are trained."""

    model: AdaIN

    @property
    def config(self) -> AdaINConfig:
        return self.model.config

    @property
    def optimizer(self):
        return optax.adam(self.config.learning_rate)

    def init(self, key: jax.Array) -> TrainState:
        params = init_adain(self.model.extractor, self.config, key=key).decoder_params
        return TrainState.create(params, self.optimizer.init(params), key=key)

    def train_step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        content, style = batch
        grads, metrics = jax.grad(adain_loss, has_aux=True)(state.params, self.model, content, style)
        params, opt_state = apply_optimizer(self.optimizer, grads, state.opt_state, state.params)
        return state.next(params, opt_state), metrics


@dataclasses.dataclass(frozen=True, eq=False)
class AdaINBatches:
    """Pure ``key -> (content, style)``: half styleshapes renders, half random crops of the sample images.

    Styles are the same mix, drawn independently and paired at random with the
    contents (shape/shape, shape/photo, photo/shape, photo/photo), so the decoder
    learns to restyle, not to copy.
    """

    image_size: int
    batch_size: int
    pool: jax.Array  # (m, S, S, 3) sample images, S >= image_size

    def crops(self, key: jax.Array, n: int) -> jax.Array:
        k_idx, k_pos, k_flip = jax.random.split(key, 3)
        s = self.image_size
        idx = jax.random.randint(k_idx, (n,), 0, self.pool.shape[0])
        pos = jax.random.randint(k_pos, (n, 2), 0, self.pool.shape[1] - s + 1)
        flip = jax.random.bernoulli(k_flip, 0.5, (n,))

        def one(i, p, f):
            crop = jax.lax.dynamic_slice(self.pool[i], (p[0], p[1], 0), (s, s, 3))
            return jnp.where(f, crop[:, ::-1], crop)

        return jax.vmap(one)(idx, pos, flip)

    def mix(self, key: jax.Array) -> jax.Array:
        """``batch_size`` images: styleshapes renders then photo crops."""
        n_shapes = self.batch_size // 2
        k_shapes, k_crops = jax.random.split(key)
        shapes = StyleShapes(size=self.image_size).sample(k_shapes, n_shapes)[1]
        return jnp.concatenate([shapes, self.crops(k_crops, self.batch_size - n_shapes)])

    @functools.partial(jax.jit, static_argnums=0)
    def __call__(self, key: jax.Array):
        k_content, k_style, k_pair = jax.random.split(key, 3)
        style = self.mix(k_style)
        return self.mix(k_content), style[jax.random.permutation(k_pair, self.batch_size)]


def adain_batches(config: AdaINConfig) -> AdaINBatches:
    """The default training data of :func:`train_adain` (sample images loaded at twice the crop size)."""
    pool = jnp.asarray(sample_images(size=2 * config.image_size))
    return AdaINBatches(config.image_size, config.batch_size, pool)


def train_adain(extractor: Extractor | None = None, config: AdaINConfig = AdaINConfig(), *,
                train: TrainConfig = TrainConfig(steps=2000, log_every=100), workdir: str | Path | None = None,
                batch_fn=None) -> tuple[AdaIN, list[dict]]:
    """Train the AdaIN decoder with :func:`~genstyle_causal.train.fit`; returns the model and the metric history.

    ``batch_fn`` (pure ``key -> (content, style)``) defaults to :func:`adain_batches`.
    """
    extractor = extractor or default_extractor()
    multiple = extractor.min_size(extractor.check_layers([config.layer]))
    if config.image_size % multiple:
        raise ConfigError(f"image_size {config.image_size} must be a multiple of {multiple} for layer {config.layer!r}")
    model = adain_skeleton(extractor, config)
    state, history = fit(AdaINTask(model), batch_fn or adain_batches(config), train, workdir=workdir)
    return AdaIN(model.extractor, model.decoder_def, state.params, config), history


def pad_to_multiple(images: jax.Array, multiple: int) -> jax.Array:
    """Reflect-pad ``(n, H, W, 3)`` at the bottom/right to sides that are multiples of ``multiple``."""
    h, w = images.shape[1:3]
    ph, pw = -h % multiple, -w % multiple
    return jnp.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else images


def adain_transfer(model: AdaIN, content, styles, *, alpha: float = 1.0,
                   style_mix: Sequence[float] | None = None) -> jax.Array:
    """Stylise ``content`` (any size) with one or several styles (Huang & Belongie 2017, sec. 7.1).

    Several styles are mixed by a weighted sum of their AdaIN targets; ``alpha``
    blends with the content features. Output ``(n, H, W, 3)`` clipped to [0, 1].
    """
    content = as_batch(content, "content image")
    styles, mix = style_list(styles, style_mix)
    h, w = content.shape[1:3]
    layer = model.config.layer
    model.extractor.check_images(content, [layer])
    f_content = encode(model, pad_to_multiple(content, model.multiple))
    target = 0.0
    for s, wt in zip(styles, mix):
        model.extractor.check_images(s, [layer])
        target = target + wt * adain(f_content, encode(model, s), alpha=alpha)
    return jnp.clip(decode(model, target)[:, :h, :w], 0.0, 1.0)


# -- save / load ---------------------------------------------------------------------

def _flat(tree) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _unflat(template, arrays: dict[str, np.ndarray], path: Path, what: str):
    def take(p, leaf):
        k = jax.tree_util.keystr(p)
        if k not in arrays or arrays[k].shape != leaf.shape:
            raise CheckpointError(f"{path}: {what} array {k!r} is missing or has the wrong shape (expected {leaf.shape})")
        return jnp.asarray(arrays[k])

    return jax.tree_util.tree_map_with_path(take, template)


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


# extractors that ship with the package: a saved model names them instead of storing their weights
SHIPPED_EXTRACTORS = {"vgg16": vgg16_features}
SHIPPED_MODEL = "adain_vgg16.npz"  # in genstyle_causal/assets


def save_adain(model: AdaIN, path: str | Path) -> Path:
    """Write the model (decoder params, settings, encoder) to one ``.npz``, atomically.

    A shipped encoder (:data:`SHIPPED_EXTRACTORS`) is stored by name, any other one
    with its weights.
    """
    path = Path(path)
    ext = model.extractor
    meta = {"config": dataclasses.asdict(model.config)}
    arrays = {f"decoder{k}": v for k, v in _flat(model.decoder_params).items()}
    if ext.name in SHIPPED_EXTRACTORS:
        meta["extractor"] = {"shipped": ext.name}
    else:
        meta["extractor"] = {"name": ext.name, "widths": ext.widths, "pool": nnx.merge(ext.graphdef, ext.state).pool,
                             "preprocess": dataclasses.asdict(ext.preprocess), "style_layers": ext.style_layers,
                             "content_layer": ext.content_layer}
        arrays.update({f"encoder{k}": v for k, v in _flat(ext.state).items()})
    with atomic_path(path) as tmp:
        np.savez(tmp, meta=np.asarray(json.dumps(meta)), **arrays)
    return path


def _load_extractor(e: dict, arrays: dict[str, np.ndarray], path: Path) -> Extractor:
    if "shipped" in e:
        if e["shipped"] not in SHIPPED_EXTRACTORS:
            raise CheckpointError(f"{path}: unknown shipped encoder {e['shipped']!r}; "
                                  f"this version ships {sorted(SHIPPED_EXTRACTORS)}")
        return SHIPPED_EXTRACTORS[e["shipped"]]()
    graphdef, template = build_stack(tuple(tuple(b) for b in e["widths"]), [], e["pool"])
    encoder = _unflat(template, _prefixed(arrays, "encoder"), path, "encoder")
    preprocess = Preprocess(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in e["preprocess"].items()})
    return Extractor(graphdef, encoder, preprocess=preprocess, style_layers=e["style_layers"],
                     content_layer=e["content_layer"], name=e["name"])


def load_adain(path: str | Path) -> AdaIN:
    """Read a model written by :func:`save_adain` (``allow_pickle=False``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("meta")))
        config = AdaINConfig(**meta["config"])
        extractor = _load_extractor(meta["extractor"], arrays, path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"cannot read AdaIN model {path}: {err}") from None
    skeleton = adain_skeleton(extractor, config)
    decoder = _unflat(skeleton.decoder_params, _prefixed(arrays, "decoder"), path, "decoder")
    return AdaIN(extractor, skeleton.decoder_def, decoder, config)


@functools.lru_cache(maxsize=None)
def shipped_adain() -> AdaIN:
    """The AdaIN model shipped with the package: the trained VGG16 encoder to ``relu2_1`` and a small decoder.

    Trained by ``genstyle-causal train --set model=adain`` with the defaults of
    :class:`AdaINConfig` (see the README's recipe); offline, nothing downloaded.
    """
    with resources.as_file(resources.files("genstyle_causal") / "assets" / SHIPPED_MODEL) as p:
        return load_adain(p)


# -- the generator for the causal module ----------------------------------------------

@dataclasses.dataclass(frozen=True)
class _EncodeStage:
    image_shape: tuple[int, int, int]

    def __call__(self, model: AdaIN, z: jax.Array) -> jax.Array:
        return encode(model, z.reshape((z.shape[0],) + self.image_shape))


def _decode_stage(model: AdaIN, h: jax.Array) -> jax.Array:
    return jnp.clip(decode(model, h), 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class _ImagePrior:
    data: StyleShapes

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return self.data.sample(key, n)[1].reshape(n, -1)


def adain_generator(model: AdaIN, image_shape: tuple[int, int, int], *, data=None) -> Generator:
    """The AdaIN model as a :class:`Generator`: latent = flattened content image ``(n, H*W*3)``,
    stages ``features`` (encoder output, NHWC) then ``image`` (decoder, clipped to [0, 1]).

    ``prior`` draws content images from ``data`` (default ``StyleShapes(size=H)``).
    """
    h, w, c = image_shape
    if c != 3 or h % model.multiple or w % model.multiple:
        raise ShapeError(f"image_shape must be (H, W, 3) with H, W multiples of {model.multiple}; got {image_shape}")
    if data is None:
        if h != w:
            raise ConfigError(f"non-square image_shape {image_shape} needs a data= source for the prior")
        data = StyleShapes(size=h)
    return Generator(
        [Stage("features", _EncodeStage((h, w, c))), Stage("image", _decode_stage)],
        model,
        latent_names=[f"pixel{i}" for i in range(h * w * c)],
        prior=_ImagePrior(data),
        name="adain",
    )
