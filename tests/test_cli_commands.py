"""``train``, ``audit``, ``stylize`` and ``bench`` as a user runs them: tiny end-to-end runs and clean errors.

The runs go through subprocesses (the real entry point), compiled fast and sharing one
compilation cache (``run_cli`` in conftest; the resumed run reuses the first run's programs).
"""

import json

import numpy as np
import pytest
from PIL import Image

from genstyle_causal.cli import main
from genstyle_causal.commands import run_bench


def steps_logged(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def vae_run(run_cli, tmp_path_factory):
    """A 2-step VAE run on 32×32 dSprites, then resumed to 4 steps by `train --out DIR --set steps=4` alone."""
    out = tmp_path_factory.mktemp("train") / "vae"
    first = run_cli("train", "--out", str(out), sets=["image_size=32", "steps=2", "steps_per_call=1", "batch_size=8",
                                                   "checkpoint_every=0", "vae.latent=4"])
    assert first.returncode == 0, first.stderr[-3000:]
    assert steps_logged(out) == [1, 2]
    second = run_cli("train", "--out", str(out), sets=["steps=4"])  # the rest comes from the run's train.json
    assert second.returncode == 0, second.stderr[-3000:]
    return out, second


@pytest.mark.slow
def test_train_writes_a_resumable_run_with_report(vae_run):
    out, run = vae_run
    assert f"report: {out / 'report.html'}" in run.stdout
    assert steps_logged(out) == [1, 2, 3, 4]  # resumed at 2, not restarted
    saved = json.loads((out / "train.json").read_text())
    assert saved["steps"] == 4 and saved["image_size"] == 32 and saved["vae"]["latent"] == 4
    results = json.loads((out / "results.json").read_text())
    assert results["steps_done"] == 4 and np.isfinite(results["final"]["loss"])
    html = (out / "report.html").read_text()
    assert all(f'id="{f}"' in html for f in ("loss", "samples"))


@pytest.mark.slow
def test_audit_of_a_trained_vae(run_cli, vae_run, tmp_path):
    run_dir, _ = vae_run
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    out = tmp_path / "audit"
    run = run_cli("audit", "--out", str(out), sets=[
        "generator=vae", f"run={run_dir}", "samples=16", "bootstrap=20", "traversal_values=3",
        "metrics.names=mig", "metrics.samples=200"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before  # the train run is only read
    assert [line[:5] for line in run.stdout.splitlines() if line.startswith("[")] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    results = json.loads((out / "results.json").read_text())
    effects = results["audit"]["effects"]
    # 4 latent units × the dSprites readout (size, x, y)
    assert np.asarray(effects["effect"]).shape == (4, 3) and effects["outcome_names"] == ["size", "x", "y"]
    assert "mig" in results["metrics"]["beta-VAE"]["metrics"]  # labelled by the run's objective
    html = (out / "report.html").read_text()
    assert all(f'id="{f}"' in html for f in ("traversals", "effects", "influence", "graph"))


@pytest.mark.slow
def test_audit_of_the_pendulum_oracle_recovers_the_true_dag(run_cli, tmp_path):
    out = tmp_path / "pendulum"
    run = run_cli("audit", "--out", str(out), sets=["dataset=pendulum", "image_size=32", "samples=64", "bootstrap=100",
                                                 "statistic=magnitude", "min_effect=0.05", "traversal_values=3"])
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    # the oracle's latents are the exogenous inputs of the true SCM: the audit must find exactly its 4 edges
    assert results["audit"]["scores"]["shd"] == 0
    assert sorted(map(tuple, results["audit"]["reference_edges"])) == sorted(
        (e["source"], e["target"]) for e in results["audit"]["graph"]["edges"])


def test_stylize_two_tiny_images(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(style)
    out = tmp_path / "out.png"
    run = run_cli("stylize", str(content), str(style), "--out", str(out), sets=["steps=2"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == str(out.resolve())
    with Image.open(out) as im:
        assert im.size == (40, 32) and im.mode == "RGB"  # the content image's size, (width, height)


@pytest.mark.parametrize("args, message", [
    (["train", "--out", "{tmp}/t", "--set", "model=diffusion"], "unknown model 'diffusion'; valid: ['adain', 'causalvae', 'gan', 'probe', 'vae']"),
    (["train", "--out", "{tmp}/t", "--set", "dataset=mnist"], "unknown dataset 'mnist'; valid: ['dsprites', 'pendulum', 'sprinkler', 'styleshapes']"),
    (["train", "--out", "{tmp}/t", "--set", "vae.depth=3"], "unknown config key 'vae.depth'; valid keys: ["),
    (["audit", "--out", "{tmp}/a", "--set", "generator=diffusion"], "unknown generator 'diffusion'; valid: ['causalvae', 'gan', 'oracle', 'vae']"),
    (["audit", "--out", "{tmp}/a", "--set", "generator=vae"], "generator 'vae' needs --set run=TRAIN_DIR"),
    (["audit", "--out", "{tmp}/a", "--set", "generator=gan", "--set", "run={tmp}/none"], "no train run in {tmp}/none (expected {tmp}/none/train.json"),
    (["audit", "--out", "{tmp}/a", "--set", "outcome=probe", "--set", "probe={tmp}/p.npz"], "no probe at {tmp}/p.npz"),
    (["audit", "--out", "{tmp}/a", "--set", "statistic=median"], "unknown statistic 'median'; valid: ['contrast', 'magnitude']"),
    (["stylize", "{tmp}/c.png", "{tmp}/s.png", "--out", "{tmp}/o.png", "--set", "method=cyclegan"], "unknown method 'cyclegan'; valid: ['adain', 'gatys']"),
    (["stylize", "{tmp}/c.png", "{tmp}/s.png", "--out", "{tmp}/o.png", "--set", "features=alexnet"], "unknown features 'alexnet'; valid: ['random', 'vgg16']"),
    (["stylize", "{tmp}/c.png", "{tmp}/s.png", "--out", "{tmp}/o.png", "--set", "memory_limit_gb=0"], "memory_limit_gb must be > 0; got 0"),
    (["stylize", "{tmp}/c.png", "{tmp}/s.png", "--out", "{tmp}/o.png", "--set", "weights={tmp}/vgg.pth"], "weights file not found: {tmp}/vgg.pth"),
    (["stylize", "{tmp}/c.png", "{tmp}/s.png", "--out", "{tmp}/o.png"], "{tmp}/c.png"),
    (["bench", "nosuch"], "unknown benchmark 'nosuch'; valid: ["),
])
def test_errors_are_one_clean_line(args, message, tmp_path, capsys):
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err and len(err.strip().splitlines()) == 1


def test_a_run_that_trained_another_model_is_refused(tmp_path, capsys):
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "train.json").write_text(json.dumps({"model": "probe"}))
    assert main(["audit", "--out", str(tmp_path / "a"), "--set", "generator=vae", "--set", f"run={tmp_path / 'probe'}"]) == 2
    assert f"run {tmp_path / 'probe'} trained a 'probe' model, not a 'vae'" in capsys.readouterr().err


def test_bench_outside_a_source_checkout_says_where_benchmarks_live(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks ship with the source repository"):
        run_bench([], quick=True, root=tmp_path)


def test_subprocess_error_has_no_traceback(run_cli, tmp_path):
    run = run_cli("audit", "--out", str(tmp_path / "a"), "--set", "generator=vae", timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip() == "genstyle-causal audit: error: generator 'vae' needs --set run=TRAIN_DIR (a `genstyle-causal train` run)"


def test_help_lists_every_config_key(run_cli):
    run = run_cli("train", "--help", timeout=120)
    assert run.returncode == 0
    for key in ("model:", "dataset:", "image_size:", "steps:", "batch_size:", "seed:", "steps_per_call:",
                "checkpoint_every:", "vae.*", "--show-config"):
        assert key in run.stdout


def test_every_registered_model_is_a_train_section_and_every_loadable_one_an_audit_generator():
    from genstyle_causal.cli import build_parser
    from genstyle_causal.commands import TrainRunConfig
    from genstyle_causal.config import flat_keys
    from genstyle_causal.registry import MODELS, generator_names

    keys = flat_keys(TrainRunConfig)
    for name, entry in MODELS.items():
        if entry.options is not None:
            assert all(f"{name}.{f}" in keys for f in entry.options.__dataclass_fields__)
            assert f"{name}.*" in TrainRunConfig.__doc__
    assert generator_names() == ["causalvae", "gan", "oracle", "vae"]
    assert set(build_parser()._subparsers._group_actions[0].choices) == {"demo", "train", "audit", "stylize",
                                                                          "bench", "study", "report",
                                                                          "causal-generators"}
