"""Packaging promises: the causal package imports without the training stack."""

import json
import subprocess
import sys


def test_causal_imports_without_the_training_stack():
    heavy = ["flax", "optax", "orbax.checkpoint", "genstyle_causal.train", "genstyle_causal.models", "dowhy",
             "matplotlib", "sklearn"]
    code = ("import json, sys, genstyle_causal.causal; "
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
