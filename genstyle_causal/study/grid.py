"""A study's grid: objective × hyper-parameters × seeds, read from a config file, validated, expanded into runs.

The file (TOML, JSON or YAML) has top-level keys ``name``, ``dataset``, ``seeds``,
``protocol`` (a metric protocol of :data:`~genstyle_causal.metrics.PROTOCOLS`),
``metrics``, and three sections::

    seeds = [0, 1, 2]
    protocol = "fast"

    [defaults]            # every run: run keys (steps, batch_size, ...) and VAEConfig fields;
                          # unset ones come from the demo recipe (models.vae.RECIPES) and VAEConfig
    steps = 3000
    learning_rate = 1e-3

    [[grid]]              # one block per family of runs; a list is swept (cartesian product)
    objective = "beta"
    beta = [1, 4, 8]

    [[grid]]
    objective = "betatc"
    beta = [2, 6]

    [metric_options.dci] # keyword arguments of a metric, over the protocol's
    num_train = 2000

Everything is checked before anything is written: unknown keys, an objective that
does not read a swept hyper-parameter, duplicate runs and an empty grid are errors
naming the culprit.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import re
from pathlib import Path
from typing import Any, Mapping

from ..config import read_file
from ..errors import ConfigError
from ..models.vae import OBJECTIVE_PARAMS, RECIPES, VAEConfig
from ..train import TrainConfig

_RECIPE = RECIPES["demo"]
#: Keys of a run that are not VAEConfig fields, with their defaults (the measured demo recipe's loop and data).
RUN_DEFAULTS = {"steps": _RECIPE.steps, "batch_size": _RECIPE.batch_size, "image_size": _RECIPE.image_size,
                "steps_per_call": _RECIPE.steps_per_call, "checkpoint_every": 500}
#: VAEConfig defaults a study changes: the recipe's learning rate (disentanglement_lib's 1e-4 needs ~100× the steps).
MODEL_DEFAULTS = {"learning_rate": _RECIPE.config.learning_rate}
#: The metrics of a study's leaderboard (reconstruction error is always added).
DEFAULT_METRICS = ("mig", "dci", "sap", "modularity_explicitness", "factor_vae", "beta_vae", "irs")
#: VAEConfig fields every objective reads.
SHARED_PARAMS = ("channels", "hidden", "latent", "likelihood", "gaussian_std", "learning_rate")
_TOP_KEYS = ("name", "dataset", "seeds", "protocol", "metrics", "defaults", "grid", "metric_options")
_MODEL_KEYS = tuple(f.name for f in dataclasses.fields(VAEConfig) if f.name not in ("image_shape", "objective"))


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a study: an objective, its settings and a seed.

    ``config_id`` names the leaderboard row (the run without its seed); ``swept``
    lists the keys its grid block varies (the x-axes of the study's figures).
    """

    config_id: str
    objective: str
    seed: int
    settings: tuple[tuple[str, Any], ...]
    swept: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return f"{self.config_id}-seed{self.seed}"

    @property
    def params(self) -> dict:
        """Run keys and VAEConfig fields of this run (defaults filled in)."""
        return {**RUN_DEFAULTS, **MODEL_DEFAULTS, **dict(self.settings)}

    def train_config(self, *, progress: bool = False) -> TrainConfig:
        """The loop settings: checkpoints every ``checkpoint_every`` steps, about 20 log lines per run."""
        p = self.params
        spc = p["steps_per_call"]
        return TrainConfig(steps=p["steps"], seed=self.seed, steps_per_call=spc, log_every=spc * max(1, p["steps"] // (20 * spc)),
                           checkpoint_every=p["checkpoint_every"], progress=progress)

    def vae_config(self, image_shape) -> VAEConfig:
        model = {k: v for k, v in self.params.items() if k in _MODEL_KEYS}
        return VAEConfig(image_shape=tuple(image_shape), objective=self.objective, **model)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "config_id": self.config_id, "objective": self.objective, "seed": self.seed,
                "params": self.params, "swept": list(self.swept)}


