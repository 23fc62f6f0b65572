"""``TrainConfig``: the loop's settings, validated, saved as JSON beside the checkpoints."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..errors import ConfigError
from ..io import atomic_write_json


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`~genstyle_causal.train.fit` (model hyper-parameters live in the task).

    Attributes:
      steps: total optimiser steps of the run (a resumed run continues up to it).
      seed: seeds the state's PRNG key; with ``steps`` it fixes the whole run.
      steps_per_call: optimiser steps fused into one jitted call with ``lax.scan``.
      log_every: steps between JSONL log lines and progress-bar updates.
      eval_every: steps between evaluations (0: never).
      checkpoint_every: steps between checkpoints (0: only at the end).
      keep_checkpoints: how many recent checkpoints to keep.
      progress: show a tqdm progress bar.
      data_parallel: shard the batch over all devices of a ``Mesh`` (params replicated).
      distributed: call ``jax.distributed.initialize()`` first (multi-host runs).
    """

    steps: int = 1000
    seed: int = 0
    steps_per_call: int = 1
    log_every: int = 100
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    progress: bool = True
    data_parallel: bool = False
    distributed: bool = False

    def __post_init__(self):
        _check_int(self, "steps", 1)
        _check_int(self, "seed", 0)
        _check_int(self, "steps_per_call", 1)
        _check_int(self, "log_every", 1)
        _check_int(self, "eval_every", 0)
        _check_int(self, "checkpoint_every", 0)
        _check_int(self, "keep_checkpoints", 1)
        for name in ("progress", "data_parallel", "distributed"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"TrainConfig.{name} must be a bool; got {getattr(self, name)!r}")
        for name in ("log_every", "eval_every", "checkpoint_every"):
            every = getattr(self, name)
            if every % self.steps_per_call:
                raise ConfigError(
                    f"TrainConfig.{name}={every} must be a multiple of steps_per_call={self.steps_per_call} "
                    "(logs, evaluations and checkpoints happen between jitted calls)"
                )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict; unknown keys raise :class:`ConfigError` listing the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown TrainConfig key(s) {unknown}; valid keys: {sorted(names)}")
        return cls(**d)

    def save(self, path: str | os.PathLike, **extra) -> None:
        """Write ``{"train": self, **extra}`` as JSON, atomically."""
        atomic_write_json(path, {"train": self.to_dict(), **extra})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainConfig":
        """Read the ``train`` section of a file written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text())["train"])


def _check_int(cfg, name: str, low: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"TrainConfig.{name} must be an integer >= {low}; got {value!r}")

