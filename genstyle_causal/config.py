"""Run configurations: plain (nested) dataclasses, read from TOML/JSON/YAML, overridden by ``key=value``.

No global state: a config is a value that travels with the run and is saved
beside its results, so a run is reproducible from its directory alone.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def flat_keys(cls) -> dict[str, Any]:
    """Dotted key -> field type for a (nested) dataclass type."""
    out = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if dataclasses.is_dataclass(t):
            out.update({f"{f.name}.{k}": v for k, v in flat_keys(t).items()})
        else:
            out[f.name] = t
    return out


def to_dict(config) -> dict:
    """The config as nested plain data (JSON-ready)."""
    return dataclasses.asdict(config)


def from_dict(cls: type[T], data: dict, *, where: str = "") -> T:
    """Build ``cls`` from nested plain data; unknown keys raise :class:`ConfigError` listing the valid ones."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key {where + unknown[0]!r}; valid keys: {sorted(flat_keys(cls))}")
    kwargs = {}
    for name, value in data.items():
        t = hints[name]
        kwargs[name] = from_dict(t, value, where=f"{where}{name}.") if dataclasses.is_dataclass(t) else _coerce(
            value, t, where + name)
    return cls(**kwargs)


def read_file(path: str | Path) -> dict:
    """Read a TOML, JSON or YAML config file into nested plain data."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigError(f"reading {path} needs PyYAML (pip install pyyaml), or use TOML/JSON") from None
            return yaml.safe_load(text) or {}
    except ConfigError:
        raise
    except Exception as e:  # each parser has its own error type
        raise ConfigError(f"cannot parse config file {path}: {e}") from None
    raise ConfigError(f"config file {path} must end in .toml, .json, .yaml or .yml")


def apply_overrides(data: dict, overrides: Iterable[str], cls) -> dict:
    """Apply ``key=value`` strings (dotted keys for nested sections) to nested plain data."""
    keys = flat_keys(cls)
    data = json.loads(json.dumps(data))  # deep copy
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"override {item!r} must look like key=value")
        if key not in keys:
            raise ConfigError(f"unknown config key {key!r}; valid keys: {sorted(keys)}")
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _coerce(raw.strip(), keys[key], key)
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = (), *,
                saved: str | Path | None = None) -> T:
    """Defaults of ``cls``, updated by a previous run's ``saved`` file if it exists, the file at ``path``,
    and then ``overrides``."""
    data = to_dict(cls())
    if saved is not None and Path(saved).is_file():
        merge(data, read_file(saved))
    if path is not None:
        merge(data, read_file(path))
    return from_dict(cls, apply_overrides(data, overrides, cls))


def merge(base: dict, update: dict) -> None:
    """Recursively update nested plain data ``base`` with ``update`` (in place)."""
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v


def _coerce(value, t, key: str):
    """Convert ``value`` (often a string from the command line) to type ``t``."""
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, args[0], key)
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(t) or (str,)
        items = value.split(",") if isinstance(value, str) else list(value)
        return origin(_coerce(v.strip() if isinstance(v, str) else v, inner, key) for v in items if v != "")
    try:
        if t is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if t in (int, float, str):
            if t is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return t(value)
    except (TypeError, ValueError):
        raise ConfigError(f"config key {key!r} expects {t.__name__}; got {value!r}") from None
    return value
