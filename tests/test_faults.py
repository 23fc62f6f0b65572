"""Fault injection: a careless user, a crashing machine and hostile files.

Every expected failure must print one line, exit with status 2 and leave the run directory
exactly as it was; every interruption must resume bit-exactly; no pickle is ever loaded.
Training faults use the toy regression task (compiles in about a second); command-line
faults run ``main`` in-process and fail before any model is compiled.
"""

import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import jax
import numpy as np
import pytest
from _train_toy import ToyTask, toy_batch
from PIL import Image

from genstyle_causal.cli import main
from genstyle_causal.commands import TrainRunConfig
from genstyle_causal.config import to_dict
from genstyle_causal.data.images import load_image
from genstyle_causal.errors import CheckpointError, CheckpointWarning, ImageFileError, ImageTooLargeError
from genstyle_causal.io import atomic_write_json, read_jsonl
from genstyle_causal.report import Report
from genstyle_causal.train import Checkpoints, TrainConfig, fit
from genstyle_causal.train.checkpoint import MANIFEST, newest_intact

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- helpers --------------------------------------------------------------------------------


def snapshot(*folders) -> list[dict]:
    """Every entry under each folder: file content hashes, folders as such (modes of files too)."""
    out = []
    for folder in folders:
        folder = Path(folder)
        entries = {}
        if folder.exists():
            for p in sorted(folder.rglob("*")):
                rel = p.relative_to(folder).as_posix()
                entries[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        out.append(entries if folder.exists() else None)
    return out


def fails_cleanly(capsys, argv, message, *keep):
    """``main(argv)`` returns 2 with one stderr line containing ``message``; the ``keep`` folders are unchanged."""
    before = snapshot(*keep)
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error: " in err, err
    assert message in err, err
    assert "Traceback" not in err
    assert snapshot(*keep) == before
    return err


def cfg(**kw):
    return TrainConfig(**{"steps": 8, "log_every": 1, "checkpoint_every": 2, "progress": False, **kw})


def same_params(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a.params),
                                                                             jax.tree.leaves(b.params)))


@pytest.fixture(scope="module")
def full_toy():
    """The uninterrupted 8-step toy run every interrupted one must equal bit for bit."""
    state, history = fit(ToyTask(), toy_batch, cfg())
    return state, history


TINY = dict(model="vae", image_size=32, steps=4, batch_size=8, steps_per_call=1, checkpoint_every=2)


@pytest.fixture
def train_run(tmp_path):
    """A train run directory as `train` leaves it (train.json, config.json, log, verified checkpoints).

    Its checkpoints hold the toy state: every case here fails before anything is restored.
    """
    run = tmp_path / "run"
    fit(ToyTask(), toy_batch, cfg(steps=2), workdir=run)
    atomic_write_json(run / "train.json", to_dict(TrainRunConfig(**TINY, vae={"latent": 4})))
    (run / "report.json").write_text(json.dumps({"title": "t", "blocks": []}))
    return run


def checkpoint_files(run: Path, step: int) -> list[Path]:
    return sorted(p for p in (run / "checkpoints" / str(step)).rglob("*") if p.is_file() and p.name != MANIFEST)


