"""Data parallelism: a 2-device run equals the 1-device run (2 CPU devices forced in a subprocess)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TWO_DEVICE_SCRIPT = """
import jax, numpy as np
assert jax.device_count() == 2, jax.devices()
from _train_toy import ToyTask, toy_batch
from genstyle_causal.train import TrainConfig, fit
kw = dict(steps=6, steps_per_call=3, log_every=3, progress=False)
one, h1 = fit(ToyTask(), toy_batch, TrainConfig(**kw))
two, h2 = fit(ToyTask(), toy_batch, TrainConfig(data_parallel=True, **kw))
assert two.params["w"].sharding.is_fully_replicated
# same maths, different reduction order across devices: equal within float32 rounding
np.testing.assert_allclose(np.asarray(two.params["w"]), np.asarray(one.params["w"]), rtol=1e-5, atol=1e-6)
np.testing.assert_allclose([r["loss"] for r in h2], [r["loss"] for r in h1], rtol=1e-5)
# a batch the devices cannot split evenly is refused with a named error
from genstyle_causal.errors import ShapeError
try:
    fit(ToyTask(), lambda k: toy_batch(k, 7), TrainConfig(data_parallel=True, **kw))
except ShapeError as e:
    assert "divisible by the 2 devices" in str(e), e
else:
    raise AssertionError("odd batch accepted")
print("OK")
"""


def test_two_devices_equal_one_device():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}",
    }
    out = subprocess.run([sys.executable, "-c", TWO_DEVICE_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]

