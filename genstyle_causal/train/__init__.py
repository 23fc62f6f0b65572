"""One training loop for every model: ``TrainState``, ``TrainConfig``, ``fit``, checkpoints, data parallelism."""

from .checkpoint import Checkpoints
from .config import TrainConfig
from .loop import fit, make_step
from .parallel import data_mesh, init_distributed, replicated, shard_batch
from .state import TrainState, apply_optimizer

__all__ = [
    "Checkpoints",
    "TrainConfig",
    "TrainState",
    "apply_optimizer",
    "data_mesh",
    "fit",
    "init_distributed",
    "make_step",
    "replicated",
    "shard_batch",
]
