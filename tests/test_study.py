"""Studies: grid validation, a tiny grid that runs, shards into the same leaderboard, and resumes after a kill."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from genstyle_causal.errors import ConfigError
from genstyle_causal.study import leaderboard, parse_study, run_study, write_report

# 2 objectives × 2 seeds of a 16×16 VAE for 40 steps, scored with tiny metric sizes
TINY = {
    "seeds": [0, 1],
    "protocol": "fast",
    "metrics": ["mig", "dci", "factor_vae", "irs"],
    "defaults": {"steps": 40, "steps_per_call": 10, "checkpoint_every": 10, "image_size": 16, "batch_size": 16,
                 "channels": [8, 8], "hidden": 32, "latent": 4, "learning_rate": 1e-3},
    "grid": [{"objective": "beta", "beta": 4.0}, {"objective": "annealed", "capacity_max": 5.0, "capacity_steps": 40}],
    "metric_options": {
        "mig": {"num_train": 256}, "irs": {"num_train": 256}, "dci": {"num_train": 256, "num_test": 128},
        "factor_vae": {"num_train": 40, "num_eval": 20, "num_variance_estimate": 256, "group_size": 8},
    },
}


def tiny(**changes):
    return json.loads(json.dumps({**TINY, **changes}))


def board(outdir):
    return json.loads((outdir / "leaderboard.json").read_text())["rows"]


def test_grid_expands_objectives_values_and_seeds():
    study = parse_study(tiny(grid=[{"objective": ["beta", "betatc"], "beta": [1.0, 4.0]}], seeds=[3, 5]))
    assert [r.run_id for r in study.runs[:3]] == ["beta-beta=1-seed3", "beta-beta=1-seed5", "beta-beta=4-seed3"]
    assert len(study.runs) == 8 and {r.objective for r in study.runs} == {"beta", "betatc"}
    assert study.runs[0].swept == ("beta",) and study.runs[0].vae_config((16, 16, 1)).beta == 1.0
    # shards interleave and together hold every run exactly once
    parts = [study.shard(i, 3) for i in (1, 2, 3)]
    assert sorted(r.run_id for p in parts for r in p) == sorted(r.run_id for r in study.runs)
    assert parts[0][:2] == (study.runs[0], study.runs[3])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"grid": [{"objective": "vq"}]}, "grid\\[1\\].objective 'vq' is unknown; choose one of"),
        ({"grid": []}, "the study grid is empty"),
        ({"grid": [{"objective": "beta", "beta": []}]}, "grid\\[1\\].beta is an empty list"),
        ({"grid": [{"objective": "beta", "gamma": [5.0, 10.0]}]}, "sets \\['gamma'\\] for objective 'beta', which does not read"),
        ({"grid": [{"objective": "beta", "seed": 1}]}, "conflicts with the study's top-level seeds"),
        ({"grid": [{"objective": "beta", "image_shape": [16, 16, 1]}]}, "conflicts with image_size"),
        ({"grid": [{"objective": "beta", "beta": 2.0}, {"objective": "beta", "beta": [2.0]}]}, "repeats run 'beta-beta=2-seed0'"),
        ({"grid": [{"objective": "beta", "betta": 2.0}]}, "unknown key in grid\\[1\\] 'betta'"),
        ({"grid": [{"objective": "beta", "beta": "big"}]}, "beta must be float"),
        ({"defaults": {"steps": 0}}, "steps must be an integer >= 1"),
        ({"protocol": "exact"}, "unknown metric protocol 'exact'"),
        ({"metrics": ["mig", "migg"]}, "unknown metric 'migg'"),
        ({"metric_options": {"mig": {"num_samples": 5}}}, "unknown option of mig"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
    ],
)
def test_bad_grids_give_one_clear_error(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_study(tiny(**changes))


def test_tiny_study_runs_shards_and_resumes_after_a_kill(tmp_path):
    study = parse_study(TINY, name="tiny")
    whole = tmp_path / "whole"
    records = run_study(study, whole, progress=False)
    assert [r["status"] for r in records] == ["finished"] * 4
    write_report(study, whole)
    rows = board(whole)
    assert [len(r["seeds"]) for r in rows] == [2, 2] and {r["objective"] for r in rows} == {"beta", "annealed"}
    for row in rows:  # seed spread: per-seed values with their min, max and a CI around the mean
        for s in row["scores"].values():
            assert len(s["values"]) == 2 and s["min"] <= s["low"] <= s["mean"] <= s["high"] <= s["max"]
    assert {"mig", "dci_disentanglement", "factor_vae", "irs", "reconstruction"} <= set(rows[0]["scores"])
    md = (whole / "report.md").read_text()
    assert "## Seed spread" in md and "`fast` protocol" in md and (whole / "figures" / "seed-spread.png").is_file()

    # two shards into one directory: the same leaderboard as the unsharded run
    sharded = tmp_path / "sharded"
    for i in (1, 2):
        run_study(study, sharded, shard=(i, 2), progress=False)
    write_report(study, sharded)
    assert board(sharded) == rows

    # a study process killed mid-run resumes from the run directories to the same leaderboard
    killed = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import json
        from genstyle_causal.study import parse_study, run_study
        run_study(parse_study(json.loads({json.dumps(json.dumps(TINY))}), name="tiny"), {str(killed)!r}, progress=False)
    """)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    first_checkpoint = killed / "runs" / study.runs[0].run_id / "checkpoints"
    deadline = time.monotonic() + 300
    while not (first_checkpoint.is_dir() and any(first_checkpoint.iterdir())) and proc.poll() is None:
        assert time.monotonic() < deadline, "the study subprocess wrote no checkpoint in 300 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not all((killed / "runs" / r.run_id / "scores.json").is_file() for r in study.runs)
    run_study(study, killed, progress=False)
    write_report(study, killed)
    assert board(killed) == rows


def test_leaderboard_ranks_by_mig_and_skips_unfinished():
    def rec(config, seed, mig, status="finished"):
        return {"config_id": config, "objective": "beta", "seed": seed, "params": {"beta": 1.0}, "swept": ["beta"],
                "status": status, "scores": {"mig": mig} if status == "finished" else {}}

    rows = leaderboard([rec("a", 0, 0.1), rec("a", 1, 0.3), rec("b", 0, 0.5), rec("b", 1, 0.0, "pending")])
    assert [r["config_id"] for r in rows] == ["b", "a"]
    a = rows[1]["scores"]["mig"]
    assert a["mean"] == pytest.approx(0.2) and a["values"] == [0.1, 0.3]
    # two seeds: every bootstrap mean is 0.1, 0.2 or 0.3, so the 95% interval spans [0.1, 0.3]
    assert a["low"] == pytest.approx(0.1) and a["high"] == pytest.approx(0.3)
    assert rows[0]["scores"]["mig"]["low"] == rows[0]["scores"]["mig"]["high"] == pytest.approx(0.5)


def test_cli_lists_a_shard_and_refuses_bad_grids_without_writing(tmp_path, run_cli):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(tiny(grid=[{"objective": ["beta", "betatc"], "beta": [1.0, 4.0]}])))
    out = tmp_path / "study"
    listed = run_cli("study", str(grid), "--out", str(out), "--shard", "2/3", "--list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["beta-beta=1-seed1", "betatc-beta=1-seed0", "betatc-beta=4-seed1"]  # runs 2, 5, 8
    for bad, message in ((tiny(grid=[{"objective": "vq"}]), "'vq' is unknown"), (tiny(), "shard must look like i/n")):
        grid.write_text(json.dumps(bad))
        res = run_cli("study", str(grid), "--out", str(out), "--shard", "3/2")
        assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
