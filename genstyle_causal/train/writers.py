"""Optional metric writers for :func:`~genstyle_causal.train.fit`, beside ``metrics.jsonl``.

A writer is any callable taking each logged record ``{"step": s, name: value}``
(with an optional ``close()``); :class:`TensorBoardWriter` sends the records to
TensorBoard event files through ``tensorboardX`` (the ``tensorboard`` extra).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


class TensorBoardWriter:
    """Write every numeric value of each record as a TensorBoard scalar at its step, into ``logdir``."""

    def __init__(self, logdir: str | Path):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ConfigError("TensorBoard logging needs tensorboardX: pip install 'genstyle-causal[tensorboard]'") from e
        self.logdir = Path(logdir)
        self._writer = SummaryWriter(logdir=str(self.logdir))

    def __call__(self, record: dict) -> None:
        step = int(record["step"])
        for name, value in record.items():
            if name != "step" and isinstance(value, (int, float)):
                self._writer.add_scalar(name, value, step)

    def close(self) -> None:
        self._writer.close()
