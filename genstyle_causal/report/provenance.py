"""Where a result came from: package and library versions, git revision, device, time and a config hash.

Written into every ``results.json`` so a number can be traced back to the code
and settings that produced it.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

#: Distributions whose versions decide the numbers.
LIBRARIES = ("jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn", "networkx", "dowhy")


def config_hash(config: Any) -> str:
    """SHA-256 of the config's canonical JSON (sorted keys), so equal settings hash equally."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def git_revision(path: str | Path | None = None) -> dict | None:
    """``{"commit", "dirty"}`` of the git checkout holding ``path`` (default: this package), ``None`` outside one."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance(config: Any = None) -> dict:
    """The provenance block: versions, git revision, device, UTC time and (with ``config``) its hash."""
    import jax

    from .. import __version__

    devices = jax.devices()
    return {
        "package": {"name": "genstyle-causal", "version": __version__},
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "git": git_revision(),
        "device": {"backend": jax.default_backend(), "count": len(devices), "kind": devices[0].device_kind,
                   "machine": platform.machine(), "system": platform.system()},
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config_sha256": None if config is None else config_hash(config),
    }
