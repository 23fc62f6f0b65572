"""``fit``: the one training loop every model uses.

A *task* supplies ``init(key) -> TrainState`` and a pure
``train_step(state, batch) -> (state, metrics)`` (optionally ``eval_step``).
``fit`` renders each batch on device inside the jitted step from
``batch_fn(fold_in(state.key, state.step))``, fuses ``steps_per_call`` steps with
``lax.scan``, and handles everything with side effects: progress bar, JSONL log,
evaluation, checkpoints, resume, signals and the NaN/inf guard.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ..errors import CheckpointError, NonFiniteError
from .checkpoint import Checkpoints
from ..io import atomic_write_text, read_jsonl
from .config import TrainConfig
from .parallel import data_mesh, init_distributed, replicated, shard_batch
from .state import TrainState

log = logging.getLogger(__name__)

#: ``fold_in`` data of the fixed evaluation batch (training steps never reach it).
EVAL_STREAM = 2**31 - 1
#: Config keys that change the trajectory: a resumed run must keep them.
TRAJECTORY_KEYS = ("seed", "steps_per_call")

Metrics = Mapping[str, jax.Array]


class Task(Protocol):
    def init(self, key: jax.Array) -> TrainState: ...

    def train_step(self, state: TrainState, batch: Any) -> tuple[TrainState, Metrics]: ...


def make_step(task: Task, batch_fn: Callable[[jax.Array], Any], *, mesh=None) -> Callable:
    """The pure single step ``state -> (state, metrics)`` with the batch rendered inside."""

    def step(state: TrainState):
        batch = batch_fn(jax.random.fold_in(state.key, state.step))
        if mesh is not None:
            batch = shard_batch(batch, mesh)
        return task.train_step(state, batch)

    return step


def _with_guard(fn):
    """Append a flag saying whether every float parameter is finite."""

    def guarded(state):
        state, metrics = fn(state)
        leaves = [x for x in jax.tree.leaves(state.params) if jnp.issubdtype(x.dtype, jnp.inexact)]
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.bool_(True)
        return state, metrics, finite

    return guarded


def _scan(step: Callable, n: int) -> Callable:
    """``n`` steps in one ``lax.scan``; metrics come back stacked ``(n,)``."""

    def many(state):
        return jax.lax.scan(lambda s, _: step(s), state, None, length=n)

    return many


def compiled_call(task, batch_fn, n: int, mesh):
    """The jitted, guarded call running ``n`` steps; cached when task and batch_fn are hashable,
    so repeated or resumed ``fit`` calls in one process do not recompile."""
    try:
        hash((task, batch_fn))
    except TypeError:
        return _build_call(task, batch_fn, n, mesh)
    return _cached_call(task, batch_fn, n, mesh)


def _build_call(task, batch_fn, n, mesh):
    step = make_step(task, batch_fn, mesh=mesh)
    fn = _with_guard(step if n == 1 else _scan(step, n))
    if mesh is None:
        return jax.jit(fn, donate_argnums=0)
    rep = replicated(mesh)
    return jax.jit(fn, in_shardings=(rep,), out_shardings=rep, donate_argnums=0)


_cached_call = functools.lru_cache(maxsize=32)(_build_call)


@contextlib.contextmanager
def _catch_signals():
    """Turn SIGINT/SIGTERM into a flag the loop polls; restore the previous handlers on exit."""
    caught: list[int] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _to_floats(metrics: Mapping[str, Any], i: int | None = None) -> dict[str, float]:
    return {k: float(np.asarray(v).reshape(-1)[0 if i is None else i]) for k, v in metrics.items()}


def _check_finite(metrics: Mapping[str, np.ndarray], finite: bool, first_step: int) -> None:
    for name, values in metrics.items():
        bad = ~np.isfinite(np.asarray(values, dtype=np.float64).reshape(-1))
        if bad.any():
            i = int(np.argmax(bad))
            raise NonFiniteError(
                f"metric {name!r} is {float(np.asarray(values).reshape(-1)[i])} at step {first_step + i}; "
                "training stopped, the last good checkpoint is kept"
            )
    if not finite:
        raise NonFiniteError(
            f"parameters became non-finite by step {first_step}; training stopped, the last good checkpoint is kept"
        )


def _task_config(task) -> dict | None:
    cfg = getattr(task, "config", None)
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else None


def _check_same_run(path: Path, config: TrainConfig, task_config: dict | None) -> None:
    try:
        saved = json.loads(path.read_text())
        saved["train"]["seed"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"cannot resume {path.parent}: {path.name} is damaged ({type(e).__name__}: {e}); "
                              "restore it, or remove it to resume without this check") from None
    for k in TRAJECTORY_KEYS:
        if saved["train"].get(k) != getattr(config, k):
            raise CheckpointError(
                f"cannot resume {path.parent}: TrainConfig.{k} was {saved['train'].get(k)!r}, now {getattr(config, k)!r}"
            )
    if task_config is not None and json.loads(json.dumps(task_config, default=str)) != saved.get("task"):
        raise CheckpointError(f"cannot resume {path.parent}: the task config differs from {path}")


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after ``step`` (they will be written again) and a torn last line, atomically."""
    if path.exists():
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in read_jsonl(path) if r["step"] <= step))


