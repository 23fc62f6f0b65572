"""A run directory as a contract.

Everything a command will need is checked before it writes anything; while it writes,
it holds the directory's lock (a second process gets "run ... is in use by pid N");
and a start that fails leaves nothing behind: a directory this call created is removed
again, and in an existing one only what this call added is removed, unless the run got
far enough to have something worth keeping (``keep``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConfigError, RunInUseError
from .io import atomic_write_text, check_writable

LOCK = ".lock"
PID = ".lock.pid"
#: Files that say which command a run directory belongs to.
RUN_FILES = {"train": "train.json", "audit": "config.json", "demo": "config.json"}


def check_run_directory(path: str | Path, command: str, config: type | None = None) -> None:
    """Raise unless ``command`` may write its run into ``path``: a writable folder (or creatable), holding
    no run of another command (for audit and demo: a ``config.json`` that is a ``config``). Reads only."""
    from .config import from_dict, read_file

    path = Path(path)
    check_writable(path, folder=True)
    if not path.is_dir():
        return
    own = path / RUN_FILES[command]
    if command != "train" and (path / RUN_FILES["train"]).is_file():
        raise ConfigError(f"{path} is a train run; {command} never writes into a train run's files "
                          f"(use another --out, e.g. {path / command})")
    if command == "train" and not own.is_file() and (path / "config.json").is_file():
        raise ConfigError(f"{path} holds the run of another command (config.json without train.json); "
                          "use another --out")
    if config is not None and own.is_file():
        try:
            from_dict(config, read_file(own))
        except ConfigError:
            raise ConfigError(f"{path} holds the run of another command ({own.name} is not a configuration of "
                              f"{command}); use another --out") from None


@contextlib.contextmanager
def open_run(path: str | Path, *, keep: Callable[[Path], bool]) -> Iterator[Path]:
    """Create (if needed) and lock the run directory ``path`` for the ``with`` body.

    If the body raises and ``keep(path)`` is false, everything this call created is removed:
    the directory (and parents) if it made them, else the entries it added.
    """
    path = Path(path)
    top = next((p for p in [*reversed(path.absolute().parents), path.absolute()] if not p.exists()), None)
    before = set() if top is not None else {p.name for p in path.iterdir()}
    path.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        with _locked(path):
            try:
                yield path
            except BaseException:
                failed = not keep(path)
                if failed:  # while the lock is held, so no other process sees the half-made run
                    _remove_new(path, None, before | {LOCK, PID})
                raise
    finally:
        if failed:
            _remove_new(path, top, before)


def _remove_new(path: Path, top: Path | None, before: set[str]) -> None:
    if top is not None:
        shutil.rmtree(top, ignore_errors=True)
        return
    for p in path.iterdir():
        if p.name not in before:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock = FileLock(folder / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunInUseError(f"run {folder} is in use by {holder(folder)}; wait for it to finish") from None
    try:
        atomic_write_text(folder / PID, f"{os.getpid()}\n")
        yield
    finally:
        (folder / PID).unlink(missing_ok=True)
        lock.release()


def holder(folder: Path) -> str:
    """``"pid N"`` of the process holding ``folder``'s lock (as it recorded it), or ``"another process"``."""
    try:
        return f"pid {int((folder / PID).read_text())}"
    except (OSError, ValueError):
        return "another process"
