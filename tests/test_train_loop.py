"""The training loop: config validation, loss falls, bit-exact resume, NaN guard, SIGINT, logs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from _train_toy import ToyConfig, ToyTask, toy_batch

from genstyle_causal.errors import CheckpointError, ConfigError, NonFiniteError
from genstyle_causal.train import Checkpoints, TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]


def cfg(**kw):
    return TrainConfig(**{"steps": 20, "log_every": 1, "progress": False, **kw})


def assert_same_params(a, b):
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))  # bit-for-bit, not allclose


@pytest.mark.parametrize(
    "kw, culprit",
    [
        ({"steps": 0}, "steps"),
        ({"seed": -1}, "seed"),
        ({"steps_per_call": 0}, "steps_per_call"),
        ({"log_every": 0}, "log_every"),
        ({"eval_every": -5}, "eval_every"),
        ({"checkpoint_every": 1.5}, "checkpoint_every"),
        ({"keep_checkpoints": 0}, "keep_checkpoints"),
        ({"progress": 1}, "progress"),
        ({"steps_per_call": 4, "log_every": 6}, "log_every"),
    ],
)
def test_bad_config_names_the_key(kw, culprit):
    with pytest.raises(ConfigError, match=culprit):
        TrainConfig(**kw)


def test_config_json_roundtrip_and_unknown_key(tmp_path):
    c = cfg(seed=3, steps_per_call=2, log_every=2)
    c.save(tmp_path / "c.json")
    assert TrainConfig.load(tmp_path / "c.json") == c
    with pytest.raises(ConfigError, match="lr"):
        TrainConfig.from_dict({"steps": 3, "lr": 0.1})


def test_loss_falls_and_logs(tmp_path):
    state, hist = fit(ToyTask(), toy_batch, cfg(steps=60, log_every=10, eval_every=20), workdir=tmp_path)
    losses = [r["loss"] for r in hist if "loss" in r]
    assert losses[-1] < 0.1 * losses[0]
    assert [r["step"] for r in hist if "eval/loss" in r] == [20, 40, 60]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == hist
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["train"]["steps"] == 60 and saved["task"] == {"lr": 0.05, "nan_at": -1}
    assert int(state.step) == 60 and Checkpoints(tmp_path / "checkpoints").latest_step == 60


@pytest.mark.parametrize("spc", [1, 3])
def test_resume_is_bit_exact(tmp_path, spc):
    full, hist_full = fit(ToyTask(), toy_batch, cfg(steps=12, steps_per_call=spc, log_every=spc))
    fit(ToyTask(), toy_batch, cfg(steps=6, steps_per_call=spc, log_every=spc), workdir=tmp_path)
    resumed, hist = fit(ToyTask(), toy_batch, cfg(steps=12, steps_per_call=spc, log_every=spc), workdir=tmp_path)
    assert int(resumed.step) == 12
    assert_same_params(full, resumed)
    assert hist == [r for r in hist_full if r["step"] > 6]
    # the log was not duplicated by the resume
    steps = [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))


def test_resume_with_other_seed_is_refused(tmp_path):
    fit(ToyTask(), toy_batch, cfg(steps=2), workdir=tmp_path)
    with pytest.raises(CheckpointError, match="seed"):
        fit(ToyTask(), toy_batch, cfg(steps=4, seed=1), workdir=tmp_path)
    with pytest.raises(CheckpointError, match="task config"):
        fit(ToyTask(ToyConfig(lr=0.1)), toy_batch, cfg(steps=4), workdir=tmp_path)


def test_nan_guard_names_metric_and_step_and_keeps_good_checkpoint(tmp_path):
    task = ToyTask(ToyConfig(nan_at=5))
    with pytest.raises(NonFiniteError, match=r"'loss' is nan at step 5"):
        fit(task, toy_batch, cfg(steps=10, checkpoint_every=2, steps_per_call=2, log_every=2), workdir=tmp_path)
    ck = Checkpoints(tmp_path / "checkpoints")
    assert ck.latest_step == 4  # the call covering steps 4-5 failed; step 4's checkpoint is the last good one
    state = ck.restore(ToyTask().init(jax.random.PRNGKey(0)))
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state.params))


SIGINT_SCRIPT = """
import sys
from _train_toy import ToyTask, toy_batch
from genstyle_causal.train import TrainConfig, fit
state, _ = fit(ToyTask(), toy_batch, TrainConfig(steps=10**7, log_every=50, progress=False), workdir=sys.argv[1])
print("STOPPED", int(state.step), flush=True)
"""


def test_sigint_saves_a_checkpoint_that_resumes(tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_SCRIPT, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    log = tmp_path / "metrics.jsonl"
    deadline = time.time() + 60
    while not (log.exists() and log.stat().st_size) and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    stopped = int(out.split("STOPPED")[1])
    assert stopped > 0 and Checkpoints(tmp_path / "checkpoints").latest_step == stopped
    # continuing from the interrupted run equals an uninterrupted run of the same length
    target = stopped + 7
    resumed, _ = fit(ToyTask(), toy_batch, cfg(steps=target, log_every=50), workdir=tmp_path)
    full, _ = fit(ToyTask(), toy_batch, cfg(steps=target, log_every=50))
    assert_same_params(full, resumed)


def test_previous_signal_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    fit(ToyTask(), toy_batch, cfg(steps=2))
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
