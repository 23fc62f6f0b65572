"""The command line as a user meets it: the tiny demo end to end, and clean errors."""

import json

import pytest

TINY = [
    "image_size=32", "vae.steps=20", "vae.steps_per_call=10", "probe.steps=20", "audit.samples=32",
    "audit.bootstrap=50", "audit.traversal_values=3", "metrics.samples=300", "metrics.votes=40",
    "style.gatys_steps=3", "style.gatys_size=64",
]


@pytest.mark.slow
def test_tiny_demo_writes_a_complete_report(run_cli, tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out)]
    for item in TINY:
        args += ["--set", item]
    run = run_cli(*args)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"report: {out / 'report.html'}" in run.stdout
    html = (out / "report.html").read_text()
    figures = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert {"datasets", "vae-traversals", "vae-effects", "vae-influence", "vae-graph", "oracle-dsprites",
            "oracle-pendulum-graph", "style-swaps", "style-gatys"} <= set(figures)
    assert html.count("<img") == len(figures) and all(f'id="{f}"' in html for f in figures)
    results = json.loads((out / "results.json").read_text())
    effects = results["vae_audit"]["effects"]
    assert len(effects["effect"]) == 10 and len(effects["effect"][0]) == 7  # 10 latents x 7 probe columns (3 shape classes)
    assert results["metrics"]["oracle"]["metrics"]["dci"]["disentanglement"] > 0.9
    assert results["oracle_pendulum"]["scores"]["shd"] == 0
    assert {"package", "libraries", "git", "device", "time", "config_sha256"} <= set(results["provenance"])
    assert effects["familywise"] is True and effects["level"] == 0.95 and effects["cell_level"] > 0.999
    assert results["metrics"]["oracle"]["representation"] == "oracle"
    assert set(results["probe_reliability"]["scores"]) == {"shape", "scale", "orientation", "posX", "posY"}
    box = html[html.index('<section class="findings"'):html.index("</section>")]  # opens the report
    assert html.index('<section class="findings"') < html.index('<h2 id="datasets-with-known-ground-truth">')
    assert "dSprites oracle read through the probe" in box and "pendulum oracle" in box and "styleshapes oracle" in box
    assert all(f"<td>{f}</td>" in box for f in ("shape", "scale", "orientation", "posX", "posY"))  # every factor
    assert json.loads((out / "config.json").read_text())["vae"]["steps"] == 20
    rerender = run_cli("report", str(out))  # a finished run's report can be rebuilt from its directory
    assert rerender.returncode == 0 and (out / "report.html").read_text() == html


@pytest.mark.parametrize("args, message", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["report", "/no/such/run"], "no report in /no/such/run"),
    (["demo", "--set", "vae.stepz=3"], "unknown config key 'vae.stepz'; valid keys: ["),
    (["demo", "--set", "vae.steps=many"], "'vae.steps' expects int"),
    (["demo", "--config", "/no/such.toml"], "config file not found: /no/such.toml"),
])
def test_cli_errors_are_one_clean_line(run_cli, args, message):
    run = run_cli(*args, timeout=120)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr


def test_show_config_prints_resolved_values(run_cli):
    run = run_cli("demo", "--set", "vae.beta=8", "--show-config", timeout=120)
    assert run.returncode == 0 and json.loads(run.stdout)["vae"]["beta"] == 8.0
