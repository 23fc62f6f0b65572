"""One training loop for every model: ``TrainState``, ``TrainConfig``, ``fit``, checkpoints, data parallelism."""

from .batches import ImageBatches
from .checkpoint import Checkpoints
from .config import TrainConfig
from .loop import fit, make_step
from .parallel import data_mesh, init_distributed, replicated, shard_batch
from .state import TrainState, apply_optimizer
from .writers import TensorBoardWriter

__all__ = [
    "Checkpoints",
    "ImageBatches",
    "TensorBoardWriter",
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
