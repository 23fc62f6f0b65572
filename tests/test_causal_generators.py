"""The causal-generators study: its checks, its command's errors, and the probe-read factor distribution."""

import json

import numpy as np
import pytest

from genstyle_causal.causal_generators import CausalGeneratorsConfig
from genstyle_causal.learned_audits import factor_distribution_distance
from genstyle_causal.cli import main
from genstyle_causal.data import DSprites


class _FixedReader:
    """A stand-in probe whose class readings are given."""

    def __init__(self, classes):
        self.classes = np.asarray(classes, np.int32)

    def predict_classes(self, images):
        return self.classes


def test_factor_distribution_distance_known_values():
    data = DSprites(size=16)
    sizes = [f.size for f in data.factors]  # 3, 6, 40, 32, 32
    n = 3 * 6 * 40 * 32
    uniform = np.stack([np.arange(n) % s for s in sizes], axis=1)
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in factor_distribution_distance(_FixedReader(uniform), None, data).values())
    # every image read as class 0: total variation 1 − 1/K for a K-valued factor
    tv = factor_distribution_distance(_FixedReader(np.zeros((10, 5))), None, data)
    assert tv == pytest.approx({f.name: 1 - 1 / f.size for f in data.factors})


@pytest.mark.parametrize("setting, message", [
    ("gan.image_size=48", "gan.image_size must be 16, 32 or 64; got 48"),
    ("gan.eval_every=0", "gan.eval_every must lie in 1..gan.steps"),
    ("causalvae.edges=random", "causalvae.edges must be one of ('order', 'free'); got 'random'"),
    ("gan.depth=3", "unknown config key 'gan.depth'"),
])
def test_bad_settings_are_one_line_and_write_nothing(setting, message, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["causal-generators", "--out", str(out), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_defaults_are_valid_and_documented(capsys):
    cfg = CausalGeneratorsConfig()
    assert cfg.gan.categorical == (3,) and cfg.causalvae.edges == "order"
    assert main(["causal-generators", "--show-config"]) == 0
    assert '"causalvae"' in capsys.readouterr().out
    for key in ("gan.*", "probe.*", "dissect.*", "metrics.*", "causalvae.*"):
        assert key in CausalGeneratorsConfig.__doc__


TINY = ["gan.image_size=16", "gan.width=8", "gan.steps=4", "gan.batch_size=8", "gan.eval_every=2",
        "gan.eval_samples=32", "probe.steps=4", "probe.batch_size=8", "dissect.samples=16", "dissect.modules=2",
        "dissect.bootstrap=20", "metrics.samples=200", "metrics.votes=20", "metrics.names=mig",
        "causalvae.image_size=16", "causalvae.steps=4", "causalvae.batch_size=8", "causalvae.samples=16",
        "causalvae.bootstrap=20"]


@pytest.mark.slow
def test_tiny_study_runs_end_to_end_and_reports_its_checks(tmp_path, capsys):
    out = tmp_path / "study"
    args = ["causal-generators", "--out", str(out)]
    for item in TINY:
        args += ["--set", item]
    assert main(args) == 0, capsys.readouterr().err[-3000:]
    html = (out / "report.html").read_text()
    assert '<section class="findings"' in html and "CausalVAE learns the pendulum DAG" in html
    results = json.loads((out / "results.json").read_text())
    assert {"gan", "dissection", "causalvae", "causalvae_audit", "seconds", "provenance"} <= set(results)
    assert list(results["seconds"]) == ["train_gan", "train_probe", "gan_factors", "infogan_metrics", "dissect",
                                        "styleshapes_gan", "train_causalvae", "audit_causalvae"]
