"""A PyTorch generator driven by the audit through host callbacks (skipped without torch).

Known answer: an equivalent JAX generator (same weights, the package's own
transposed-convolution layer) gives the same images, the same interventions at
the named internal layer and the same effect matrices, up to float rounding.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genstyle_causal.adapters import torch_generator  # noqa: E402
from genstyle_causal.causal import Ablate, effect_matrix, hybridization_matrix, intervene  # noqa: E402
from genstyle_causal.errors import ConfigError, LayerError, ShapeError  # noqa: E402
from genstyle_causal.generator import Generator, Stage  # noqa: E402
from genstyle_causal.models.layers import up_conv  # noqa: E402
from genstyle_causal.models.vae import StandardNormal  # noqa: E402

Z = jax.random.normal(jax.random.key(1), (6, 3), jnp.float32)


class TorchDecoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 8 * 4 * 4)
        self.up1 = torch.nn.ConvTranspose2d(8, 4, 4, 2, 1)
        self.up2 = torch.nn.ConvTranspose2d(4, 1, 4, 2, 1)

    def forward(self, z):
        h = torch.relu(self.fc(z)).view(-1, 8, 4, 4)
        return torch.sigmoid(self.up2(torch.relu(self.up1(h))))


torch.manual_seed(0)
MODULE = TorchDecoder().eval()


def jax_twin(module) -> Generator:
    """The same decoder in JAX, channels-last, with stages at the same names."""
    p = {k: jnp.asarray(v.detach().numpy()) for k, v in module.state_dict().items()}

    def up1(p, z):
        h = jax.nn.relu(z @ p["fc.weight"].T + p["fc.bias"]).reshape(-1, 8, 4, 4).transpose(0, 2, 3, 1)
        return up_conv(h, p["up1.weight"].transpose(2, 3, 0, 1)) + p["up1.bias"]

    def image(p, h):
        return jax.nn.sigmoid(up_conv(jax.nn.relu(h), p["up2.weight"].transpose(2, 3, 0, 1)) + p["up2.bias"])

    return Generator([Stage("up1", up1), Stage("image", image)], p, latent_names=["z0", "z1", "z2"],
                     prior=StandardNormal(3), name="twin")


GEN, TWIN = torch_generator(MODULE, 3, layers=["up1"]), jax_twin(MODULE)


def outcome(x):
    return jnp.stack([x[:, :8].mean(axis=(1, 2, 3)), x[:, 8:].mean(axis=(1, 2, 3))], axis=1)


def test_same_images_as_the_module():
    with torch.no_grad():
        expected = MODULE(torch.from_numpy(np.array(Z))).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(GEN(Z), expected)
    np.testing.assert_array_equal(jax.jit(lambda g, z: g(z))(GEN, Z), expected)
    np.testing.assert_allclose(TWIN(Z), expected, atol=1e-6)
    np.testing.assert_array_equal(jax.jit(jax.vmap(GEN))(jnp.stack([Z, Z])), np.stack([expected, expected]))
    assert GEN.layer_names == ("latent", "up1", "image")


def test_same_interventions_and_effects_as_the_jax_twin():
    ablate = Ablate("up1", jnp.array([0, 3]))
    np.testing.assert_allclose(intervene(GEN, Z, ablate), intervene(TWIN, Z, ablate), atol=1e-6)
    key = jax.random.key(0)
    a = effect_matrix(GEN, outcome, key=key, n=32, num_bootstrap=100)
    b = effect_matrix(TWIN, outcome, key=key, n=32, num_bootstrap=100)
    np.testing.assert_allclose(a.effect, b.effect, atol=1e-5)
    np.testing.assert_allclose(a.low, b.low, atol=1e-5)
    assert np.abs(a.effect).max() > 1e-3
    groups = [[0, 1], [2, 3]]
    ha = hybridization_matrix(GEN, outcome, "up1", groups, key=key, n=16, num_bootstrap=100)
    hb = hybridization_matrix(TWIN, outcome, "up1", groups, key=key, n=16, num_bootstrap=100)
    np.testing.assert_allclose(ha.effect, hb.effect, atol=1e-5)


def test_default_layers_and_one_forward_pass_per_run():
    gen = torch_generator(MODULE, 3)
    assert gen.layer_names == ("latent", "fc", "up1", "up2", "image")
    calls = []
    handle = MODULE.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[0]))
    try:
        gen(Z)
        jax.jit(lambda g, z: g.run(z, start="fc"))(gen, gen.run(Z, stop="fc"))
    finally:
        handle.remove()
    assert calls == [6, 6, 6]  # one pass per run, however many stages it spans


class Flat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 16)
        self.skip = torch.nn.Linear(3, 16)

    def forward(self, z):
        return self.fc(z) + self.skip(z)


def test_bad_modules_and_layers():
    with pytest.raises(ConfigError, match="training mode; call module.eval"):
        torch_generator(TorchDecoder(), 3)
    with pytest.raises(LayerError, match=r"layer 'up3' .* valid layers: \['fc', 'up1', 'up2'\]"):
        torch_generator(MODULE, 3, layers=["up3"])
    with pytest.raises(ShapeError, match=r"must output an image batch \(n, C, H, W\).*\(2, 16\)"):
        torch_generator(Flat().eval(), 3)
    flat_image = torch.nn.Sequential(Flat(), torch.nn.Unflatten(1, (1, 4, 4))).eval()
    with pytest.raises(LayerError, match="'0.fc' of 'Sequential' does not cut the forward pass"):
        torch_generator(flat_image, 3, layers=["0.fc"])
