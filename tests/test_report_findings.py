"""The report answers first: findings box, honest heatmap, assignment graph, provenance, table of contents."""

import json
import subprocess

import matplotlib.pyplot as plt
import numpy as np
import pytest

from genstyle_causal.causal.effects import EffectMatrix
from genstyle_causal.causal.reliability import ReadoutReliability
from genstyle_causal.report import (
    Report, anchor, assignment_edges, assignment_graph, check, config_hash, effect_heatmap, factor_rows, provenance,
    reliability_rows, score_rows,
)
from genstyle_causal.report.provenance import git_revision

UNITS = ("z0", "z1", "z2", "z3")
COLUMNS = ("shape:square", "shape:heart", "scale", "orientation")
GROUPS = (("shape", (0, 1)), ("scale", (2,)), ("orientation", (3,)))


def _matrix(effect, half, units=UNITS):
    effect = np.asarray(effect, float)
    return EffectMatrix(effect, effect - half, effect + half, np.ones(len(COLUMNS)), units, COLUMNS, 0.95)


def _reliability():
    """A readout that reads shape and scale well and orientation badly (circular R² 0.4 < 0.8)."""
    oracle = _matrix(np.diag([0.0, 0.9, 1.5, 1.2])[[1, 2, 3]], 0.05, units=("shape", "scale", "orientation"))
    scores = {"shape": {"measure": "chance-corrected accuracy", "score": 0.95}, "scale": {"measure": "R²", "score": 0.9},
              "orientation": {"measure": "circular R²", "score": 0.4}}
    return ReadoutReliability("toy", scores, 0.8, oracle, GROUPS, np.array([0.1, 0.1, 0.1, 0.3]))


def _model():
    # z0 → shape (heart probability), z1 → scale, z2 → orientation (the strongest effect of all), z3 nothing beyond the floor
    effect = [[-0.5, 0.8, 0.0, 0.0], [0.0, 0.0, 1.2, 0.0], [0.0, 0.0, 0.3, 2.0], [0.0, 0.0, 0.15, 0.05]]
    return _matrix(effect, 0.1)


def test_findings_box_lists_every_factor_and_check_and_flags_the_unreliable_readout(tmp_path):
    rel = _reliability()
    assert rel.kept == ("shape", "scale") and rel.flagged == ("orientation",)
    view = rel.factor_view(_model())
    rows = factor_rows(view, reliability=rel)
    assert [r["factor"] for r in rows] == ["shape", "scale", "orientation"]
    shape, scale, orientation = rows
    assert shape["controlled by"] == "z0" and shape["effect (SD) [CI]"] == "+0.80 [+0.70, +0.90]"
    assert scale["controlled by"] == "z1, z2" and scale["runner-up"] == "z2 (+0.30)" and scale["gap (SD)"] == "0.90"
    assert "unreliable" in orientation["controlled by"] and "below threshold" in orientation["readout"]
    checks = [check("dSprites oracle is diagonal", True), check("pendulum DAG recovered", False, "SHD 1: one edge missed")]
    rep = Report(tmp_path, "Audit")
    rep.section("Effects").text("details")
    rep.findings(tables=[("which unit controls which factor", rows)], checks=checks)
    html = rep.html_path.read_text()
    box = html[html.index('<section class="findings"'):html.index("</section>")]
    assert html.index('<section class="findings"') < html.index('<h2 id="effects">')  # first thing after the title
    for name in ("shape", "scale", "orientation", "dSprites oracle is diagonal", "pendulum DAG recovered"):
        assert name in box
    assert "<b>PASS</b> dSprites oracle is diagonal" in box and "<b>FAIL</b> pendulum DAG recovered — SHD 1" in box
    assert '<a href="#findings">' in html and '<a href="#effects">' in html
    md = rep.markdown_path.read_text()
    assert md.index("## Findings") < md.index("## Effects") and "- **FAIL** pendulum DAG recovered" in md
    again = Report.load(tmp_path)
    assert again.html_path.read_text() == html


def test_unreliable_outcome_is_absent_from_the_graph_and_marked_in_the_heatmap():
    rel = _reliability()
    view = rel.factor_view(_model())
    edges = assignment_edges(view.effect, view.resolved, units=view.unit_names, factors=view.factor_names,
                             excluded=rel.flagged)
    assert [(u, f) for u, f, _ in edges] == [("z0", "shape"), ("z1", "scale"), ("z2", "scale")]
    fig = assignment_graph(view.effect, view.resolved, units=view.unit_names, factors=view.factor_names,
                           excluded=rel.flagged)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "orientation" not in labels and {"shape", "scale", "z0", "z3"} <= set(labels)
    assert "left out (unreliable readout): orientation" in fig.axes[0].get_legend().get_title().get_text()
    plt.close(fig)
    m = _model()
    fig = effect_heatmap(m.effect, m.low, m.high, units=m.unit_names, outcomes=m.outcome_names, scale=m.scale,
                         floor=rel.floor, unreliable=rel.flagged_columns)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[3] == "orientation\n(unreliable)"
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "n.s." in texts and "< floor" in texts and "~0" not in texts  # z3: 0.05 ± 0.1 is n.s., 0.15 ± 0.1 is < floor 0.1
    assert "effect (outcome standard deviations)" in fig.axes[1].get_ylabel()
    plt.close(fig)


def test_reliability_table_and_scores_beside_their_ceiling():
    rows = reliability_rows(_reliability())
    assert [r["kept"] for r in rows] == ["yes", "yes", "no (< 0.8)"]
    assert rows[2]["floor (SD)"] == pytest.approx(0.3) and rows[0]["oracle leakage (SD)"] == 0.0
    table = score_rows({"beta-VAE": {"MIG": 0.2}, "oracle": {"MIG": 0.9}}, model="beta-VAE")
    assert table == [{"score": "MIG", "beta-VAE": 0.2, "oracle (ceiling)": 0.9}]


def test_provenance_keys(tmp_path):
    block = provenance({"seed": 0, "vae": {"steps": 3}})
    assert {"package", "python", "libraries", "git", "device", "time", "config_sha256"} <= set(block)
    assert block["libraries"]["jax"] and block["device"]["backend"] and block["time"].endswith("+00:00")
    assert block["config_sha256"] == config_hash({"vae": {"steps": 3}, "seed": 0}) != config_hash({"seed": 1})
    json.dumps(block)
    assert git_revision(tmp_path) is None  # not a checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run(git + ["add", "f"], check=True)
    subprocess.run(git + ["commit", "-qm", "c"], check=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert git_revision(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "f").write_text("2")
    assert git_revision(tmp_path)["dirty"]


def test_anchors_follow_github():
    assert anchor("Training the beta-VAE (β = 4)") == "training-the-beta-vae-β--4"
    assert anchor("Reference audits on the oracles") == "reference-audits-on-the-oracles"
