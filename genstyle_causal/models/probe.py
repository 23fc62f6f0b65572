"""The factor probe: a small CNN that reads a dataset's true factors back from an image.

The causal audit measures "effect on the image"; the probe turns that into
"effect on a named factor". One shared conv trunk feeds one head per factor,
chosen by the factor's ``kind`` (:class:`~genstyle_causal.data.base.Factor`):

* ordinal grid factor: softmax over its grid (cross-entropy); ``predict`` returns the
  expected grid value under the softmax, ``predict_classes`` the arg-max index.
* categorical factor (dsprites shape): softmax as above, but ``predict`` returns the
  arg-max class value (an average of class codes means nothing) and the causal
  outcome reports one probability per class, so an effect is a class-probability
  contrast.
* continuous factor: regression of the value rescaled to [-1, 1] (squared error).
* circular factor (dsprites orientation): regression of ``(cos mθ, sin mθ)`` where
  ``m`` is the rotational symmetry order of the object in the image (the factor's
  ``symmetry``, picked by the predicted class of e.g. the shape). A square rotated by
  π/2 is the same image, so no probe can tell θ from θ + π/2; the probe reports the
  *canonical* orientation ``θ mod 2π/m``. Its paired :meth:`Probe.difference` is the
  angular difference modulo the symmetry both images share (period ``2π/lcm(m, m')``),
  so changing the shape alone never reads as a rotation.

Trained with :func:`genstyle_causal.train.fit` on batches rendered on device.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..data.base import GroundTruthData
from ..errors import CheckpointError, ConfigError, ShapeError
from ..io import atomic_path
from ..train import TrainConfig, TrainState, apply_optimizer, fit
from .layers import Down

Kind = Literal["discrete", "categorical", "continuous", "circular"]


@dataclasses.dataclass(frozen=True)
class Head:
    """How the probe reads one factor (static; saved with the probe)."""

    name: str
    kind: Kind
    values: tuple[float, ...]
    #: circular only: index of the factor whose class selects the symmetry order, and the orders.
    order_factor: int | None = None
    orders: tuple[int, ...] = (1,)
    #: categorical only: class names.
    labels: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return 2 if self.kind == "circular" else 1 if self.kind == "continuous" else len(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of this head's outcome columns: one per class for a categorical factor, else its name."""
        if self.kind != "categorical":
            return (self.name,)
        return tuple(f"{self.name}:{self.labels[c] if c < len(self.labels) else f'{v:g}'}"
                     for c, v in enumerate(self.values))


