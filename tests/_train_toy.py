"""A toy regression task for the training-loop tests (also imported by the SIGINT subprocess)."""

import dataclasses

import jax
import jax.numpy as jnp
import optax

from genstyle_causal.train import TrainState, apply_optimizer

W_TRUE = jnp.asarray([1.0, -2.0, 0.5, 3.0], jnp.float32)


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    lr: float = 0.05
    nan_at: int = -1  # step whose loss is made NaN (-1: never)


@dataclasses.dataclass(frozen=True)
class ToyTask:
    """Least squares ``y = x @ w``; the loss falls to 0 as ``w -> W_TRUE``."""

    config: ToyConfig = ToyConfig()

    @property
    def opt(self):
        return optax.adam(self.config.lr)

    def init(self, key):
        params = {"w": jnp.zeros((4,), jnp.float32)}
        return TrainState.create(params, self.opt.init(params), key=key)

    def loss(self, params, batch):
        x, y = batch
        return jnp.mean((x @ params["w"] - y) ** 2)

    def train_step(self, state, batch):
        loss, grads = jax.value_and_grad(self.loss)(state.params, batch)
        loss = jnp.where(state.step == self.config.nan_at, jnp.float32(jnp.nan), loss)
        return state.next(*apply_optimizer(self.opt, grads, state.opt_state, state.params)), {"loss": loss}

    def eval_step(self, state, batch):
        return {"loss": self.loss(state.params, batch)}


def toy_batch(key, n=8):
    x = jax.random.normal(key, (n, 4), jnp.float32)
    return x, x @ W_TRUE