@dataclasses.dataclass(frozen=True)
class Study:
    """A validated, expanded study: settings shared by all runs, and the runs in a fixed order."""

    name: str
    dataset: str
    protocol: str
    metrics: tuple[str, ...]
    metric_options: Mapping[str, Mapping[str, Any]]
    runs: tuple[RunSpec, ...]

    def shard(self, index: int, count: int) -> tuple[RunSpec, ...]:
        """Runs ``index``, ``index + count``, ... (``index`` from 1): interleaved, so every shard gets a mix."""
        if not (isinstance(index, int) and isinstance(count, int) and 1 <= index <= count):
            raise ConfigError(f"shard must be i/n with 1 <= i <= n; got {index}/{count}")
        return self.runs[index - 1 :: count]

    def data(self, image_size: int):
        from ..data import get_dataset

        return get_dataset(self.dataset, size=image_size)

    def to_dict(self) -> dict:
        return {"name": self.name, "dataset": self.dataset, "protocol": self.protocol, "metrics": list(self.metrics),
                "metric_options": {k: dict(v) for k, v in self.metric_options.items()},
                "runs": [r.to_dict() for r in self.runs]}


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with 1 <= i <= n (e.g. a SLURM array task's slice of the runs)."""
    index, sep, count = str(text).partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = None
    if not sep or shard is None or not 1 <= shard[0] <= shard[1]:
        raise ConfigError(f"shard must look like i/n with 1 <= i <= n (e.g. 2/4); got {text!r}")
    return shard


def load_study(path: str | Path) -> Study:
    """Read and validate a study file (TOML/JSON/YAML); see the module docstring for its keys."""
    return parse_study(read_file(path), name=Path(path).stem)


def parse_study(raw: Mapping[str, Any], *, name: str = "study") -> Study:
    """Validate plain data of a study and expand its grid into runs (nothing is written)."""
    from ..metrics import METRICS, PROTOCOLS

    if not isinstance(raw, Mapping):
        raise ConfigError(f"a study file must hold a table of keys; got {type(raw).__name__}")
    _no_unknown(raw, _TOP_KEYS, "study key")
    protocol = raw.get("protocol", "fast")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown metric protocol {protocol!r}; available: {list(PROTOCOLS)}")
    metrics = tuple(raw.get("metrics", DEFAULT_METRICS))
    _no_unknown(dict.fromkeys(metrics), METRICS, "metric")
    options = _metric_options(raw.get("metric_options", {}), METRICS)
    seeds = raw.get("seeds", [0, 1, 2])
    if (not isinstance(seeds, list) or not seeds
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) < len(seeds)):
        raise ConfigError(f"seeds must be a non-empty list of distinct integers >= 0; got {seeds!r}")
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"[defaults] must be a table of keys; got {defaults!r}")
    _no_unknown(defaults, tuple(RUN_DEFAULTS) + _MODEL_KEYS, "key in [defaults]")
    blocks = raw.get("grid", [])
    if isinstance(blocks, Mapping):
        blocks = [blocks]
    if not blocks:
        raise ConfigError("the study grid is empty: add at least one [[grid]] block, e.g. objective = \"beta\" "
                          "with beta = [1, 4]")
    dataset = raw.get("dataset", "dsprites")
    runs: dict[str, RunSpec] = {}
    for b, block in enumerate(blocks, 1):
        for spec in _expand(block, defaults, seeds, f"grid[{b}]"):
            if spec.run_id in runs:
                raise ConfigError(f"grid[{b}] repeats run {spec.run_id!r} (already produced by an earlier block); "
                                  "each run must appear once")
            runs[spec.run_id] = spec
    study = Study(str(raw.get("name", name)), dataset, protocol, metrics, options, tuple(runs.values()))
    _check_dataset(study)
    return study