def heads_for(data: GroundTruthData) -> tuple[Head, ...]:
    """The probe heads of a dataset: one per factor, in factor order, by each factor's ``kind``."""
    heads = []
    for f in data.factors:
        if f.continuous:
            heads.append(Head(f.name, "continuous", (f.low, f.high)))
        elif f.kind == "circular":
            order_factor, orders = (None, (1,)) if f.symmetry is None else (data.factor_index(f.symmetry[0]),
                                                                            tuple(f.symmetry[1]))
            heads.append(Head(f.name, "circular", f.values, order_factor, orders))
        elif f.kind == "categorical":
            heads.append(Head(f.name, "categorical", f.values, labels=f.labels))
        else:
            heads.append(Head(f.name, "discrete", f.values))
    return tuple(heads)


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Architecture and optimiser of the probe.

    ``features``: channels of the stride-2 4×4 conv layers (each halves the image);
    ``dense``: width of the hidden dense layer; ``learning_rate``: Adam step size.
    """

    features: tuple[int, ...] = (32, 64, 64, 128)
    dense: int = 256
    learning_rate: float = 1e-3

    def __post_init__(self):
        if not self.features or any(int(c) < 1 for c in self.features):
            raise ConfigError(f"ProbeConfig.features must be a non-empty tuple of positive ints; got {self.features!r}")
        if int(self.dense) < 1:
            raise ConfigError(f"ProbeConfig.dense must be a positive int; got {self.dense!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"ProbeConfig.learning_rate must be > 0; got {self.learning_rate!r}")

    def check_image_shape(self, shape: tuple[int, int, int]) -> None:
        """Raise :class:`ConfigError` unless the image halves ``len(features)`` times exactly."""
        factor = 2 ** len(self.features)
        if shape[0] % factor or shape[1] % factor:
            raise ConfigError(
                f"ProbeConfig.features: {len(self.features)} stride-2 layers need an image size divisible by "
                f"{factor}; got image shape {tuple(shape)}"
            )


class ProbeNet(nnx.Module):
    """Conv trunk (4×4 stride-2 convs, fast :class:`~.layers.Down`, ReLU) + dense layer + one linear output for all heads."""

    def __init__(self, image_shape, config: ProbeConfig, out: int, *, rngs: nnx.Rngs):
        chans = (image_shape[2],) + tuple(config.features)
        self.convs = nnx.List([Down(a, b, rngs=rngs) for a, b in zip(chans[:-1], chans[1:])])
        side = (image_shape[0] // 2 ** len(config.features)) * (image_shape[1] // 2 ** len(config.features))
        self.dense = nnx.Linear(side * chans[-1], config.dense, rngs=rngs)
        self.out = nnx.Linear(config.dense, out, rngs=rngs)

    def __call__(self, x):
        for conv in self.convs:
            x = jax.nn.relu(conv(x))
        return self.out(jax.nn.relu(self.dense(x.reshape(x.shape[0], -1))))


def _split_outputs(heads, out):
    offsets = np.cumsum([0] + [h.width for h in heads])
    return [out[:, a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def _order(head: Head, classes: jax.Array) -> jax.Array:
    """Symmetry order ``m`` per sample (float32) from the class of ``head.order_factor``."""
    if head.order_factor is None:
        return jnp.ones(classes.shape[:1], jnp.float32)
    return jnp.asarray(head.orders, jnp.float32)[classes[:, head.order_factor]]


def _classes_of(heads, factors: jax.Array) -> jax.Array:
    """Nearest grid index of each true factor value (0 for continuous factors)."""
    cols = []
    for i, h in enumerate(heads):
        if h.kind == "continuous":
            cols.append(jnp.zeros(factors.shape[:1], jnp.int32))
        else:
            grid = jnp.asarray(h.values, jnp.float32)
            cols.append(jnp.argmin(jnp.abs(factors[:, i, None] - grid[None]), axis=1).astype(jnp.int32))
    return jnp.stack(cols, axis=1)


def _scale(h: Head, x):
    return (x - (h.high + h.low) / 2) / max((h.high - h.low) / 2, 1e-12)


def _unscale(h: Head, y):
    return y * ((h.high - h.low) / 2) + (h.high + h.low) / 2


def probe_loss(heads, out: jax.Array, factors: jax.Array) -> tuple[jax.Array, dict]:
    """Sum over heads of cross-entropy (grid factors) and squared error (continuous, circular).

    Returns the total and one loss per factor (``loss_<name>``).
    """
    classes = _classes_of(heads, factors)
    parts = {}
    for i, (h, o) in enumerate(zip(heads, _split_outputs(heads, out))):
        if h.kind in GRID_KINDS:
            loss = optax.softmax_cross_entropy_with_integer_labels(o, classes[:, i]).mean()
        elif h.kind == "continuous":
            loss = jnp.mean((o[:, 0] - _scale(h, factors[:, i])) ** 2)
        else:
            angle = _order(h, classes) * factors[:, i]
            target = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
            loss = jnp.mean(jnp.sum((o - target) ** 2, axis=1))
        parts[f"loss_{h.name}"] = loss
    return sum(parts.values()), parts


GRID_KINDS = ("discrete", "categorical")


def decode(heads, out: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Network outputs -> (factor estimates float32, grid classes int32 (-1 for continuous), outcome columns).

    The outcome columns are what the causal audit measures: the estimate of each
    factor, except a categorical factor, which gives one probability per class.
    """
    outs = _split_outputs(heads, out)
    classes = [jnp.argmax(o, axis=1).astype(jnp.int32) if h.kind in GRID_KINDS else None for h, o in zip(heads, outs)]
    filled = jnp.stack([c if c is not None else jnp.zeros(out.shape[:1], jnp.int32) for c in classes], axis=1)
    values, cls, columns = [], [], []
    for h, o, c in zip(heads, outs, classes):
        grid = jnp.asarray(h.values, jnp.float32)
        if h.kind in GRID_KINDS:
            p = jax.nn.softmax(o, axis=1)
            values.append(grid[c] if h.kind == "categorical" else p @ grid)
            cls.append(c)
        elif h.kind == "continuous":
            values.append(_unscale(h, o[:, 0]))
            cls.append(jnp.full(out.shape[:1], -1, jnp.int32))
        else:
            m = _order(h, filled)
            period = 2 * jnp.pi / m
            angle = jnp.mod(jnp.arctan2(o[:, 1], o[:, 0]) / m, period)
            values.append(angle)
            cls.append(jnp.argmin(jnp.abs(angle[:, None] - grid[None]), axis=1).astype(jnp.int32))
        columns.append(p if h.kind == "categorical" else values[-1][:, None])
    return (jnp.stack(values, axis=1).astype(jnp.float32), jnp.stack(cls, axis=1),
            jnp.concatenate(columns, axis=1).astype(jnp.float32))


