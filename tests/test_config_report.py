"""Config loading/overrides and the report writer."""

import dataclasses
import json

import numpy as np
import pytest

from genstyle_causal.config import load_config, to_dict
from genstyle_causal.errors import ConfigError, ShapeError
from genstyle_causal.report import Report, effect_heatmap, image_grid, influence_maps, loss_curves


@dataclasses.dataclass(frozen=True)
class Inner:
    steps: int = 10
    lr: float = 1e-3


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str = "run"
    verbose: bool = False
    sizes: tuple[int, ...] = (1, 2)
    seed: int | None = None
    train: Inner = dataclasses.field(default_factory=Inner)


def test_defaults_file_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('name = "from-file"\n[train]\nsteps = 50\n')
    cfg = load_config(Outer, path, ["train.lr=0.5", "verbose=true", "sizes=3,4,5", "seed=7"])
    assert cfg == Outer("from-file", True, (3, 4, 5), 7, Inner(50, 0.5))
    assert to_dict(cfg)["train"] == {"steps": 50, "lr": 0.5}
    (tmp_path / "c.json").write_text(json.dumps({"train": {"steps": 3}}))
    assert load_config(Outer, tmp_path / "c.json").train.steps == 3


def test_bad_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'train.stps'.*'train.steps'"):
        load_config(Outer, overrides=["train.stps=3"])
    with pytest.raises(ConfigError, match="'train.steps' expects int; got 'many'"):
        load_config(Outer, overrides=["train.steps=many"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Outer, overrides=["verbose"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(Outer, bad)
    (tmp_path / "extra.json").write_text('{"colour": 1}')
    with pytest.raises(ConfigError, match="unknown config key 'colour'"):
        load_config(Outer, tmp_path / "extra.json")


def test_report_embeds_every_figure_and_survives_partial_runs(tmp_path):
    rep = Report(tmp_path, "Audit")
    rep.section("Samples").figure(image_grid(np.random.rand(2, 3, 8, 8, 1)), "grid", "two rows")
    html_after_one = rep.html_path.read_text()
    assert "data:image/png;base64" in html_after_one  # readable already after the first figure
    eff = np.array([[1.0, 0.0], [0.0, -2.0]])
    rep.section("Effects").figure(effect_heatmap(eff, eff - 0.1, eff + 0.1, units=["a", "b"], outcomes=["x", "y"]), "heat")
    rep.figure(influence_maps(np.random.rand(2, 8, 8), names=["u0", "u1"]), "influence")
    rep.figure(loss_curves({"loss": [3.0, 2.0, 1.0]}), "loss")
    rep.table([{"metric": "MIG", "value": 0.5}], caption="metrics").text("Done: **all** `ok`.")
    rep.add_results(metrics={"MIG": np.float32(0.5)})
    html = rep.html_path.read_text()
    assert html.count("<img") == 4 and "<b>all</b>" in html and "<td>MIG</td>" in html
    md = rep.markdown_path.read_text()
    for name in ("grid", "heat", "influence", "loss"):
        assert f"figures/{name}.png" in md and (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text()) == {"metrics": {"MIG": 0.5}}
    assert not list(tmp_path.glob("**/*.tmp"))
    (tmp_path / "report.html").unlink()
    again = Report.load(tmp_path).render()
    assert again.html_path.read_text() == html and again.results == {"metrics": {"MIG": 0.5}}


def test_figure_shape_errors():
    with pytest.raises(ShapeError, match="rows, cols, H, W"):
        image_grid(np.zeros((2, 8, 8, 1)))
    with pytest.raises(ShapeError, match=r"shape \(2, 1\)"):
        effect_heatmap(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)), units=["a", "b"], outcomes=["x"])