# -- verified checkpoints -----------------------------------------------------------------


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    for i in range(min(16, len(data))):
        data[(len(data) // 2 + i) % len(data)] ^= 0xFF
    p.write_bytes(bytes(data))


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


DAMAGE = {"flip16": _flip, "truncate": _truncate, "delete": Path.unlink, "empty": lambda p: p.write_bytes(b"")}


@pytest.mark.parametrize("how", sorted(DAMAGE))
@pytest.mark.parametrize("which", ["data", "metadata"])
def test_damaged_latest_checkpoint_falls_back_and_resumes_bit_exactly(tmp_path, full_toy, how, which):
    fit(ToyTask(), toy_batch, cfg(steps=4), workdir=tmp_path)  # checkpoints at 2 and 4
    files = checkpoint_files(tmp_path, 4)
    target = max(files, key=lambda p: p.stat().st_size) if which == "data" else next(
        p for p in files if p.name == "_METADATA")
    DAMAGE[how](target)
    with pytest.warns(CheckpointWarning, match=r"skipped damaged checkpoint step 4 .*restored step 2"):
        resumed, _ = fit(ToyTask(), toy_batch, cfg(), workdir=tmp_path)
    assert same_params(resumed, full_toy[0])
    assert Checkpoints(tmp_path / "checkpoints").latest_step == 8
    steps = [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")]
    assert steps == list(range(1, 9))  # the log was rewound to step 2 and not duplicated


def test_every_checkpoint_damaged_is_one_clear_error(tmp_path):
    fit(ToyTask(), toy_batch, cfg(steps=4), workdir=tmp_path)
    for step in (2, 4):
        _flip(max(checkpoint_files(tmp_path, step), key=lambda p: p.stat().st_size))
    with pytest.raises(CheckpointError, match=r"no intact checkpoint in .*step 4 \(checksum mismatch.*step 2"):
        Checkpoints(tmp_path / "checkpoints", read_only=True).restore(ToyTask().init(jax.random.PRNGKey(0)))


def test_leftover_temporary_checkpoint_folders_are_removed(tmp_path, full_toy):
    fit(ToyTask(), toy_batch, cfg(steps=4), workdir=tmp_path)
    tmp = tmp_path / "checkpoints" / "6.orbax-checkpoint-tmp-123"
    shutil.copytree(tmp_path / "checkpoints" / "4", tmp)  # what a kill in the middle of a save leaves
    resumed, _ = fit(ToyTask(), toy_batch, cfg(), workdir=tmp_path)
    assert not tmp.exists() and same_params(resumed, full_toy[0])


def test_torn_last_log_line_resumes(tmp_path, full_toy):
    fit(ToyTask(), toy_batch, cfg(steps=4), workdir=tmp_path)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 5, "lo')  # a crash in the middle of a log write
    with pytest.warns(UserWarning, match="torn last line"):
        resumed, _ = fit(ToyTask(), toy_batch, cfg(), workdir=tmp_path)
    assert same_params(resumed, full_toy[0])
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == list(range(1, 9))


KILL_SCRIPT = """
import sys
from _train_toy import ToyTask, toy_batch
from genstyle_causal.train import TrainConfig, fit
fit(ToyTask(), toy_batch, TrainConfig(steps=10**6, log_every=1, checkpoint_every=1, progress=False),
    workdir=sys.argv[1])
"""


@pytest.mark.parametrize("attempt", range(3))
def test_kill_9_during_checkpoint_writes_resumes_bit_exactly(tmp_path, attempt):
    """Checkpointing every step keeps the process inside a checkpoint write most of the time
    (compiled like this process, so the two runs are comparable bit for bit)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and len(read_jsonl(tmp_path / "metrics.jsonl")) < 2 + 3 * attempt:
            time.sleep(0.02)
        time.sleep(0.013 * attempt)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = Checkpoints(tmp_path / "checkpoints", read_only=True).latest_step
    assert done, "no checkpoint before the kill"
    target = done + 3
    resumed, _ = fit(ToyTask(), toy_batch, cfg(steps=target, checkpoint_every=1), workdir=tmp_path)
    full, _ = fit(ToyTask(), toy_batch, cfg(steps=target, checkpoint_every=1))
    assert same_params(resumed, full)
    assert not list((tmp_path / "checkpoints").glob("*orbax-checkpoint-tmp*"))


# -- full disk and read-only folders (need root for a tmpfs) ----------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def test_full_disk_keeps_the_previous_checkpoint_and_resumes(tiny_disk, full_toy, capfd):
    run = tiny_disk / "run"
    fit(ToyTask(), toy_batch, cfg(steps=2), workdir=run)
    filler = tiny_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill the disk, then leave less than a checkpoint needs
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - 6 * 1024))
    with pytest.raises(CheckpointError, match=r"cannot write checkpoint step \d+ to .*: the disk is full \(.* free\); "
                                              r"step \d+ is intact") as failure:
        fit(ToyTask(), toy_batch, cfg(), workdir=run)
    assert "Traceback" not in capfd.readouterr().err  # orbax's writer threads stay quiet
    steps = Checkpoints(run / "checkpoints", read_only=True).all_steps()
    assert f"step {steps[-1]} is intact" in str(failure.value) and newest_intact(run / "checkpoints") == (steps[-1], [])
    assert not list((run / "checkpoints").glob("*tmp*"))
    filler.unlink()
    resumed, _ = fit(ToyTask(), toy_batch, cfg(), workdir=run)
    assert same_params(resumed, full_toy[0])


def test_read_only_output_is_one_line(tiny_disk, capsys):
    (tiny_disk / "data").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    fails_cleanly(capsys, ["train", "--out", tiny_disk / "data" / "run"], "is not writable", tiny_disk)
    fails_cleanly(capsys, ["audit", "--out", tiny_disk / "a"], "is not writable", tiny_disk)


# -- the run directory contract ----------------------------------------------------------


def test_second_process_on_a_run_gets_its_pid(train_run, capsys, tmp_path):
    script = ("import sys, time; from genstyle_causal.rundir import open_run\n"
              "with open_run(sys.argv[1], keep=lambda p: True):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", script, str(train_run)],
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        fails_cleanly(capsys, ["train", "--out", train_run], f"run {train_run} is in use by pid {holder.pid}",
                      train_run)
        fails_cleanly(capsys, ["report", train_run], f"is in use by pid {holder.pid}", train_run)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("sets, message", [
    (["seed=1"], "cannot resume {run} with seed=1: the run has seed=0"),
    (["model=gan"], "cannot resume {run} with model='gan'"),
    (["vae.latent=5"], "cannot resume {run} with vae.latent=5"),
    (["batch_size=4"], "cannot resume {run} with batch_size=4"),
    (["steps_per_call=2", "checkpoint_every=2"], "cannot resume {run} with steps_per_call=2"),
    (["image_size=64"], "cannot resume {run} with image_size=64"),
    (["steps=1"], "cannot resume {run} with steps=1: 2 steps are done already"),
])
def test_incompatible_resume_is_refused_before_anything_is_written(train_run, capsys, sets, message):
    argv = ["train", "--out", train_run]
    for s in sets:
        argv += ["--set", s]
    fails_cleanly(capsys, argv, message.format(run=train_run), train_run)


@pytest.mark.parametrize("damage, message", [
    (lambda r: (r / "train.json").write_text('{"model": '), "cannot parse config file"),
    (lambda r: (r / "train.json").write_bytes(b"\xff\xfe\x00"), "is not UTF-8 text"),
    (lambda r: (r / "train.json").write_text("[1, 2]"), "must hold a table of keys at the top; got list"),
    (lambda r: (r / "config.json").write_text("{"), "config.json is damaged"),
    (lambda r: (r / "metrics.jsonl").write_text('{"step": 1}\n{"st\n{"step": 2}\n'), "line 2 is not JSON"),
    (lambda r: [_flip(max(checkpoint_files(r, s), key=lambda p: p.stat().st_size)) for s in (2,)],
     "no intact checkpoint"),
])
def test_damaged_run_files_are_refused_on_resume(train_run, capsys, damage, message):
    damage(train_run)
    fails_cleanly(capsys, ["train", "--out", train_run], message, train_run)


def test_audit_never_writes_into_a_train_run(train_run, capsys):
    fails_cleanly(capsys, ["audit", "--out", train_run, "--set", "generator=vae", "--set", f"run={train_run}"],
                  f"{train_run} is a train run; audit never writes into a train run's files", train_run)
    fails_cleanly(capsys, ["demo", "--out", train_run], "is a train run", train_run)


def test_a_run_of_another_command_is_refused(tmp_path, capsys):
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    (audit_dir / "config.json").write_text("{}")
    fails_cleanly(capsys, ["train", "--out", audit_dir], "holds the run of another command", audit_dir)
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    (demo_dir / "config.json").write_text(json.dumps({"vae": {"steps": 5}}))
    fails_cleanly(capsys, ["audit", "--out", demo_dir], "config.json is not a configuration of audit", demo_dir)


def test_a_failed_start_leaves_nothing(tmp_path, capsys, monkeypatch):
    """A failure after the checks but before the first checkpoint removes what the call made."""
    import genstyle_causal.registry as registry

    def broken(cfg, outdir):
        (outdir / "half-written").write_text("x")
        raise CheckpointError("simulated failure before the first checkpoint")

    monkeypatch.setitem(registry.MODELS, "vae", registry.dataclasses.replace(registry.MODELS["vae"], train=broken))
    new = tmp_path / "a" / "b" / "run"
    fails_cleanly(capsys, ["train", "--out", new, *sum((["--set", f"{k}={v}"] for k, v in TINY.items()), [])],
                  "simulated failure", tmp_path)
    assert not (tmp_path / "a").exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "notes.txt").write_text("keep me")
    fails_cleanly(capsys, ["train", "--out", existing], "simulated failure", existing)


# -- the command line: bad input is one line, exit 2, nothing written --------------------------


def _sets(*items):
    return [x for item in items for x in ("--set", item)]


TRAIN_BAD = [
    (["steps=0"], "config key 'steps' must be >= 1; got 0"),
    (["steps=-5"], "config key 'steps' must be >= 1; got -5"),
    (["steps=2.5"], "config key 'steps' expects int; got '2.5'"),
    (["steps=abc"], "config key 'steps' expects int"),
    (["batch_size=0"], "config key 'batch_size' must be >= 1; got 0"),
    (["batch_size=-3"], "config key 'batch_size' must be >= 1; got -3"),
    (["seed=1e20"], "config key 'seed' expects int; got '1e20'"),
    (["seed=-1"], "config key 'seed' must be >= 0; got -1"),
    (["seed=99999999999"], "config key 'seed' must be <= 2147483646"),
    (["steps_per_call=0"], "config key 'steps_per_call' must be >= 1; got 0"),
    (["checkpoint_every=-1"], "config key 'checkpoint_every' must be >= 0"),
    (["steps_per_call=2", "checkpoint_every=3"], "checkpoint_every=3 must be a multiple of steps_per_call=2"),
    (["image_size=0"], "config key 'image_size' must be >= 8; got 0"),
    (["image_size=40"], "must be divisible by 16"),
    (["vae.latent=0"], "config key 'vae.latent' must be >= 1; got 0"),
    (["vae.latent=100000000"], "config key 'vae.latent' must be <= 65536"),
    (["vae.beta=nan"], "config key 'vae.beta' must be a finite number; got nan"),
    (["vae.learning_rate=-1"], "config key 'vae.learning_rate' must be >= 0.0"),
    (["vae.objective=gaussian"], "objective must be one of"),
    (["gan.categorical=1"], "config key 'gan.categorical' must be >= 2; got 1"),
    (["model=gan", "gan.loss=hinge"], "GANConfig.loss must be one of"),
    (["batch_size=100000000"], "GiB of memory; this machine has"),
    (["model=diffusion"], "unknown model 'diffusion'"),
    (["dataset=mnist"], "unknown dataset 'mnist'"),
    (["nokey=1"], "unknown config key 'nokey'"),
    (["steps"], "override 'steps' must look like key=value"),
]


@pytest.mark.parametrize("sets, message", TRAIN_BAD, ids=[" ".join(s) for s, _ in TRAIN_BAD])
def test_train_bad_values(tmp_path, capsys, sets, message):
    out = tmp_path / "run"
    fails_cleanly(capsys, ["train", "--out", out, *_sets(*sets)], message, tmp_path)
    assert not out.exists()


CONFIG_FILES = [
    ("c.toml", b"steps = true\n", "config key 'steps' expects int; got True"),
    ("c.toml", b"vae = 5\n", "config section 'vae' must be a table of keys; got int 5"),
    ("c.toml", b"steps = 1e20\n", "config key 'steps' expects int; got 1e+20"),
    ("c.toml", b"steps = 3000.0\n", "config key 'steps' expects int; got 3000.0"),
    ("c.toml", b"steps = 99999999999\n", "config key 'steps' must be <= 2147483647"),
    ("c.toml", b"seed = 1e20\n", "config key 'seed' expects int; got 1e+20"),
    ("c.toml", b"seed = 99999999999\n", "config key 'seed' must be <= 2147483646"),
    ("c.toml", b"steps = \n", "cannot parse config file"),
    ("c.json", b"[1, 2, 3]", "must hold a table of keys at the top; got list"),
    ("c.json", b'"steps"', "must hold a table of keys at the top; got str"),
    ("c.json", b'{"vae": [1]}', "config section 'vae' must be a table of keys; got list"),
    ("c.json", b'{"steps": {"a": 1}}', "config key 'steps' expects int; got {'a': 1}"),
    ("c.json", b'{"model": 5}', "config key 'model' expects str; got 5"),
    ("c.json", b"\xff\xfe\x00\x01", "is not UTF-8 text"),
    ("c.yaml", b"just a string\n", "must hold a table of keys at the top; got str"),
    ("c.ini", b"[x]\n", "must end in .toml, .json, .yaml or .yml"),
]


@pytest.mark.parametrize("name, content, message", CONFIG_FILES, ids=[c.decode("latin-1")[:12] for _, c, _ in CONFIG_FILES])
def test_bad_config_files(tmp_path, capsys, name, content, message):
    (tmp_path / name).write_bytes(content)
    fails_cleanly(capsys, ["train", "--out", tmp_path / "run", "--config", tmp_path / name], message, tmp_path)


def test_missing_config_file(tmp_path, capsys):
    fails_cleanly(capsys, ["audit", "--out", tmp_path / "a", "--config", tmp_path / "none.toml"],
                  "config file not found", tmp_path)


@pytest.mark.parametrize("where, message", [
    (lambda t: t / "file.txt", "is a file, not a folder"),
    (lambda t: t / "file.txt" / "run", "is a file, so"),
])
@pytest.mark.parametrize("command", ["train", "audit", "demo"])
def test_out_that_is_or_is_below_a_file(tmp_path, capsys, where, message, command):
    (tmp_path / "file.txt").write_text("x")
    fails_cleanly(capsys, [command, "--out", where(tmp_path)], message, tmp_path)


AUDIT_BAD = [
    (["samples=0"], "config key 'samples' must be >= 2; got 0"),
    (["bootstrap=0"], "config key 'bootstrap' must be >= 1; got 0"),
    (["traversal_values=0"], "config key 'traversal_values' must be >= 1; got 0"),
    (["image_size=0"], "config key 'image_size' must be >= 8; got 0"),
    (["probe_steps=0"], "config key 'probe_steps' must be >= 1"),
    (["min_effect=-0.1"], "config key 'min_effect' must be >= 0.0"),
    (["metrics.samples=0"], "config key 'metrics.samples' must be >= 2"),
    (["generator=vae", "run={tmp}/none"], "no train run in {tmp}/none"),
    (["outcome=probe", "probe={tmp}/none.npz"], "no probe at {tmp}/none.npz"),
]


@pytest.mark.parametrize("sets, message", AUDIT_BAD, ids=[" ".join(s) for s, _ in AUDIT_BAD])
def test_audit_bad_values(tmp_path, capsys, sets, message):
    out = tmp_path / "audit"
    fails_cleanly(capsys, ["audit", "--out", out, *_sets(*(s.format(tmp=tmp_path) for s in sets))],
                  message.format(tmp=tmp_path), tmp_path)
    assert not out.exists()


def test_audit_of_a_run_without_intact_checkpoints(train_run, tmp_path, capsys):
    for step in (2,):
        for p in checkpoint_files(train_run, step):
            p.unlink()
    fails_cleanly(capsys, ["audit", "--out", tmp_path / "audit", *_sets("generator=vae", f"run={train_run}")],
                  "no intact checkpoint", train_run, tmp_path)


# -- no pickle is ever loaded ----------------------------------------------------------------


class _Marker:
    """Unpickling this creates the file ``MARKER`` (what a malicious pickle would do)."""

    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def pickles(tmp_path):
    _Marker.path = str(tmp_path / "MARKER")
    raw = pickle.dumps(_Marker())
    np.save(tmp_path / "obj.npy", np.array([_Marker()], dtype=object), allow_pickle=True)
    import zipfile

    with zipfile.ZipFile(tmp_path / "objects.npz", "w") as z:
        z.write(tmp_path / "obj.npy", "w.npy")
    for name in ("raw.pth", "raw.npz"):
        (tmp_path / name).write_bytes(raw)
    yield tmp_path
    assert not (tmp_path / "MARKER").exists(), "a pickle was loaded"


def _images(tmp_path, *names):
    for n in names:
        Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(tmp_path / n)


@pytest.mark.parametrize("weights", ["raw.pth", "raw.npz", "objects.npz"])
def test_gatys_weights_that_are_pickles_are_refused(pickles, capsys, weights):
    if weights.endswith(".pth"):
        pytest.importorskip("torch")
    _images(pickles, "c.png", "s.png")
    fails_cleanly(capsys, ["stylize", pickles / "c.png", pickles / "s.png", "--out", pickles / "o.png",
                           "--set", f"weights={pickles / weights}"], "cannot read weights file", pickles / "c.png")
    assert not (pickles / "o.png").exists()


@pytest.mark.parametrize("weights", ["raw.npz", "objects.npz"])
def test_adain_and_probe_files_that_are_pickles_are_refused(pickles, capsys, weights):
    _images(pickles, "c.png", "s.png")
    fails_cleanly(capsys, ["stylize", pickles / "c.png", pickles / "s.png", "--out", pickles / "o.png",
                           "--set", "method=adain", "--set", f"weights={pickles / weights}"],
                  "cannot read AdaIN model")
    fails_cleanly(capsys, ["audit", "--out", pickles / "a", "--set", "outcome=probe",
                           "--set", f"probe={pickles / weights}"], "cannot read probe file")
    assert not (pickles / "a").exists()


# -- stylize: every check before the work ----------------------------------------------------


STYLIZE_BAD = [
    (["--out", "{t}/dir.png"], [], "is a folder, not a file"),
    (["--out", "{t}/result"], [], "needs a suffix naming a format to write"),
    (["--out", "{t}/result.xyz"], [], "needs a suffix naming a format to write"),
    (["--out", "{t}/f.txt/o.png"], [], "is a file, so"),
    (["--out", "{t}/o.png"], ["alpha=2"], "config key 'alpha' must be <= 1.0"),
    (["--out", "{t}/o.png"], ["steps=0"], "config key 'steps' must be >= 1"),
    (["--out", "{t}/o.png"], ["size=-1"], "config key 'size' must be >= 0"),
    (["--out", "{t}/o.png"], ["style_mix=1,-1"], "config key 'style_mix' must be >= 0.0"),
    (["--out", "{t}/o.png"], ["preserve_colour=maybe"], "config key 'preserve_colour' expects bool"),
    (["--out", "{t}/o.png"], ["max_pixels=100"], "more than the limit of 0.0 Mpixel"),
]


@pytest.mark.parametrize("out, sets, message", STYLIZE_BAD, ids=[m[:30] for _, _, m in STYLIZE_BAD])
def test_stylize_bad_input(tmp_path, capsys, out, sets, message):
    _images(tmp_path, "c.png", "s.png")
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "f.txt").write_text("x")
    fails_cleanly(capsys, ["stylize", tmp_path / "c.png", tmp_path / "s.png",
                           *[o.format(t=tmp_path) for o in out], *_sets(*sets)], message, tmp_path)


# -- images ----------------------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A small PNG whose header declares ``width × height`` pixels (a decompression bomb's shape)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.mark.parametrize("wh", [(100_000, 100_000), (12_000, 12_000), (8_000, 8_000)])
def test_decompression_bombs_are_refused_before_decoding(tmp_path, wh):
    _png_header_only(tmp_path / "bomb.png", *wh)
    assert (tmp_path / "bomb.png").stat().st_size < 6000
    with pytest.raises(ImageTooLargeError, match="bomb.png"):
        load_image(tmp_path / "bomb.png")


def test_pixel_limit_is_configurable(tmp_path):
    Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(ImageTooLargeError, match=r"120×100 = 0.0 Mpixel, more than the limit"):
        load_image(tmp_path / "x.png", max_pixels=10_000)
    assert load_image(tmp_path / "x.png", max_pixels=12_000).shape == (100, 120, 3)


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_images_are_one_error(tmp_path, content):
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(ImageFileError, match="bad.png"):
        load_image(tmp_path / "bad.png")


def test_truncated_image(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="t.png"):
        load_image(tmp_path / "t.png")


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    grey = np.array([[0, 16384, 32768, 65535]], np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I")
    img = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(img[0, :, 0], grey[0] / 65535.0, atol=1e-6)
    assert np.array_equal(img[..., 0], img[..., 2])


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_become_white(tmp_path, mode):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 255  # opaque black...
    rgba[0, 0] = (200, 0, 0, 255)  # ...opaque red...
    rgba[1, 1] = (0, 90, 0, 0)  # ...and one transparent pixel, which becomes white
    im = Image.fromarray(rgba)
    if mode == "RGBA":
        im.save(tmp_path / "a.png")
    elif mode == "LA":
        im.convert("LA").save(tmp_path / "a.png")
    else:
        pal = im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        pal.save(tmp_path / "a.png", transparency=pal.getpixel((1, 1)))
    with Image.open(tmp_path / "a.png") as check:
        assert check.mode == mode
    img = load_image(tmp_path / "a.png")
    np.testing.assert_allclose(img[1, 1], 1.0)
    assert img[0, 1].max() < 0.01


# -- report re-rendering trusts nothing in report.json ----------------------------------------


HOSTILE_REPORTS = [
    {"title": "t", "blocks": [["figure", ["../../secret", "x"]]]},
    {"title": "t", "blocks": [["figure", ["/etc/passwd", "x"]]]},
    {"title": "t", "blocks": [["figure", ["..", "x"]]]},
    {"title": "t", "blocks": [["figure", ['a" onload="alert(1)', "x"]]]},
    {"title": "t", "blocks": [["figure", ["missing", "x"]]]},
    {"title": "t", "blocks": [["script", "x"]]},
    {"title": ["not", "text"], "blocks": []},
    {"title": "t", "blocks": "nope"},
    {"title": "t", "blocks": [["table", [["row"], "c"]]]},
    {"blocks": []},
]


@pytest.mark.parametrize("index", HOSTILE_REPORTS, ids=[json.dumps(h)[:40] for h in HOSTILE_REPORTS])
def test_hostile_report_json_is_refused(tmp_path, capsys, index):
    run = tmp_path / "run"
    (run / "figures").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(run / "figures" / "ok.png")
    (tmp_path / "secret.png").write_bytes(b"outside the run")
    (run / "report.json").write_text(json.dumps(index))
    fails_cleanly(capsys, ["report", run], "is not a valid report", tmp_path)


def test_report_json_that_is_not_json(tmp_path, capsys):
    (tmp_path / "report.json").write_text("{")
    fails_cleanly(capsys, ["report", tmp_path], "is not a valid report", tmp_path)


def test_markdown_and_html_cannot_be_injected(tmp_path):
    rep = Report(tmp_path, "run `x`<img src=x onerror=alert(1)>")
    rep.section("a | b <script>")
    rep.table([{"name | with pipe": "`<b>x</b>`", "value": 1.0}], caption="cap <i>")
    rep.text("Configuration: `/runs/a`<img src=y onerror=alert(2)>`")
    md = rep.markdown_path.read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 3 and all(line.count("|") - line.count("\\|") == 3 for line in table)  # still 2 columns
    literal = re.sub(r"(`+)[^`]+?\1", "", re.sub(r"\\.", "", md))  # drop escaped characters, then code spans
    assert "<" not in literal  # so no raw HTML anywhere in the Markdown
    html = rep.html_path.read_text()
    assert "<img src=" not in html and "<script" not in html and "onerror=alert" not in html.replace(
        "onerror=alert(1)&gt;", "").replace("onerror=alert(2)&gt;", "")


# -- files follow the umask -------------------------------------------------------------------


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        fit(ToyTask(), toy_batch, cfg(steps=2), workdir=tmp_path / "run")
        Report(tmp_path / "rep", "t").text("x")
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o644)}
