"""Orbax checkpoints of a :class:`TrainState` (written to a temp folder, then renamed: atomic)."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from ..errors import CheckpointError
from .state import TrainState


class Checkpoints:
    """The ``checkpoints/`` folder of a run: save, list and restore states by step."""

    def __init__(self, directory: str | os.PathLike, *, keep: int = 2):
        self.directory = Path(directory).resolve()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    @property
    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, state: TrainState) -> int:
        step = int(jax.device_get(state.step))
        if step not in self._manager.all_steps():
            self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
            self._manager.wait_until_finished()
        return step

    def restore(self, like: TrainState, step: int | None = None) -> TrainState:
        """Restore the checkpoint at ``step`` (default: latest) into the structure of ``like``.

        ``like`` may be abstract (``jax.eval_shape`` of the task's ``init``); a
        checkpoint of another architecture raises :class:`CheckpointError`.
        """
        step = self.latest_step if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(
                f"checkpoint {self.directory / str(step)} does not match this task's state: {e}"
            ) from e

    def close(self) -> None:
        self._manager.close()
