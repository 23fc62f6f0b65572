"""The training state every task returns from ``init`` and threads through ``train_step``."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState:
    """A pytree: ``params`` (any pytree, e.g. a dict of ``nnx.State``), ``opt_state``,
    ``step`` (int32 scalar) and ``key`` (a raw ``uint32[2]`` PRNG key).

    The per-step data key is ``fold_in(key, step)``, so a run is resumable from the
    seed and the step alone (as in vdm).
    """

    params: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array

    @classmethod
    def create(cls, params, opt_state, *, key: jax.Array) -> "TrainState":
        """A state at step 0; ``key`` may be a typed or a raw key."""
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        return cls(params=params, opt_state=opt_state, step=jnp.zeros((), jnp.int32), key=key)

    def replace(self, **changes) -> "TrainState":
        return dataclasses.replace(self, **changes)

    def next(self, params, opt_state) -> "TrainState":
        """The state after one optimiser update."""
        return self.replace(params=params, opt_state=opt_state, step=self.step + 1)


def apply_optimizer(opt, grads, opt_state, params):
    """One optax update: ``(params, opt_state)`` after applying ``grads``.

    optax computes Adam's bias correction as ``float ** int32``, which
    ``jax.numpy_dtype_promotion("strict")`` rejects; the update (optax code only)
    therefore runs under standard promotion, so strict mode still checks the task's own code.
    """
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state
