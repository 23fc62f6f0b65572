"""``audit --set generator=MODULE:FACTORY --set data=FILE``: an outside model and a labelled data file through the CLI."""

import json
import sys
import textwrap

import numpy as np
import pytest

from genstyle_causal.cli import main
from tests._dsprites_file import SMALL, dsprites_arrays

FACTORY = textwrap.dedent('''
    import jax
    from flax import nnx
    from genstyle_causal.adapters import nnx_generator

    class Decoder(nnx.Module):
        def __init__(self, rngs):
            self.fc = nnx.Linear(3, 4 * 4 * 8, rngs=rngs)
            self.up = nnx.ConvTranspose(8, 1, (4, 4), strides=(4, 4), rngs=rngs)

        def __call__(self, z):
            return jax.nn.sigmoid(self.up(jax.nn.relu(self.fc(z)).reshape(-1, 4, 4, 8)))

    def make():
        return nnx_generator(Decoder(nnx.Rngs(0)), 3, name="outside-decoder")

    def not_a_generator():
        return 42
''')


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byo")
    (folder / "outside_model.py").write_text(FACTORY)
    np.savez(folder / "dsprites.npz", **dsprites_arrays(SMALL))
    return folder


def test_outside_model_and_data_file_go_through_the_audit(files, tmp_path):
    out = tmp_path / "audit"
    argv = ["audit", "--out", str(out), "--set", f"generator={files}/outside_model.py:make",
            "--set", f"data={files}/dsprites.npz", "--set", "samples=16", "--set", "bootstrap=20",
            "--set", "traversal_values=3", "--set", "probe_steps=3", "--set", "probe_batch_size=8"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["generator"] == "outside-decoder" and results["dataset"] == "dsprites"
    assert results["outcome"] == "probe"  # a data file has no analytic readout
    effects = results["audit"]["effects"]
    assert effects["unit_names"] == ["z0", "z1", "z2"]
    assert {name.split(":")[0] for name in effects["outcome_names"]} == {"shape", "scale", "orientation", "posX", "posY"}
    assert (out / "report.html").is_file()


@pytest.mark.parametrize("sets, message", [
    (["generator=no_such_module:make"], "generator 'no_such_module:make': cannot import 'no_such_module'"),
    (["generator={files}/outside_model.py:missing"], "outside_model.py' has no callable 'missing'"),
    (["generator={files}/outside_model.py:not_a_generator", "data={files}/dsprites.npz"],
     "returned int, not a Generator"),
    (["generator={files}/outside_model.py:make"], "makes images (16, 16, 1) but dataset 'dsprites' has images (64, 64, 1)"),
    (["data={files}/none.npz"], "data file not found: {files}/none.npz"),
    (["data={files}/dsprites.npz", "dataset=pendulum"], "set either dataset= (procedural) or data= (a file)"),
    (["data={files}/dsprites.npz", "outcome=readout"], "has no analytic readout; use outcome=probe"),
])
def test_bad_generators_and_data_files(sets, message, files, tmp_path, capsys):
    out = tmp_path / "audit"
    argv = ["audit", "--out", str(out)]
    for s in sets:
        argv += ["--set", s.format(files=files)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message.format(files=files) in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing written


def test_a_module_in_the_current_directory_is_importable(files, monkeypatch):
    from genstyle_causal.generator import Generator
    from genstyle_causal.registry import import_factory

    monkeypatch.chdir(files)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(files))])
    assert isinstance(import_factory("outside_model:make")(), Generator)
