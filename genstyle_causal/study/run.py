"""Running a study: every run its own resumable run directory, any slice of the runs, one or several processes.

Layout of a study directory::

    study.json                the expanded study (rewritten by every invocation)
    runs/<run_id>/spec.json   what the run is; a folder holding another spec is never overwritten
    runs/<run_id>/...         fit's config.json, metrics.jsonl, checkpoints/ (resumable)
    runs/<run_id>/scores.json written last, atomically: the run is finished
    leaderboard.json, report.md, report.html, figures/

Runs are independent, so ``shard=(i, n)`` lets any scheduler (SLURM array jobs,
Kubernetes jobs, a Ray task per shard) run a slice into the same directory; the
report gathers whatever has finished.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import multiprocessing
import time
from pathlib import Path

import jax
from flax import nnx

from ..errors import ConfigError, GenstyleError
from ..io import atomic_write_json
from .grid import RunSpec, Study

#: ``fold_in`` data of the evaluation key: every run is scored on the same samples (common random numbers).
SCORE_SEED = 20_180_000
#: Leaderboard columns read from :func:`~genstyle_causal.metrics.evaluate`'s results: (column, metric, key).
SCORES = (
    ("mig", "mig", "mig"),
    ("dci_disentanglement", "dci", "disentanglement"),
    ("dci_completeness", "dci", "completeness"),
    ("dci_informativeness", "dci", "informativeness"),
    ("sap", "sap", "sap"),
    ("modularity", "modularity_explicitness", "modularity"),
    ("explicitness", "modularity_explicitness", "explicitness"),
    ("factor_vae", "factor_vae", "factor_vae"),
    ("beta_vae", "beta_vae", "beta_vae"),
    ("irs", "irs", "irs"),
    ("gaussian_tc", "gaussian_total_correlation", "gaussian_total_correlation"),
)


def run_dir(outdir: str | Path, spec: RunSpec) -> Path:
    return Path(outdir) / "runs" / spec.run_id


def run_study(study: Study, outdir: str | Path, *, shard: tuple[int, int] = (1, 1), jobs: int = 1,
              progress: bool = True) -> list[dict]:
    """Run (or resume) this invocation's slice of ``study`` into ``outdir``; returns the slice's run records.

    ``jobs`` > 1 runs that many runs at once in separate processes. A run whose
    training fails (e.g. NaN) is recorded as failed and the others go on.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1; got {jobs!r}")
    runs = study.shard(*shard)
    outdir = Path(outdir)
    for spec in runs:
        _check_same_spec(outdir, spec)
    atomic_write_json(outdir / "study.json", study.to_dict())
    if progress:
        print(f"study {study.name}: {len(runs)} of {len(study.runs)} runs in shard {shard[0]}/{shard[1]}, "
              f"{jobs} at a time, into {outdir}", flush=True)
    if jobs == 1:
        records = []
        for i, spec in enumerate(runs, 1):
            records.append(_announce(i, len(runs), run_one(study, spec, outdir, progress=progress), progress))
            if records[-1]["status"] == "stopped":  # Ctrl-C / SIGTERM: the run saved a checkpoint; stop the study
                break
        return records
    ctx = multiprocessing.get_context("spawn")  # fork after JAX has started threads is unsafe
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futures = [pool.submit(run_one, study, spec, outdir, progress=False) for spec in runs]
        return [_announce(i, len(runs), f.result(), progress) for i, f in enumerate(futures, 1)]


def _announce(i: int, n: int, record: dict, progress: bool) -> dict:
    if progress:
        status = record["status"]
        detail = f"MIG {record['scores']['mig']:.3f}" if status == "finished" and "mig" in record["scores"] else status
        print(f"[{i}/{n}] {record['run_id']}: {detail}", flush=True)
    return record


def _check_same_spec(outdir: Path, spec: RunSpec) -> None:
    path = run_dir(outdir, spec) / "spec.json"
    if path.is_file() and json.loads(path.read_text()) != json.loads(json.dumps(spec.to_dict())):
        raise ConfigError(f"{path.parent} holds run {spec.run_id!r} with other settings than this study's; "
                          "use a new --out or remove that run directory")


def run_one(study: Study, spec: RunSpec, outdir: str | Path, *, progress: bool = False) -> dict:
    """Train (resuming from its checkpoint) and score one run; a finished run is read back, not redone."""
    from ..models.vae import VAETask
    from ..train import ImageBatches, fit

    rdir = run_dir(outdir, spec)
    done = read_record(rdir)
    if done is not None and done["status"] == "finished":
        return done
    _check_same_spec(Path(outdir), spec)
    atomic_write_json(rdir / "spec.json", spec.to_dict())
    data = study.data(spec.params["image_size"])
    task = VAETask(spec.vae_config(data.image_shape))
    t0 = time.perf_counter()
    try:
        state, _ = fit(task, ImageBatches(data, spec.params["batch_size"]), spec.train_config(progress=progress),
                       workdir=rdir)
    except GenstyleError as e:
        record = {**spec.to_dict(), "status": "failed", "error": str(e), "scores": {}}
        atomic_write_json(rdir / "failed.json", record)
        return record
    train_seconds = time.perf_counter() - t0
    if int(state.step) < spec.params["steps"]:  # stopped by a signal: resumable, not finished
        return {**spec.to_dict(), "status": "stopped", "scores": {}}
    t1 = time.perf_counter()
    scores, details = score(study, task, state.params, data)
    record = {**spec.to_dict(), "status": "finished", "scores": scores, "protocol": study.protocol,
              "train_seconds_last_call": train_seconds, "score_seconds": time.perf_counter() - t1,
              "evaluation": details}
    (rdir / "failed.json").unlink(missing_ok=True)
    atomic_write_json(rdir / "scores.json", record)
    return record


def read_record(rdir: Path) -> dict | None:
    """The record of a finished (``scores.json``) or failed (``failed.json``) run, else None."""
    for name in ("scores.json", "failed.json"):
        if (rdir / name).is_file():
            return json.loads((rdir / name).read_text())
    return None


def score(study: Study, task, params, data) -> tuple[dict, dict]:
    """Leaderboard scores of a trained VAE (encoder mean as the code) and the full metric results."""
    from ..metrics import evaluate, reconstruction_error

    graphdef, state = nnx.split(task.model(params))
    key = jax.random.fold_in(jax.random.key(0), SCORE_SEED)
    res = evaluate(functools.partial(_encode_mean, graphdef, state), data, list(study.metrics), key=key,
                   protocol=study.protocol, options=study.metric_options)
    recon = reconstruction_error(functools.partial(_reconstruct, graphdef, state), data, key=jax.random.fold_in(key, 1),
                                 loss="bernoulli")
    scores = {col: res["metrics"][m][k] for col, m, k in SCORES if m in res["metrics"]}
    scores["reconstruction"] = recon["reconstruction_error"]
    return scores, res


@functools.partial(jax.jit, static_argnums=0)
def _encode_mean(graphdef, state, images):
    return nnx.merge(graphdef, state).encoder(images)[0]


@functools.partial(jax.jit, static_argnums=0)
def _reconstruct(graphdef, state, images):
    model = nnx.merge(graphdef, state)
    return jax.nn.sigmoid(model.decoder(model.encoder(images)[0]))


def gather(study: Study, outdir: str | Path) -> list[dict]:
    """Records of every run of ``study`` in ``outdir``, in study order: finished, failed, or pending."""
    out = []
    for spec in study.runs:
        record = read_record(run_dir(outdir, spec))
        out.append(record if record is not None else {**spec.to_dict(), "status": "pending", "scores": {}})
    return out