def _column_offsets(heads) -> list[int]:
    return np.cumsum([0] + [len(h.columns) for h in heads]).tolist()


def column_difference(heads, y: jax.Array, base: jax.Array) -> jax.Array:
    """Paired difference ``y - base`` of outcome columns ``(..., m)``; circular columns give the angle turned.

    A circular column differs by the absolute angle between the two readings
    modulo the symmetry they share: period ``2π / lcm(m_y, m_base)`` with ``m``
    the symmetry order of the class each row reads (a square read at θ mod π/2
    and a heart read at θ differ by a multiple of π/2, which is no rotation of
    the square). It is a magnitude: rotations one way for squares and the other
    way for hearts must not cancel.
    """
    d = y - base
    offsets = _column_offsets(heads)
    for i, h in enumerate(heads):
        if h.kind == "circular":
            common = jnp.lcm(_read_order(heads, offsets, h, y), _read_order(heads, offsets, h, base))
            period = 2 * jnp.pi / common.astype(d.dtype)
            d = d.at[..., offsets[i]].set(jnp.abs(jnp.mod(d[..., offsets[i]] + period / 2, period) - period / 2))
    return d


def _read_order(heads, offsets, head: Head, columns: jax.Array) -> jax.Array:
    """Symmetry order (int32) of ``head`` for each row of outcome columns, from the class its order factor reads."""
    if head.order_factor is None:
        return jnp.ones(columns.shape[:-1], jnp.int32)
    g, a = heads[head.order_factor], offsets[head.order_factor]
    block = columns[..., a:a + len(g.columns)]
    grid = jnp.asarray(g.values, jnp.float32)
    cls = jnp.argmax(block, axis=-1) if g.kind == "categorical" else jnp.argmin(jnp.abs(block - grid), axis=-1)
    return jnp.asarray(head.orders, jnp.int32)[cls]


