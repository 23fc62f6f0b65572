"""Every benchmark module imports against the package as it is now (a renamed helper breaks them silently otherwise)."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")
                    if p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_module_imports(name):
    importlib.import_module(f"benchmarks.{name}")