def fit(
    task: Task,
    batch_fn: Callable[[jax.Array], Any],
    config: TrainConfig,
    *,
    workdir: str | Path | None = None,
    eval_hook: Callable[[TrainState], Mapping[str, float]] | None = None,
    writers: Sequence[Callable[[dict], None]] = (),
) -> tuple[TrainState, list[dict]]:
    """Train ``task`` for ``config.steps`` steps; resume from ``workdir`` if it holds a checkpoint.

    Args:
      task: ``init(key) -> TrainState``, pure ``train_step(state, batch) -> (state, metrics)``,
        optional pure ``eval_step(state, batch) -> metrics``.
      batch_fn: pure ``key -> batch``, rendered on device inside the jitted step.
      config: loop settings (saved to ``workdir/config.json`` with ``task.config`` if a dataclass).
      workdir: run folder (``config.json``, ``metrics.jsonl``, ``checkpoints/``); ``None``: in memory.
      eval_hook: called every ``config.eval_every`` steps with the state; returns named numbers.
      writers: also receive every logged record, e.g. :class:`~genstyle_causal.train.writers.TensorBoardWriter`
        (closed at the end if they have ``close``).

    Returns:
      ``(state, history)``: history is a list of ``{"step": s, metric: value}`` records
      (evaluation records use ``eval/`` names). SIGINT/SIGTERM stops early after
      saving a checkpoint; the returned state then has ``step < config.steps``.

    Raises:
      NonFiniteError: a metric or parameter became NaN/inf (names the metric and step).
      CheckpointError: ``workdir`` holds a run with another seed, ``steps_per_call`` or task config.
    """
    if config.distributed:
        init_distributed()
    mesh = data_mesh() if config.data_parallel else None
    key = jax.random.PRNGKey(config.seed)
    workdir = None if workdir is None else Path(workdir).resolve()
    ckpt = None
    state = None
    if workdir is not None:
        cfg_path, task_config = workdir / "config.json", _task_config(task)
        ckpt = Checkpoints(workdir / "checkpoints", keep=config.keep_checkpoints)
        if ckpt.latest_step is not None:
            if cfg_path.exists():
                _check_same_run(cfg_path, config, task_config)
            state = ckpt.restore(jax.eval_shape(task.init, key))
            log.info("resumed %s at step %d", workdir, int(state.step))
        config.save(cfg_path, task=task_config)
    if state is None:
        state = task.init(key)
    if mesh is not None:
        state = jax.device_put(state, replicated(mesh))
    start = int(jax.device_get(state.step))
    log_path = None if workdir is None else workdir / "metrics.jsonl"
    if log_path is not None:
        _truncate_log(log_path, start)

    spc = config.steps_per_call
    calls = {n: compiled_call(task, batch_fn, n, mesh) for n in {1, spc}}
    evaluate = _make_eval(task, batch_fn, mesh)

    history: list[dict] = []

    def record(rec: dict) -> None:
        history.append(rec)
        if log_path is not None:
            with open(log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        for write in writers:
            write(rec)

    step = start
    bar = tqdm(total=config.steps, initial=start, disable=not config.progress, desc="train", dynamic_ncols=True)
    try:
        with _catch_signals() as caught:
            while step < config.steps and not caught:
                n = spc if step % spc == 0 and step + spc <= config.steps else 1
                state, metrics, finite = calls[n](state)
                metrics, finite = jax.device_get((metrics, finite))
                _check_finite(metrics, bool(finite), step)
                for i in range(n):
                    s = step + i + 1
                    if s % config.log_every == 0 or s == config.steps:
                        rec = {"step": s, **_to_floats(metrics, i if n > 1 else None)}
                        record(rec)
                        bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k != "step"}, refresh=False)
                step += n
                bar.update(n)
                if config.eval_every and step % config.eval_every == 0:
                    rec = {f"eval/{k}": v for k, v in evaluate(state, eval_hook).items()}
                    if rec:
                        record({"step": step, **rec})
                if ckpt is not None and config.checkpoint_every and step % config.checkpoint_every == 0:
                    ckpt.save(state)
            if caught:
                log.warning("signal %d: stopping at step %d", caught[0], step)
            if ckpt is not None:
                ckpt.save(state)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
        for write in writers:
            getattr(write, "close", lambda: None)()
    return state, history


def _make_eval(task, batch_fn, mesh):
    """``(state, hook) -> {name: float}`` on the fixed evaluation batch."""
    eval_step = getattr(task, "eval_step", None)
    jitted = None
    if eval_step is not None:

        def run(state):
            batch = batch_fn(jax.random.fold_in(state.key, EVAL_STREAM))
            if mesh is not None:
                batch = shard_batch(batch, mesh)
            return eval_step(state, batch)

        jitted = jax.jit(run)

    def evaluate(state, hook) -> dict[str, float]:
        out = {} if jitted is None else _to_floats(jax.device_get(jitted(state)))
        if hook is not None:
            out.update({k: float(v) for k, v in hook(state).items()})
        return out

    return evaluate
