"""Every notebook in ``notebooks/`` executes top to bottom at its tiny size (``GENSTYLE_NOTEBOOK_SMALL=1``)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["latent_intervention_study", "disentanglement_audit", "style_content_study", "audit_your_own_model", "causal_generators"]


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, monkeypatch, fast_compile_env):
    """Runs in the notebook's folder with the ``python3`` kernel of this interpreter; any cell error fails.

    The kernels share the session's compilation cache: the notebooks compile the same tiny VAE step and renderers.
    """
    for var, value in fast_compile_env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("GENSTYLE_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOKS.parent))  # the package is used from the checkout
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 1, f"{name} showed no figure inline"