@jax.tree_util.register_pytree_node_class
class Probe:
    """A trained probe: ``predict``/``predict_classes``/``read`` on images ``(n, H, W, C)``.

    A pytree (params are its leaves), so it can be passed into ``jit``; ``outcome``
    is pure and jit-able.
    """

    def __init__(self, graphdef, params, *, heads, image_shape, config: ProbeConfig):
        self.graphdef, self.params = graphdef, params
        self.heads, self.image_shape, self.config = tuple(heads), tuple(image_shape), config

    def tree_flatten(self):
        return (self.params,), (self.graphdef, self.heads, self.image_shape, self.config)

    @classmethod
    def tree_unflatten(cls, static, children):
        graphdef, heads, image_shape, config = static
        return cls(graphdef, children[0], heads=heads, image_shape=image_shape, config=config)

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.heads)

    @property
    def outcome_names(self) -> tuple[str, ...]:
        """Names of the :attr:`outcome` columns (``shape:square``, ``scale``, …)."""
        return tuple(c for h in self.heads for c in h.columns)

    @property
    def outcome_groups(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Each factor's outcome columns: ``((factor, (column, ...)), ...)``."""
        offsets = _column_offsets(self.heads)
        return tuple((h.name, tuple(range(a, b))) for h, a, b in zip(self.heads, offsets[:-1], offsets[1:]))

    def _check(self, images) -> None:
        shape = getattr(images, "shape", None)
        if shape is None or len(shape) != 4 or tuple(shape[1:]) != self.image_shape:
            raise ShapeError(f"probe images must have shape (n, {', '.join(map(str, self.image_shape))}); got {shape}")

    def predict(self, images: jax.Array) -> jax.Array:
        """Factor estimates ``(n, k)`` float32 in each factor's own units (see module docstring)."""
        self._check(images)
        return _decode(self, images)[0]

    def read(self, images: jax.Array) -> jax.Array:
        """Outcome columns ``(n, len(outcome_names))`` float32: factor estimates, class probabilities for categorical factors."""
        self._check(images)
        return _decode(self, images)[2]

    def difference(self, y: jax.Array, base: jax.Array) -> jax.Array:
        """Paired per-sample difference of two :meth:`read` outputs (circular columns wrapped, see :func:`column_difference`)."""
        return column_difference(self.heads, y, base)

    def predict_classes(self, images: jax.Array) -> jax.Array:
        """Grid indices ``(n, k)`` int32 (arg-max; nearest grid angle for circular; -1 for continuous)."""
        self._check(images)
        return _decode(self, images)[1]

    @property
    def outcome(self):
        """The outcome function for the causal module (pure, jit-able): :meth:`read`, with
        :attr:`outcome_names`, :attr:`outcome_groups` and the paired :meth:`difference`."""
        return self.read

    # -- files ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the probe to one ``.npz`` file (params + JSON metadata), atomically."""
        path = Path(path).resolve()
        meta = {
            "format": FORMAT,
            "image_shape": list(self.image_shape),
            "config": dataclasses.asdict(self.config),
            "heads": [dataclasses.asdict(h) for h in self.heads],
        }
        arrays = {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(self.params)}
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, __meta__=np.asarray(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Probe":
        """Read a probe written by :meth:`save` (no pickle); raises :class:`CheckpointError`."""
        path = Path(path).resolve()
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            meta = json.loads(str(arrays.pop("__meta__")))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                got = meta.get("format") if isinstance(meta, dict) else meta
                raise CheckpointError(f"{path} is not a probe file (format {got!r}, expected {FORMAT!r})")
            config = ProbeConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
            heads = tuple(Head(**{k: tuple(v) if isinstance(v, list) else v for k, v in h.items()})
                          for h in meta["heads"])
            image_shape = tuple(int(n) for n in meta["image_shape"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"cannot read probe file {path}: {type(e).__name__}: {e}") from None
        graphdef, abstract = nnx.split(nnx.eval_shape(lambda: _network(heads, image_shape, config, jax.random.key(0))))

        def fill(p, like):
            name = jax.tree_util.keystr(p)
            if name not in arrays or arrays[name].shape != like.shape:
                got = arrays[name].shape if name in arrays else "missing"
                raise CheckpointError(f"probe file {path}: parameter {name} should have shape {like.shape}; got {got}")
            return jnp.asarray(arrays[name], like.dtype)

        params = jax.tree_util.tree_map_with_path(fill, abstract)
        return cls(graphdef, params, heads=heads, image_shape=image_shape, config=config)


FORMAT = "genstyle_causal.probe/1"


def _network(heads, image_shape, config: ProbeConfig, key) -> ProbeNet:
    config.check_image_shape(image_shape)
    return ProbeNet(image_shape, config, sum(h.width for h in heads), rngs=nnx.Rngs(params=key))


@jax.jit
def _decode(probe: Probe, images: jax.Array):
    out = nnx.merge(probe.graphdef, probe.params)(images.astype(jnp.float32))
    return decode(probe.heads, out)


@dataclasses.dataclass(frozen=True)
class ProbeTask:
    """The probe as a :func:`~genstyle_causal.train.fit` task; batches are ``(factors, images)``."""

    heads: tuple[Head, ...]
    image_shape: tuple[int, int, int]
    config: ProbeConfig = ProbeConfig()

    @functools.cached_property
    def graphdef(self):
        return nnx.split(nnx.eval_shape(lambda: self.network(jax.random.key(0))))[0]

    def network(self, key) -> ProbeNet:
        return _network(self.heads, self.image_shape, self.config, key)

    @property
    def optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.config.learning_rate)

    def init(self, key: jax.Array) -> TrainState:
        return jax.jit(self._init)(key)

    def _init(self, key):
        params = nnx.state(self.network(key))
        return TrainState.create(params, self.optimizer.init(params), key=key)

    def _loss(self, params, batch):
        factors, images = batch
        return probe_loss(self.heads, nnx.merge(self.graphdef, params)(images), factors)

    def train_step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        (loss, parts), grads = jax.value_and_grad(self._loss, has_aux=True)(state.params, batch)
        params, opt_state = apply_optimizer(self.optimizer, grads, state.opt_state, state.params)
        return state.next(params, opt_state), {"loss": loss, **parts}

    def eval_step(self, state: TrainState, batch) -> dict:
        return self._loss(state.params, batch)[1]

    def probe(self, state: TrainState) -> Probe:
        return Probe(self.graphdef, state.params, heads=self.heads, image_shape=self.image_shape, config=self.config)


@dataclasses.dataclass(frozen=True)
class FactorBatches:
    """``key -> (factors, images)`` rendered from ``data``: the probe's pure, hashable batch function."""

    data: GroundTruthData
    batch_size: int

    def __call__(self, key: jax.Array):
        return self.data.sample(key, self.batch_size)


#: Optimiser steps fused into one jitted call (``lax.scan``): fewer dispatches, same trajectory shape.
_STEPS_PER_CALL = 50


def train_probe(
    data: GroundTruthData,
    *,
    key: jax.Array,
    steps: int,
    batch_size: int = 64,
    workdir: str | os.PathLike | None = None,
    config: ProbeConfig = ProbeConfig(),
    progress: bool = False,
) -> Probe:
    """Train a probe on images rendered from ``data`` for ``steps`` Adam steps.

    ``key`` fixes the run (it becomes the loop's seed); with ``workdir`` the run is
    checkpointed and resumable and the probe is also saved as ``workdir/probe.npz``.
    """
    if int(batch_size) < 1:
        raise ConfigError(f"train_probe: batch_size must be a positive int; got {batch_size!r}")
    spc = max(1, min(_STEPS_PER_CALL, int(steps)))
    train = TrainConfig(steps=int(steps), seed=int(jax.random.randint(key, (), 0, np.iinfo(np.int32).max)),
                        steps_per_call=spc, log_every=spc * max(1, round(100 / spc)), progress=progress)
    task = ProbeTask(heads_for(data), tuple(data.image_shape), config)
    config.check_image_shape(task.image_shape)
    state, _ = fit(task, FactorBatches(data, int(batch_size)), train, workdir=workdir)
    probe = task.probe(state)
    if workdir is not None:
        probe.save(Path(workdir) / "probe.npz")
    return probe