def _expand(block, defaults: Mapping, seeds, where: str) -> list[RunSpec]:
    """The runs of one grid block: the product of its listed values, times the seeds."""
    if not isinstance(block, Mapping):
        raise ConfigError(f"{where} must be a table of keys; got {block!r}")
    if "seed" in block or "seeds" in block:
        raise ConfigError(f"{where} sets seeds, which conflicts with the study's top-level seeds = [...]; set them there")
    if "image_shape" in block:
        raise ConfigError(f"{where}.image_shape conflicts with image_size, which sets it; use image_size")
    if "objective" not in block:
        raise ConfigError(f"{where} needs an objective: one of {list(OBJECTIVE_PARAMS)}")
    _no_unknown(block, ("objective",) + tuple(RUN_DEFAULTS) + _MODEL_KEYS, f"key in {where}")
    swept = tuple(k for k, v in block.items() if (isinstance(v, list) and k != "channels") or _is_channel_list(k, v))
    for k in swept:
        if not block[k]:
            raise ConfigError(f"{where}.{k} is an empty list, so the grid has no runs; give at least one value")
    values = [block[k] if k in swept else [block[k]] for k in block]
    runs = []
    for combo in itertools.product(*values):
        chosen = dict(zip(block, combo))
        objective = chosen.pop("objective")
        if objective not in OBJECTIVE_PARAMS:
            raise ConfigError(f"{where}.objective {objective!r} is unknown; choose one of {list(OBJECTIVE_PARAMS)}")
        unread = [k for k in chosen if k not in RUN_DEFAULTS and k not in SHARED_PARAMS + OBJECTIVE_PARAMS[objective]]
        if unread:
            raise ConfigError(f"{where} sets {unread} for objective {objective!r}, which does not read "
                              f"{'it' if len(unread) == 1 else 'them'} (it reads {list(OBJECTIVE_PARAMS[objective])}); "
                              "put it in a block of an objective that uses it")
        settings = {**{k: v for k, v in defaults.items()}, **chosen}
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
        label = objective + "".join(f"-{k}={_fmt(v)}" for k, v in chosen.items())
        spec = RunSpec(_safe(label), objective, 0, tuple(sorted(settings.items())), tuple(k for k in swept if k != "objective"))
        _check_values(spec, where)
        runs += [dataclasses.replace(spec, seed=s) for s in seeds]
    return runs


def _is_channel_list(key, value) -> bool:
    """``channels`` is itself a list: it is swept only as a list of lists."""
    return key == "channels" and isinstance(value, list) and bool(value) and all(isinstance(v, list) for v in value)


def _check_values(spec: RunSpec, where: str) -> None:
    """Types and ranges of a run's values, with the grid block named in the error."""
    p = spec.params
    for k in RUN_DEFAULTS:
        low = 0 if k == "checkpoint_every" else 1
        if isinstance(p[k], bool) or not isinstance(p[k], int) or p[k] < low:
            raise ConfigError(f"{where}: {k} must be an integer >= {low}; got {p[k]!r}")
    reference = VAEConfig()
    for k, v in p.items():
        if k in _MODEL_KEYS and not _same_kind(v, getattr(reference, k)):
            raise ConfigError(f"{where}: {k} must be {type(getattr(reference, k)).__name__}; got {v!r}")
    try:
        spec.vae_config((p["image_size"], p["image_size"], 1))
        spec.train_config()
    except ConfigError as e:
        raise ConfigError(f"{where} ({spec.config_id}): {e}") from None


def _same_kind(value, reference) -> bool:
    if isinstance(reference, bool) or isinstance(value, bool):
        return type(value) is type(reference)
    if isinstance(reference, float):
        return isinstance(value, (int, float))
    if isinstance(reference, tuple):
        return isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return isinstance(value, type(reference))


def _metric_options(raw, metrics) -> dict:
    """Per-metric keyword arguments, checked against each metric's signature."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[metric_options] must be a table of metric tables; got {raw!r}")
    _no_unknown(raw, metrics, "metric in [metric_options]")
    out = {}
    for metric, kwargs in raw.items():
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"[metric_options.{metric}] must be a table of keyword arguments; got {kwargs!r}")
        valid = [p for p in inspect.signature(metrics[metric]).parameters if p not in ("representation", "data", "key", "factors")]
        _no_unknown(kwargs, valid, f"option of {metric} in [metric_options.{metric}]")
        out[metric] = dict(kwargs)
    return out


def _check_dataset(study: Study) -> None:
    """The dataset exists and has discrete factors (the leaderboard's metrics need them)."""
    from ..metrics._common import discrete_factors

    discrete_factors(study.data(study.runs[0].params["image_size"]), f"the study on {study.dataset}")


def _no_unknown(given: Mapping, valid, what: str) -> None:
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise ConfigError(f"unknown {what} {unknown[0]!r}; valid: {sorted(valid)}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "x".join(str(x) for x in v)
    return str(v)


def _safe(label: str) -> str:
    """A run name usable as a folder name on every file system."""
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", label)
