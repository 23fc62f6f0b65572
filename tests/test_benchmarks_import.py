"""Every benchmark module imports against the package as it is now (a renamed helper breaks them silently
otherwise), and every ``bench_*`` script has the ``main`` that ``python -m benchmarks`` runs."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")
                    if p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_module_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert not name.startswith("bench_") or callable(getattr(module, "main", None))
