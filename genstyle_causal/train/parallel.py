"""Data parallelism with ``jax.sharding``: one ``Mesh`` axis ``data``, batch sharded, params replicated.

The same code runs on one CPU, a GPU node or a TPU slice; multi-host runs call
:func:`init_distributed` first (``jax.distributed.initialize`` reads the cluster
from the environment), after which ``jax.devices()`` lists every host's devices.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import ShapeError

DATA_AXIS = "data"


def init_distributed() -> None:
    """Join a multi-host run (idempotent)."""
    if not jax.distributed.is_initialized():
        jax.distributed.initialize()


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: all devices of all hosts)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def shard_batch(batch, mesh: Mesh):
    """Constrain every array of ``batch`` to be split along its leading (batch) axis.

    Used inside ``jit``; raises :class:`ShapeError` when the batch size is not a
    multiple of the number of devices.
    """
    n = mesh.devices.size
    spec = NamedSharding(mesh, PartitionSpec(DATA_AXIS))

    def constrain(x):
        if x.ndim == 0 or x.shape[0] % n:
            raise ShapeError(
                f"data-parallel batch arrays need a leading axis divisible by the {n} devices; got shape {x.shape}"
            )
        return jax.lax.with_sharding_constraint(x, spec)

    return jax.tree.map(constrain, batch)
