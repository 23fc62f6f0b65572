"""Verified orbax checkpoints of a :class:`TrainState`.

Orbax writes each step to a temporary folder and renames it (atomic); after that this
module writes a SHA-256 manifest of the step's files (``<step>/sha256.json``), checked
on restore. A damaged step (changed, truncated or missing file, or unreadable) is
skipped with a :class:`~genstyle_causal.errors.CheckpointWarning` naming it, and the
newest intact step is restored instead. A failed save (full disk, no permission)
removes its temporary folder, keeps every earlier step, and raises one
:class:`~genstyle_causal.errors.CheckpointError` line naming the folder and the free space.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from ..errors import CheckpointError, CheckpointWarning
from ..io import atomic_write_json, disk_free
from .state import TrainState

MANIFEST = "sha256.json"
_FORMAT = "genstyle_causal.checkpoint-sha256/1"


class Checkpoints:
    """The ``checkpoints/`` folder of a run: save, list and restore states by step.

    Args:
      directory: the folder (created on the first save unless ``read_only``).
      keep: how many recent steps to keep.
      read_only: only list and restore (for audits of a run another process may be training):
        nothing is created, cleaned or deleted.
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 2, read_only: bool = False):
        self.directory = Path(directory).resolve()
        self.read_only = read_only
        if not read_only:
            _remove_temporary(self.directory)
        # orbax's own read_only option logs a warning line; not creating and never saving is the same here
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                               enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    @property
    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, state: TrainState) -> int:
        """Save ``state`` under its step (a damaged step of that number is replaced); returns the step."""
        if self.read_only:
            raise CheckpointError(f"checkpoints in {self.directory} were opened read only")
        step = int(jax.device_get(state.step))
        if step in self._manager.all_steps():
            if damage(self.directory / str(step)) is None:
                return step
            self._manager.delete(step)
        try:
            with _quiet("absl"):  # orbax logs each failed writer thread with a traceback; one error is ours
                self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
                self._manager.wait_until_finished()
            write_manifest(self.directory / str(step))
        except Exception as e:  # orbax reports a full disk as ValueError, others as OSError
            _remove_temporary(self.directory)
            raise CheckpointError(self._save_failure(step, e)) from e
        return step

    def _save_failure(self, step: int, e: Exception) -> str:
        text = str(e)
        if getattr(e, "errno", None) == errno.ENOSPC or "RESOURCE_EXHAUSTED" in text or "No space" in text:
            reason = "the disk is full"
        elif isinstance(e, PermissionError) or "PERMISSION_DENIED" in text or "Permission denied" in text:
            reason = "permission denied"
        elif getattr(e, "errno", None) == errno.EROFS or "Read-only file system" in text:
            reason = "the file system is read-only"
        else:
            reason = text.strip().splitlines()[0] if text.strip() else type(e).__name__
        earlier = [s for s in self.all_steps() if s != step]
        kept = f"step {earlier[-1]} is intact" if earlier else "no earlier checkpoint"
        return (f"cannot write checkpoint step {step} to {self.directory}: {reason} ({disk_free(self.directory)} "
                f"free); {kept}")

    def restore(self, like: TrainState, step: int | None = None) -> TrainState:
        """Restore the checkpoint at ``step`` (default: the newest intact one) into the structure of ``like``.

        ``like`` may be abstract (``jax.eval_shape`` of the task's ``init``). Damaged steps are skipped with a
        :class:`CheckpointWarning`; a checkpoint of another architecture raises :class:`CheckpointError`.
        """
        steps = self.all_steps()
        if not steps or (step is not None and step not in steps):
            raise CheckpointError(f"no checkpoint{'' if step is None else f' at step {step}'} in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        skipped = []
        for s in [step] if step is not None else steps[::-1]:
            folder = self.directory / str(s)
            problem = damage(folder)
            if problem is None:
                try:
                    state = self._manager.restore(s, args=ocp.args.StandardRestore(abstract))
                except Exception as e:  # noqa: BLE001 - orbax/tensorstore raise many types for unreadable data
                    if (folder / MANIFEST).is_file() and isinstance(e, (ValueError, KeyError, TypeError)):
                        raise CheckpointError(f"checkpoint {folder} does not match this task's state: "
                                              f"{_first_line(e)}") from e
                    problem = f"unreadable: {_first_line(e)}"
                else:
                    if skipped:
                        warnings.warn(CheckpointWarning(
                            f"skipped damaged checkpoint {'; '.join(skipped)}; restored step {s} from "
                            f"{self.directory}"), stacklevel=2)
                    return state
            skipped.append(f"step {s} ({problem})")
        raise CheckpointError(f"no intact checkpoint in {self.directory}: {'; '.join(skipped)}")

    def close(self) -> None:
        self._manager.close()


def saved_steps(directory: str | os.PathLike) -> list[int]:
    """The finished steps in a checkpoints folder, oldest first (read without orbax: nothing is created)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit())


def newest_intact(directory: str | os.PathLike) -> tuple[int | None, list[str]]:
    """``(newest step that matches its manifest or has none, ["step N (what is wrong)", ...] newer ones)``."""
    skipped = []
    for step in saved_steps(directory)[::-1]:
        problem = damage(Path(directory) / str(step))
        if problem is None:
            return step, skipped
        skipped.append(f"step {step} ({problem})")
    return None, skipped


def write_manifest(folder: Path) -> None:
    """Record the SHA-256 of every file of a finished step in ``folder/sha256.json``."""
    atomic_write_json(folder / MANIFEST, {"format": _FORMAT, "files": _digests(folder)})


def damage(folder: Path) -> str | None:
    """What is wrong with a saved step (a changed or missing file), or ``None`` if it matches its manifest.

    A step without a manifest (written before manifests, or cut off right after orbax finished it)
    is not judged here; its restore still fails cleanly if it cannot be read.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"its manifest {path.name} is unreadable"
    actual = _digests(folder)
    for name, digest in sorted(saved.items()):
        if name not in actual:
            return f"missing file {name}"
        if actual[name] != digest:
            return f"checksum mismatch in {name}"
    return None


def _digests(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[p.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def _remove_temporary(directory: Path) -> None:
    """Remove orbax's temporary step folders left by an interrupted or failed save."""
    if directory.is_dir():
        for p in directory.iterdir():
            if ".orbax-checkpoint-tmp" in p.name:
                shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _quiet(logger: str):
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__
