"""Atomic file writes: a reader never sees a half-written file, a crash never loses the old one.

Files are created with the process umask (like ``open``), and every ``OSError`` names the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterator

from .errors import RunFileError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix) for a library to write; move it into place on success.

    On any error the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_file(path)
    except OSError as e:
        raise _naming(e, path) from None
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise _naming(e, path) from None
    finally:
        tmp.unlink(missing_ok=True)


def _naming(e: OSError, path: Path) -> OSError:
    """``e`` with a message naming ``path`` (and the free space when the disk is full)."""
    if e.errno is None or e.filename:
        return e
    free = f"; {disk_free(path.parent)} free" if e.errno == errno.ENOSPC else ""
    return type(e)(e.errno, f"cannot write {path}: {e.strerror}{free}")


def _new_file(path: Path) -> Path:
    """Create an empty, unique ``.<stem>.<random>.tmp<suffix>`` beside ``path`` (mode 0666 less the umask)."""
    while True:
        tmp = path.parent / f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file (e.g. a training log); ``[]`` if it does not exist.

    A torn last line (a crash mid-write) is dropped with a warning; damage elsewhere raises :class:`RunFileError`.
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i < len(lines) - 1:
                raise RunFileError(f"{path}: line {i + 1} is not JSON ({e.msg})") from None
            warnings.warn(f"{path}: dropped a torn last line (a write interrupted by a crash)", stacklevel=2)
    return records


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """JSON with numpy/JAX scalars and arrays converted to plain Python values (anything else: ``str``)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_plain) + "\n")


def _plain(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def check_writable(path: str | Path, *, folder: bool = False) -> None:
    """Raise ``OSError`` naming the culprit unless ``path`` can be written as a file (or, with ``folder``, as a
    folder to write into): it is of that kind if it exists, it is not below a file, and the nearest existing
    folder on the way is writable. Nothing is created."""
    path = Path(path).absolute()
    if path.exists() and path.is_dir() != folder:
        raise (NotADirectoryError if folder else IsADirectoryError)(
            f"{path} is {'a file, not a folder' if folder else 'a folder, not a file'}")
    target = path if folder else path.parent
    existing = next(p for p in [target, *target.parents] if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(f"{existing} is a file, so {path} cannot be created below it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{existing} is not writable")


def disk_free(path: str | Path) -> str:
    """Free space on the disk holding ``path`` (or its nearest existing ancestor), e.g. ``"1.2 GB"``."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if free < 1000 or unit == "TB":
            return f"{free:.0f} {unit}" if unit == "B" else f"{free:.1f} {unit}"
        free /= 1000
