"""Run configurations: plain (nested) dataclasses, read from TOML/JSON/YAML, overridden by ``key=value``.

No global state: a config is a value that travels with the run and is saved
beside its results, so a run is reproducible from its directory alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

from .errors import ConfigError

T = TypeVar("T")

#: Largest seed: seeds stay within int32 (PRNG keys, and seeds derived as ``seed + 1``).
MAX_SEED = 2**31 - 2
#: Largest step count: the training step counter is an int32.
MAX_STEPS = 2**31 - 1


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


def bounded(default, low=None, high=None):
    """A config field whose value (each item, for tuples) must lie in ``[low, high]``; :func:`from_dict` checks it."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high})


def check_values(config, *, where: str = "") -> None:
    """Check every field of a config dataclass against its type (booleans are not numbers, floats are finite)
    and its :func:`bounded` range; raises :class:`ConfigError` naming the dotted key."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, key, t = getattr(config, f.name), where + f.name, hints[f.name]
        if dataclasses.is_dataclass(t):
            continue  # checked when it was built
        items = value if typing.get_origin(t) in (tuple, list) and isinstance(value, (tuple, list)) else (value,)
        for v in items:
            _check_value(v, key, f.metadata.get("low"), f.metadata.get("high"))


def _check_value(v, key: str, low, high) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise ConfigError(f"config key {key!r} must be a finite number; got {v!r}")
    if low is not None and not v >= low:
        raise ConfigError(f"config key {key!r} must be >= {low}; got {v!r}")
    if high is not None and not v <= high:
        raise ConfigError(f"config key {key!r} must be <= {high}; got {v!r}")


def from_dict(cls: type[T], data: dict, *, where: str = "") -> T:
    """Build ``cls`` from nested plain data; unknown keys raise :class:`ConfigError` listing the valid ones,
    values are converted to the field types and checked by :func:`check_values`."""
    if not isinstance(data, dict):
        what = f"section {where[:-1]!r}" if where else "file"
        raise ConfigError(f"config {what} must be a table of keys; got {type(data).__name__} {data!r:.60}")
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
    config = cls(**kwargs)
    check_values(config, where=where)
    return config


def read_file(path: str | Path) -> dict:
    """Read a TOML, JSON or YAML config file into nested plain data (a table of keys at the top)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.suffix not in (".toml", ".json", ".yaml", ".yml"):
        raise ConfigError(f"config file {path} must end in .toml, .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        data = _parse(text, path.suffix)
    except ConfigError:
        raise
    except Exception as e:  # each parser has its own error type
        raise ConfigError(f"cannot parse config file {path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of keys at the top; got {type(data).__name__}")
    return data


def _parse(text: str, suffix: str):
    if suffix == ".toml":
        import tomllib

        return tomllib.loads(text)
    if suffix == ".json":
        return json.loads(text)
    try:
        import yaml
    except ImportError:
        raise ConfigError("reading YAML config files needs PyYAML (pip install pyyaml), or use TOML/JSON") from None
    return {} if (data := yaml.safe_load(text)) is None else data


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
    if isinstance(value, (dict, list)) or (isinstance(value, bool) and t is not bool):
        raise ConfigError(f"config key {key!r} expects {getattr(t, '__name__', t)}; got {value!r}")
    try:
        if t is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise TypeError(value)
            return value
        if t is str and not isinstance(value, str):
            raise TypeError(value)
        if t in (int, float, str):
            if t is int and isinstance(value, float):  # a float is not an int, even 1e20
                raise ValueError(value)
            return t(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"config key {key!r} expects {t.__name__}; got {value!r}") from None
    return value
